"""The desk follows through: a patron's sessions to move or cancel, calls tried again until
they no longer matter, a session page to prepare from, and a calendar that opens on the week
that matters.

Ana (the `librarian` fixture) teaches computer basics at Central; Ben teaches job search there.
Rosa Martinez books with Ana by phone and is hard of hearing; Marcus Okafor books with Ben.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments import messaging
from appointments.booking import cancel_appointment, reschedule_appointment
from appointments.calendar_view import week_that_matters
from appointments.formatting import format_day, format_when
from appointments.models import Appointment, Message, MessageKind, MessageState, Status

from .factories import (
    CHICAGO,
    book,
    local,
    make_appointment,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db

ROSA_NOTES = "Hard of hearing: please speak up"
ROSA_NEED = "Send photos to my grandson and make video calls"


@pytest.fixture
def desk(db):
    return make_user("maria", groups=("Desk",), first_name="María", last_name="Ruiz")


@pytest.fixture
def rosa(db):
    return make_patron(
        "Rosa Martinez",
        email="",
        phone="312-555-0142",
        preferred_contact="call",
        accessibility_needs=ROSA_NOTES,
    )


@pytest.fixture
def ben(branch):
    return make_staff("Ben K.", branch=branch, topics=[make_topic("Job search")])


def later_today(branch) -> datetime:
    """A time still to come today on the branch's clock, however late the tests run."""
    now = timezone.now().astimezone(branch.tz)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=branch.tz)
    return now + min(timedelta(hours=1), (midnight - now) / 2)


def open_page(client, name: str, *args, **query) -> str:
    response = client.get(reverse(f"appointments:{name}", args=args), query)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- The desk's patron page ----------------------------------------------------------------


def test_desk_sees_a_patrons_upcoming_and_recent_sessions(client, desk, librarian, topic, branch):
    rosa = make_patron("Rosa Martinez")
    coming = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    past = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=rosa,
        start=local(next_weekday(1, weeks_ahead=-3), 10),
        status=Status.ATTENDED,
    )
    client.force_login(desk)
    page = open_page(client, "desk_patron", rosa.pk)
    assert format_when(coming.local_starts_at) in page
    assert format_when(past.local_starts_at) in page
    assert "Computer basics" in page and "Central Library" in page and "Ana P." in page
    assert "Attended" in page
    assert reverse("appointments:session_move", args=[coming.reference]) in page
    assert reverse("appointments:session_cancel", args=[coming.reference]) + "?who=patron" in page
    assert reverse("appointments:session_move", args=[past.reference]) not in page
    assert reverse("appointments:desk_book", args=[rosa.pk]) in page
    assert reverse("appointments:session", args=[coming.reference]) in page


def test_the_patron_page_is_reached_from_find_and_from_booking(client, desk, librarian):
    rosa = make_patron("Rosa Martinez")
    client.force_login(desk)
    found = client.post(reverse("appointments:desk"), {"q": "Rosa"}).content.decode()
    assert reverse("appointments:desk_patron", args=[rosa.pk]) in found
    booking = open_page(client, "desk_book", rosa.pk)
    assert reverse("appointments:desk_patron", args=[rosa.pk]) in booking


def test_desk_cancels_a_session_the_patron_asked_to_cancel(client, desk, librarian, topic, branch):
    rosa = make_patron("Rosa Martinez")
    session = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    client.force_login(desk)
    url = reverse("appointments:session_cancel", args=[session.reference])
    form = client.get(url, {"who": "patron"}).content.decode()
    assert re.search(r'value="patron"[^>]* checked', form)
    response = client.post(url, {"who": "patron"})
    assert response["Location"] == reverse("appointments:session", args=[session.reference])
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    assert Message.objects.filter(appointment=session, kind=MessageKind.CANCELLATION).exists()
    page = open_page(client, "desk_patron", rosa.pk)
    assert "No sessions coming." in page and "Cancelled" in page


