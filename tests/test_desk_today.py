"""The desk's day at the branch: checking patrons in, marking sessions, and recording walk-ins."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Status, WalkIn

from .factories import local, make_appointment, make_user, next_weekday

pytestmark = pytest.mark.django_db


def test_desk_checks_a_patron_in_with_a_post_that_records_who(client, librarian, topic, branch):
    session = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=timezone.now() - timedelta(minutes=10),
    )
    desk = make_user("frontdesk", groups=("Desk",))
    client.force_login(desk)
    url = reverse("appointments:mark", args=[session.reference])
    assert client.get(url).status_code == 405
    today = client.get(reverse("appointments:today"), {"branch": branch.pk}).content.decode()
    assert session.patron.name in today
    client.post(url, {"outcome": "attended"})
    session.refresh_from_db()
    assert session.status == Status.ATTENDED
    assert session.marked_by == desk and session.marked_at is not None
    client.post(url, {"outcome": "nonsense"})
    session.refresh_from_db()
    assert session.status == Status.ATTENDED


def test_a_future_session_cannot_be_marked_as_a_no_show(client, librarian, topic, branch):
    session = make_appointment(
        staff=librarian, topic=topic, branch=branch, start=local(next_weekday(1), 10)
    )
    client.force_login(make_user(groups=("Desk",)))
    client.post(reverse("appointments:mark", args=[session.reference]), {"outcome": "no_show"})
    session.refresh_from_db()
    assert session.status == Status.CONFIRMED


def test_walk_in_help_is_recorded_in_seconds_and_bad_input_saves_nothing(client, topic, branch):
    client.force_login(make_user(groups=("Desk",)))
    url = reverse("appointments:walk_in") + f"?branch={branch.pk}"
    client.post(url, {"topic": topic.pk, "minutes": 15, "skill_level": "new"})
    assert WalkIn.objects.get().minutes == 15
    for bad in [{"minutes": 0}, {"minutes": 999}, {"minutes": "abc"}, {"topic": 999999}]:
        client.post(url, {"topic": topic.pk, "minutes": 10, "skill_level": "some", **bad})
    assert WalkIn.objects.count() == 1


def test_walk_ins_count_in_the_reports(client, topic, branch):
    desk = make_user(groups=("Desk",))
    client.force_login(desk)
    url = reverse("appointments:walk_in") + f"?branch={branch.pk}"
    for minutes in (10, 15):
        client.post(url, {"topic": topic.pk, "minutes": minutes, "skill_level": "new"})
    client.force_login(make_user(groups=("Managers",)))
    page = client.get(reverse("appointments:reports")).content.decode()
    # By topic: nothing booked, two walk-ins, two people helped, 25 minutes (0.4 hours).
    row = re.search(r'<th scope="row">Computer basics</th>(.*?)</tr>', page).group(1)
    assert re.findall(r">([\d.]+)<", row)[-3:] == ["2", "2", "0.4"]
    assert page.count('id="table-topics"') == 1


def test_the_reports_page_title_is_plain_text(client):
    client.force_login(make_user(groups=("Managers",)))
    page = client.get(reverse("appointments:reports")).content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL).group(1)
    assert title.startswith("Reports")
    assert "<" not in title
