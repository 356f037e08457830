"""The staff calendar: a librarian's own week, the desk's branch day, and booking from it."""

import re
from datetime import UTC, date, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appointments.models import Availability

from .factories import (
    CHICAGO,
    local,
    make_appointment,
    make_block,
    make_branch,
    make_closure,
    make_patron,
    make_staff,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db
CALENDAR = "admin:appointments_calendar"


def test_week_view_shows_every_kind_of_item(client, librarian, topic, branch):
    monday = next_weekday(0)
    tuesday, wednesday, thursday = (monday + timedelta(days=n) for n in (1, 2, 3))
    Availability.objects.create(
        staff=librarian, branch=branch, weekday=2, start_time=time(10), end_time=time(12)
    )
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=local(tuesday, 10),
        patron=make_patron("Rosa Martinez"),
        skill_level="new",
        party_size=2,
    )
    make_block(librarian, local(thursday, 10), local(thursday, 11), reason="Staff meeting")
    make_closure(branch, wednesday, reason="Snow day")
    client.force_login(librarian.user)
    page = client.get(reverse(CALENDAR), {"date": monday.isoformat()}).content.decode()
    assert '<th scope="col">Time</th>' in page
    assert '<th scope="row">10 am</th>' in page
    assert "10 am–11 am Computer basics" in page
    assert "Rosa M., new to this, 2 people" in page
    assert "Martinez" not in page
    assert "Staff meeting" in page
    assert "Snow day" in page
    assert "Block this time" in page
    assert "Book a patron here" not in page  # librarians do not book for patrons


def test_week_view_keeps_local_times_across_the_daylight_saving_change(client, topic):
    branch = make_branch()
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(d, 10, 12) for d in range(7)])
    before = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(date(2026, 10, 31), 10)
    )
    after = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(date(2026, 11, 1), 10)
    )
    # Same wall-clock time, different UTC hours: 15:00 UTC in summer time, 16:00 after.
    assert (before.starts_at.astimezone(UTC).hour, after.starts_at.astimezone(UTC).hour) == (15, 16)
    assert before.starts_at.astimezone(CHICAGO).hour == after.starts_at.astimezone(CHICAGO).hour
    client.force_login(ana.user)
    page = client.get(reverse(CALENDAR), {"date": "2026-10-26"}).content.decode()
    assert page.count("10 am–11 am Computer basics") == 2
    rows = re.findall(r'<th scope="row">([^<]+)</th>', page)
    assert rows[:3] == ["9 am", "9:30 am", "10 am"]