def test_desk_moves_a_patrons_session_through_the_service(client, desk, librarian, topic, branch):
    rosa = make_patron("Rosa Martinez")
    tuesday = next_weekday(1)
    session = book(patron=rosa, topic=topic, branch=branch, start=local(tuesday, 10))
    client.force_login(desk)
    url = reverse("appointments:session_move", args=[session.reference])
    eleven = f"{branch.pk}-0-{int(local(tuesday, 11).timestamp())}"
    assert eleven in client.get(url, {"week": tuesday.isoformat()}).content.decode()
    client.post(url + f"?week={tuesday}", {"slot": eleven})
    session.refresh_from_db()
    assert session.starts_at == local(tuesday, 11)
    assert Message.objects.filter(appointment=session, kind=MessageKind.CHANGE).exists()


def test_a_move_tells_the_staff_member_the_old_time_and_the_new(
    client, desk, librarian, topic, branch
):
    librarian.user.email = "ana@library.example"
    librarian.user.save()
    tuesday, thursday = next_weekday(1), next_weekday(3)
    session = book(patron=make_patron(), topic=topic, branch=branch, start=local(tuesday, 10))
    reschedule_appointment(session, branch=branch, starts_at=local(thursday, 11), by=desk)
    to_ana = Message.objects.get(kind=MessageKind.STAFF_MOVED, to="ana@library.example")
    old, new = format_when(local(tuesday, 10)), format_when(local(thursday, 11))
    assert f"Session moved: from {old} to {new}" in to_ana.body
    assert "Central Library" in to_ana.body
    assert to_ana.subject == f"Session moved: {new}"
    # "New session booked" came once, for the booking: a move is no new session.
    assert Message.objects.filter(kind=MessageKind.STAFF_NEW_BOOKING).count() == 1


def test_the_desks_move_page_leaves_out_the_time_the_session_already_has(
    client, desk, librarian, topic, branch
):
    tuesday = next_weekday(1)
    session = book(patron=make_patron(), topic=topic, branch=branch, start=local(tuesday, 10))
    url = reverse("appointments:session_move", args=[session.reference])
    ten, eleven = (int(local(tuesday, hour).timestamp()) for hour in (10, 11))
    client.force_login(desk)
    page = client.get(url, {"week": tuesday.isoformat()}).content.decode()
    assert f"{branch.pk}-0-{eleven}" in page
    assert f'-{ten}"' not in page
    # Ana moving her own session: only her own times, and not the one it has.
    client.force_login(librarian.user)
    page = client.get(url, {"week": tuesday.isoformat()}).content.decode()
    assert f"{branch.pk}-{librarian.pk}-{eleven}" in page
    assert f'-{ten}"' not in page


def test_a_librarian_reaches_her_own_patron_but_not_a_colleagues(
    client, librarian, ben, topic, branch
):
    rosa = make_patron("Rosa Martinez")
    marcus = make_patron("Marcus Okafor")
    mine = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    theirs = make_appointment(
        staff=ben,
        topic=ben.topics.get(),
        branch=branch,
        patron=marcus,
        start=local(next_weekday(2), 10),
    )
    # Rosa also sees Ben: Ana sees Rosa, but not Rosa's session with Ben.
    with_ben = make_appointment(
        staff=ben,
        topic=ben.topics.get(),
        branch=branch,
        patron=rosa,
        start=local(next_weekday(2), 14),
    )
    client.force_login(librarian.user)
    page = open_page(client, "desk_patron", rosa.pk)
    assert reverse("appointments:session", args=[mine.reference]) in page
    assert reverse("appointments:session", args=[with_ben.reference]) not in page
    assert reverse("appointments:desk_book", args=[rosa.pk]) not in page
    assert client.get(reverse("appointments:desk_patron", args=[marcus.pk])).status_code == 404
    assert client.get(reverse("appointments:session", args=[theirs.reference])).status_code == 404


