"""Rules on sessions: padding, changed lengths, late cancellation, caps, the no-show pause."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.booking import BookingError, find_open_slots
from appointments.links import private_path
from appointments.models import Status

from .factories import book, local, make_appointment, make_patron, make_user, next_weekday

pytestmark = pytest.mark.django_db


def test_topic_padding_keeps_time_free_around_sessions(librarian, topic, branch):
    topic.padding_after = 15
    topic.save()
    tuesday = next_weekday(1)
    book(topic=topic, branch=branch, start=local(tuesday, 10))
    starts = [
        s.start for s in find_open_slots(topic, length=60, first_day=tuesday, last_day=tuesday)
    ]
    assert local(tuesday, 11) not in starts  # 10–11 plus 15 minutes of wrap-up
    assert starts == [] or min(starts) >= local(tuesday, 11, 15)


def test_changing_a_topic_leaves_booked_sessions_alone(librarian, topic, branch):
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    topic.session_lengths = [30]
    topic.padding_before = 30
    topic.save()
    session.refresh_from_db()
    assert session.minutes == 60
    assert session.occupied_from == session.starts_at


def test_late_cancellation_is_refused_online_but_staff_can_still_cancel(
    client, librarian, topic, branch
):
    topic.cancel_cutoff_hours = 24
    topic.save()
    soon = timezone.now() + timedelta(hours=5)
    session = make_appointment(staff=librarian, topic=topic, branch=branch, start=soon)
    link = private_path(session)
    response = client.post(link + "cancel/", follow=True)
    assert "too soon to cancel or change online" in response.content.decode()
    session.refresh_from_db()
    assert session.status == Status.CONFIRMED
    client.force_login(make_user(groups=("Desk",)))
    client.post(reverse("appointments:mark", args=[session.reference]), {"outcome": "cancelled"})
    session.refresh_from_db()
    assert session.status == Status.CANCELLED


def test_daily_and_weekly_caps_refuse_online_and_the_desk_overrides_with_a_reason(
    librarian, topic, branch, settings
):
    settings.BOOKING_MAX_UPCOMING = 10
    tuesday, thursday = next_weekday(1), next_weekday(3)
    patron = make_patron("Daily Booker")
    book(patron=patron, topic=topic, branch=branch, start=local(tuesday, 10))
    with pytest.raises(BookingError) as same_day:
        book(patron=patron, topic=topic, branch=branch, start=local(tuesday, 11))
    assert same_day.value.code == "limit"
    book(patron=patron, topic=topic, branch=branch, start=local(thursday, 10))
    with pytest.raises(BookingError) as same_week:
        book(
            patron=patron, topic=topic, branch=branch, start=local(thursday, 11) + timedelta(days=1)
        )
    assert same_week.value.code == "limit"
    assert "call us" in same_week.value.message
    assert patron.appointments.count() == 2
    desk = make_user(groups=("Desk",))
    session = book(
        patron=patron,
        topic=topic,
        branch=branch,
        start=local(tuesday, 11),
        channel="desk",
        booked_by=desk,
        limit_override_reason="Interview on Wednesday",
    )
    assert session.limit_override_reason == "Interview on Wednesday"


def test_repeated_no_shows_pause_online_booking_until_the_desk_lifts_it(
    client, librarian, topic, branch
):
    patron = make_patron("Sam Absent", email="sam@example.org")
    for days_ago in (20, 10):
        make_appointment(
            staff=librarian,
            topic=topic,
            branch=branch,
            patron=patron,
            start=local(timezone.localdate() - timedelta(days=days_ago), 10),
            status=Status.NO_SHOW,
        )
    with pytest.raises(BookingError) as paused:
        book(patron=patron, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    assert paused.value.code == "paused"
    assert "missed" not in paused.value.message  # kind, and says nothing about why
    assert "call us" in paused.value.message
    desk = make_user(groups=("Desk",))
    client.force_login(desk)
    page = client.get(reverse("appointments:desk_book", args=[patron.pk])).content.decode()
    assert "2 missed sessions" in page
    assert "Past sessions: 0 attended, 2 missed." in page
    client.post(reverse("appointments:lift_pause", args=[patron.pk]), {"reason": ""})
    patron.refresh_from_db()
    assert patron.pause_lifted_at is None
    client.post(reverse("appointments:lift_pause", args=[patron.pk]), {"reason": "Was in hospital"})
    patron.refresh_from_db()
    assert patron.pause_lift_reason == "Was in hospital"
    assert book(patron=patron, topic=topic, branch=branch, start=local(next_weekday(1), 10))