def test_librarian_lands_on_their_own_week_and_cannot_open_a_colleagues(
    client, librarian, topic, branch
):
    colleague = make_staff("Ben O.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    make_block(colleague, local(next_weekday(1), 10), local(next_weekday(1), 11), "Ben's dentist")
    client.force_login(librarian.user)
    page = client.get(reverse(CALENDAR), {"staff": colleague.pk}).content.decode()
    assert "Ana P." in page
    assert "Ben's dentist" not in page


def test_desk_sees_a_branch_day_with_a_column_per_staff_member(client, librarian, topic, branch):
    make_staff("Ben O.", branch=branch, topics=[topic], hours=[(1, 13, 15)])
    client.force_login(make_user(groups=("Desk",)))
    tuesday = next_weekday(1)
    page = client.get(
        reverse(CALENDAR), {"branch": branch.pk, "view": "day", "date": tuesday.isoformat()}
    ).content.decode()
    assert '<th scope="col">Ana P.</th>' in page
    assert '<th scope="col">Ben O.</th>' in page
    assert "Book a patron here" in page
    assert "Block this time" not in page  # the desk does not change staff schedules


def test_the_front_desk_opens_on_its_branch_without_an_empty_column_of_its_own(
    client, librarian, topic, branch
):
    make_staff("Ben O.", branch=branch, topics=[topic], hours=[(1, 13, 15)])
    front_desk = make_staff("Front desk", branch=branch, groups=("Desk",))
    front_desk.is_bookable = False
    front_desk.save()
    client.force_login(front_desk.user)
    page = client.get(reverse(CALENDAR), {"date": next_weekday(1).isoformat()}).content.decode()
    assert "Central Library" in page
    assert '<th scope="col">Ana P.</th>' in page
    assert '<th scope="col">Front desk</th>' not in page
    assert "Week of" in page and ": Front desk" not in page


def test_a_staff_member_who_takes_no_bookings_shows_only_with_sessions_that_week(
    client, librarian, topic, branch
):
    make_staff("Ben O.", branch=branch, topics=[topic], hours=[(1, 13, 15)])
    retired = make_staff("Old hand", branch=branch, topics=[topic])
    retired.is_bookable = False
    retired.save()
    tuesday = next_weekday(1)
    make_appointment(staff=retired, topic=topic, branch=branch, start=local(tuesday, 10))
    client.force_login(make_user(groups=("Desk",)))
    params = {"branch": branch.pk, "view": "week"}
    that_week = client.get(reverse(CALENDAR), {**params, "date": tuesday.isoformat()})
    assert '<th scope="col">Old hand</th>' in that_week.content.decode()
    later = tuesday + timedelta(weeks=1)
    next_week = client.get(reverse(CALENDAR), {**params, "date": later.isoformat()})
    assert '<th scope="col">Old hand</th>' not in next_week.content.decode()
    assert '<th scope="col">Ana P.</th>' in next_week.content.decode()


def test_branch_week_view_takes_the_same_queries_for_more_staff(client, topic, branch):
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    manager = make_user(groups=("Managers",))
    client.force_login(manager)
    url = reverse(CALENDAR)
    params = {"branch": branch.pk, "view": "week", "date": next_weekday(0).isoformat()}
    client.get(url, params)
    with CaptureQueriesContext(connection) as small:
        client.get(url, params)
    for n in range(6):
        person = make_staff(f"Staff {n}", branch=branch, topics=[topic], hours=[(2, 9, 17)])
        make_block(person, local(next_weekday(2), 9), local(next_weekday(2), 10))
    with CaptureQueriesContext(connection) as big:
        response = client.get(url, params)
    assert response.content.decode().count('<th scope="col">Staff ') == 7 * 6
    assert len(big) == len(small)


def test_book_a_patron_here_keeps_the_staff_member_and_week(client, librarian, topic, branch):
    desk = make_user(groups=("Desk",))
    client.force_login(desk)
    tuesday = next_weekday(1)
    page = client.get(
        reverse(CALENDAR), {"branch": branch.pk, "view": "day", "date": tuesday.isoformat()}
    ).content.decode()
    link = (
        re.search(r'href="(/desk/\?[^"]+)">Book a patron here', page).group(1).replace("&amp;", "&")
    )
    rosa = make_patron("Rosa Martinez")
    found = client.post(link, {"q": "Rosa"}).content.decode()
    book_link = (
        re.search(r'href="([^"]+)">Book for Rosa Martinez', found).group(1).replace("&amp;", "&")
    )
    assert f"staff={librarian.pk}" in book_link and f"week={tuesday.isoformat()}" in book_link
    chooser = client.get(book_link).content.decode()
    assert f'name="staff" value="{librarian.pk}"' in chooser
    times = client.get(
        reverse("appointments:desk_book", args=[rosa.pk]),
        {"topic": topic.pk, "staff": librarian.pk, "week": tuesday.isoformat()},
    )
    assert times.context["filter_form"].cleaned_data["staff"] == librarian
    assert all(slot.staff_id == librarian.pk for _, slot in times.context["form"].options)
    assert times.context["week_start"] == tuesday


@pytest.mark.parametrize("bad", ["9999-12-31", "0001-01-01", "2026-02-30", "yesterday", "x" * 500])
def test_calendar_and_today_shrug_off_bad_dates(client, librarian, branch, bad):
    client.force_login(make_user(groups=("Managers",)))
    assert client.get(reverse(CALENDAR), {"date": bad, "branch": branch.pk}).status_code == 200
    assert client.get(reverse("appointments:today"), {"date": bad}).status_code == 200
    assert (
        client.get(reverse("appointments:today"), {"branch": "99999999999999999999"}).status_code
        == 200
    )