# --- The call list -------------------------------------------------------------------------


def reminder_call(rosa, topic, branch, start) -> Message:
    session = book(patron=rosa, topic=topic, branch=branch, start=start, channel="online")
    return Message.objects.get(appointment=session, kind=MessageKind.CONFIRMATION)


def test_an_unreached_call_stays_with_its_tries_until_the_session_passes(
    client, desk, librarian, topic, branch, rosa
):
    call = reminder_call(rosa, topic, branch, local(next_weekday(1), 10))
    client.force_login(desk)
    mark = reverse("appointments:mark_call", args=[call.pk])
    client.post(mark, {"outcome": "not_reached"})
    client.post(mark, {"outcome": "not_reached"})
    call.refresh_from_db()
    assert (call.state, call.attempts, call.handled_by) == (MessageState.NOT_REACHED, 2, desk)
    page = open_page(client, "calls")
    last = timezone.localtime(call.handled_at)
    assert f"Tried 2 times, last at {last.hour % 12 or 12}:{last.minute:02d}" in page
    assert reverse("appointments:mark_call", args=[call.pk]) in page

    # The session has started: the call no longer matters and leaves the list.
    started = timezone.now() - timedelta(minutes=5)
    Appointment.objects.filter(pk=call.appointment_id).update(
        starts_at=started,
        ends_at=started + timedelta(hours=1),
        occupied_from=started,
        occupied_until=started + timedelta(hours=1),
    )
    assert reverse("appointments:mark_call", args=[call.pk]) not in open_page(client, "calls")
    # The worker then marks it done with, so the purge can delete it in time.
    assert messaging.retire_stale_calls() == 1
    call.refresh_from_db()
    assert call.state == MessageState.SKIPPED


def test_an_unreached_call_about_the_old_time_goes_when_the_session_moves(
    client, desk, librarian, topic, branch, rosa
):
    call = reminder_call(rosa, topic, branch, local(next_weekday(1), 10))
    client.force_login(desk)
    client.post(reverse("appointments:mark_call", args=[call.pk]), {"outcome": "not_reached"})
    reschedule_appointment(call.appointment, branch=branch, starts_at=local(next_weekday(3), 10))
    call.refresh_from_db()
    assert call.state == MessageState.SKIPPED  # nobody rings with the old time
    page = open_page(client, "calls")
    assert reverse("appointments:mark_call", args=[call.pk]) not in page


def test_a_call_to_tell_of_a_cancellation_stays_until_someone_makes_it(
    client, desk, librarian, topic, branch, rosa
):
    session = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    cancel_appointment(session, by_staff=True, by=desk)
    call = Message.objects.get(appointment=session, kind=MessageKind.CANCELLATION)
    started = timezone.now() - timedelta(minutes=5)
    Appointment.objects.filter(pk=session.pk).update(
        starts_at=started,
        ends_at=started + timedelta(hours=1),
        occupied_from=started,
        occupied_until=started + timedelta(hours=1),
    )
    messaging.retire_stale_calls()
    call.refresh_from_db()
    assert call.state == MessageState.TO_CALL
    client.force_login(desk)
    assert reverse("appointments:mark_call", args=[call.pk]) in open_page(client, "calls")


def test_a_call_about_a_cancelled_session_leaves_the_list(
    client, desk, librarian, topic, branch, rosa
):
    call = reminder_call(rosa, topic, branch, local(next_weekday(1), 10))
    client.force_login(desk)
    client.post(reverse("appointments:mark_call", args=[call.pk]), {"outcome": "not_reached"})
    Appointment.objects.filter(pk=call.appointment_id).update(status=Status.CANCELLED)
    assert reverse("appointments:mark_call", args=[call.pk]) not in open_page(client, "calls")


