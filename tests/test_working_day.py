"""The working day: calendars, check-in, walk-ins, session rules, no-show pauses, waiting list."""

import re
from datetime import UTC, date, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments.booking import BookingError, find_open_slots
from appointments.links import private_path
from appointments.models import (
    Appointment,
    Availability,
    Message,
    MessageKind,
    Status,
    WaitlistEntry,
    WaitlistState,
    WalkIn,
)
from appointments.waitlist import offer_open_times, offer_token

from .factories import (
    CHICAGO,
    book,
    local,
    make_appointment,
    make_block,
    make_branch,
    make_closure,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db
CALENDAR = "admin:appointments_calendar"


# --- Calendars --------------------------------------------------------------------------------


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
    assert "Rosa, new to this, 2 people" in page
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


# --- The day at the branch ---------------------------------------------------------------------


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


# --- Session rules per topic -------------------------------------------------------------------


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


# --- No-shows --------------------------------------------------------------------------------


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


# --- Waiting list ----------------------------------------------------------------------------


def wait(topic, name, **extra):
    return WaitlistEntry.objects.create(
        topic=topic,
        patron=make_patron(name),
        skill_level="new",
        learning_goal="Email",
        party_size=1,
        length=60,
        **extra,
    )


@pytest.fixture
def one_open_time(topic, branch):
    """Ana has exactly one open hour: Tuesday 10 to 11."""
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 11)])
    tuesday = next_weekday(1)
    Availability.objects.filter(staff=ana).update(valid_from=tuesday, valid_until=tuesday)
    return ana


def test_a_freed_time_is_offered_to_exactly_one_patron_at_a_time(topic, branch, one_open_time):
    first, second = wait(topic, "First Waiting"), wait(topic, "Second Waiting")
    assert offer_open_times()["offered"] == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == WaitlistState.OFFERED
    assert second.state == WaitlistState.WAITING
    assert Message.objects.filter(kind=MessageKind.WAITLIST_OFFER, patron=first.patron).count() == 1
    # Held: nobody else sees it, and a second run offers it to nobody else.
    assert (
        find_open_slots(topic, length=60, first_day=next_weekday(1), last_day=next_weekday(1)) == []
    )
    assert offer_open_times()["offered"] == 0


def test_an_offer_not_taken_expires_and_moves_on(topic, branch, one_open_time):
    first, second = wait(topic, "First Waiting"), wait(topic, "Second Waiting")
    offer_open_times()
    later = timezone.now() + timedelta(hours=13)
    WaitlistEntry.objects.filter(pk=first.pk).update(offer_expires_at=later - timedelta(hours=1))
    counts = offer_open_times(now=later)
    assert counts["expired"] == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.state == WaitlistState.OFFERED
    assert first.state == WaitlistState.WAITING


def test_patron_takes_the_offered_time_with_the_private_link(client, topic, branch, one_open_time):
    entry = wait(topic, "Marcus Lee")
    offer_open_times()
    entry.refresh_from_db()
    url = reverse("appointments:waitlist_offer", args=[offer_token(entry)])
    assert "A time has opened for you" in client.get(url).content.decode()
    response = client.post(url, {"answer": "yes"})
    assert response.status_code == 302
    session = Appointment.objects.get()
    assert session.patron == entry.patron and session.starts_at == entry.offer_starts_at
    entry.refresh_from_db()
    assert entry.state == WaitlistState.BOOKED
    assert client.get(url).status_code == 410


def test_an_offer_is_withdrawn_once_the_time_is_booked_another_way(
    client, topic, branch, one_open_time
):
    entry = wait(topic, "Marcus Lee")
    offer_open_times()
    entry.refresh_from_db()
    make_appointment(staff=one_open_time, topic=topic, branch=branch, start=entry.offer_starts_at)
    assert offer_open_times()["withdrawn"] == 1
    entry.refresh_from_db()
    assert entry.state == WaitlistState.WAITING
    url = reverse("appointments:waitlist_offer", args=[offer_token(entry)])
    assert client.post(url, {"answer": "yes"}).status_code in (404, 410)
    assert Appointment.objects.count() == 1


def test_patron_joins_the_waiting_list_when_no_time_suits(client, topic, branch, one_open_time):
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "some", "learning_goal": "Spreadsheets", "party_size": 1},
    )
    url = reverse("appointments:join_waitlist", args=[topic.slug])
    bad = client.post(url, {"name": "Ann", "preferred_contact": "email"})
    assert "Please give an email address or a phone number." in bad.content.decode()
    assert WaitlistEntry.objects.count() == 0
    client.post(
        url,
        {
            "name": "Ann Lee",
            "email": "ann@example.org",
            "preferred_contact": "email",
            "weekdays": ["1", "3"],
        },
    )
    entry = WaitlistEntry.objects.get()
    assert entry.weekdays == [1, 3] and entry.learning_goal == "Spreadsheets"


# --- For managers ------------------------------------------------------------------------------


def test_admin_index_warns_managers_of_topics_with_nothing_to_book(client, librarian, topic):
    make_topic("Word and Excel")
    make_staff("Idle Ian", branch=librarian.branches.get(), topics=[topic])
    client.force_login(make_user(groups=("Managers",)))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Topics with no open time in the next 14 days" in page
    assert "Word and Excel" in page
    assert "Idle Ian" in page
    assert "Open the calendar" in page


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


def test_walk_ins_count_in_the_statistics(client, topic, branch):
    desk = make_user(groups=("Desk",))
    client.force_login(desk)
    url = reverse("appointments:walk_in") + f"?branch={branch.pk}"
    for minutes in (10, 15):
        client.post(url, {"topic": topic.pk, "minutes": minutes, "skill_level": "new"})
    client.force_login(make_user(groups=("Managers",)))
    page = client.get(reverse("appointments:statistics")).content.decode()
    assert re.search(r"Computer basics</th><td>2</td><td>25</td>", page)