def test_the_desk_undoes_a_call_marked_by_mistake(client, desk, librarian, topic, branch, rosa):
    call = reminder_call(rosa, topic, branch, local(next_weekday(1), 10))
    client.force_login(desk)
    mark = reverse("appointments:mark_call", args=[call.pk])
    undo = reverse("appointments:undo_call", args=[call.pk])
    assert client.get(undo).status_code == 405
    client.post(mark, {"outcome": "called"})
    page = open_page(client, "calls")
    assert "Called in the last day" in page and undo in page
    client.post(undo)
    call.refresh_from_db()
    assert (call.state, call.attempts, call.handled_at) == (MessageState.TO_CALL, 0, None)
    client.post(mark, {"outcome": "not_reached"})
    client.post(mark, {"outcome": "not_reached"})
    client.post(undo)
    call.refresh_from_db()
    assert (call.state, call.attempts) == (MessageState.NOT_REACHED, 1)
    assert "Tried 1 time" in open_page(client, "calls")
    client.post(undo)
    client.post(undo)  # a second click undoes nothing more
    call.refresh_from_db()
    assert (call.state, call.attempts) == (MessageState.TO_CALL, 0)


def test_the_call_list_shows_the_name_a_tel_link_and_notes_on_the_day(
    client, desk, librarian, topic, branch, rosa
):
    today_session = make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=rosa, start=later_today(branch)
    )
    Message.objects.create(
        kind=MessageKind.REMINDER,
        channel="call",
        appointment=today_session,
        patron=rosa,
        to=rosa.phone,
        body="Call Rosa Martinez to remind her.",
        state=MessageState.TO_CALL,
        key="test-reminder",
        send_after=timezone.now(),
    )
    client.force_login(desk)
    page = open_page(client, "calls")
    assert "Rosa Martinez" in page
    assert 'href="tel:+13125550142">(312) 555-0142</a>' in page
    assert ROSA_NOTES in page


def test_the_desk_sees_no_notes_on_the_call_list_before_the_day(
    client, desk, librarian, topic, branch, rosa
):
    reminder_call(rosa, topic, branch, local(next_weekday(1), 10))
    client.force_login(desk)
    page = open_page(client, "calls")
    assert "Rosa Martinez" in page and ROSA_NOTES not in page


# --- Every desk page -----------------------------------------------------------------------


def test_desk_pages_show_who_is_signed_in_and_a_log_out_button(client, desk, librarian, branch):
    client.force_login(desk)
    for name in ("desk", "today", "calls", "desk_add_patron"):
        page = open_page(client, name)
        assert "Signed in as <strong>María Ruiz</strong>" in page, name
        assert f'<form method="post" action="{reverse("admin:logout")}"' in page, name
        assert "Log out" in page and "Staff pages of" in page, name
        assert "Our privacy promise" not in page, name
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 200
    assert client.get(reverse("appointments:today")).status_code == 302


# --- Today and the session page ------------------------------------------------------------


def test_today_shows_the_need_skill_level_and_notes_and_links_each_session(
    client, desk, librarian, topic, branch, rosa
):
    session = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=rosa,
        start=later_today(branch),
        skill_level="new",
        learning_goal=ROSA_NEED,
    )
    client.force_login(desk)
    page = open_page(client, "today", branch=branch.pk)
    assert ROSA_NEED in page and "New to this" in page and ROSA_NOTES in page
    assert reverse("appointments:session", args=[session.reference]) in page


def test_today_keeps_the_need_of_another_day_private(client, desk, librarian, topic, branch, rosa):
    session = book(
        patron=rosa,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        learning_goal=ROSA_NEED,
    )
    client.force_login(desk)
    page = open_page(
        client, "today", branch=branch.pk, date=session.local_starts_at.date().isoformat()
    )
    assert "Rosa Martinez" in page and ROSA_NEED not in page and ROSA_NOTES not in page


def test_the_session_page_shows_the_need_first_and_the_date_in_words(
    client, librarian, topic, branch, rosa
):
    session = book(
        patron=rosa,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        skill_level="new",
        learning_goal="<b>Photos</b> to my grandson",
    )
    client.force_login(librarian.user)
    page = open_page(client, "session", session.reference)
    when = format_when(session.local_starts_at)
    assert when in page
    assert page.index("New to this") < page.index('<dt class="col-sm-3">What</dt>')
    assert "&lt;b&gt;Photos&lt;/b&gt; to my grandson" in page
    assert "<textarea" not in page
    assert reverse("appointments:session_move", args=[session.reference]) in page
    assert reverse("admin:appointments_appointment_change", args=[session.pk]) in page


def test_the_desk_sees_the_session_but_not_the_need_before_the_day(
    client, desk, librarian, topic, branch, rosa
):
    session = book(
        patron=rosa,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        learning_goal=ROSA_NEED,
    )
    client.force_login(desk)
    page = open_page(client, "session", session.reference)
    assert format_when(session.local_starts_at) in page
    assert ROSA_NEED not in page and ROSA_NOTES not in page


# --- The calendar --------------------------------------------------------------------------


def test_the_calendar_tells_two_rosas_apart_and_opens_the_session_page(
    client, desk, librarian, topic, branch
):
    tuesday = next_weekday(1)
    first = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=make_patron("Rosa Martinez"),
        start=local(tuesday, 10),
    )
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=make_patron("Rosa Kim"),
        start=local(tuesday, 11),
    )
    client.force_login(desk)
    page = client.get(
        reverse("admin:appointments_calendar"),
        {"staff": librarian.pk, "date": tuesday.isoformat()},
    ).content.decode()
    assert "Rosa M.," in page and "Rosa K.," in page
    assert reverse("appointments:session", args=[first.reference]) in page


def test_the_calendar_opens_on_next_week_from_friday_evening(monkeypatch, client, librarian):
    saturday = local(next_weekday(5), 12)
    assert week_that_matters(saturday) == next_weekday(0, weeks_ahead=2)
    assert week_that_matters(local(next_weekday(4), 18)) == next_weekday(0, weeks_ahead=2)
    assert week_that_matters(local(next_weekday(4), 11)) == next_weekday(4)
    next_monday = next_weekday(0, weeks_ahead=2)
    monkeypatch.setattr(timezone, "now", lambda: saturday.astimezone(CHICAGO))
    client.force_login(librarian.user)
    page = client.get(reverse("admin:appointments_calendar")).content.decode()
    assert f"Week of {format_day(next_monday)}" in page


def test_past_working_hours_are_not_offered_as_open(client, desk, librarian, branch):
    last_week = next_weekday(1, weeks_ahead=-2)
    client.force_login(desk)
    page = client.get(
        reverse("admin:appointments_calendar"),
        {"staff": librarian.pk, "date": last_week.isoformat()},
    ).content.decode()
    assert 'class="cell-open"' not in page


def test_the_call_list_costs_the_same_queries_for_many_calls(
    client, desk, librarian, topic, branch
):
    def calls_page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("appointments:calls")).status_code == 200
        return len(queries)

    client.force_login(desk)
    today = later_today(branch)

    def phone_patron_booked(n: int, start) -> None:
        patron = make_patron(
            f"Patron {n}",
            email="",
            phone=f"312-555-01{n:02d}",
            preferred_contact="call",
            accessibility_needs="Hard of hearing",
        )
        session = make_appointment(
            staff=librarian, topic=topic, branch=branch, patron=patron, start=start
        )
        messaging.booking_made(session)  # the confirmation call

    phone_patron_booked(1, today)  # on the day: the desk sees the notes
    phone_patron_booked(2, local(next_weekday(1), 10))
    few = calls_page_queries()
    for n in range(3, 9):
        phone_patron_booked(n, local(next_weekday(1) + timedelta(days=7 * n), 10))
    assert Message.objects.filter(channel="call").count() == 8
    assert calls_page_queries() == few
