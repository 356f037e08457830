"""One gate: the admin, the desk and the private link change sessions under the same rules.

Ana helps with computer basics at Central on Tuesdays and Thursdays, 10 am to noon (the
`librarian` fixture). Whatever page staff use, a session moves only into open time, and a
patron's own limits hold unless a staff member says why.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.booking import (
    PATRON_GONE,
    BookingError,
    record_outcome,
    reschedule_appointment,
)
from appointments.links import private_path
from appointments.models import Appointment, Message, MessageKind, Status
from appointments.privacy import purge
from patrons.models import Patron

from .factories import (
    book,
    local,
    make_branch,
    make_closure,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)
from .test_concurrent_booking import all_at_once

pytestmark = pytest.mark.django_db

TUESDAY, THURSDAY = next_weekday(1), next_weekday(3)


def slot_value(branch, start) -> str:
    """A time as the pickers offer it: with whichever staff member is free."""
    return f"{branch.pk}-0-{int(start.timestamp())}"


def offered_values(page) -> list[str]:
    return re.findall(r'name="slot" id="[^"]+" value="([^"]+)"', page.content.decode())


@pytest.fixture
def desk(client):
    user = make_user("desk", groups=("Desk",))
    client.force_login(user)
    return user


def move_url(session) -> str:
    return reverse("appointments:session_move", args=[session.reference])


def test_adding_a_session_in_the_admin_opens_the_desk_booking_page(client, librarian):
    client.force_login(make_user(groups=("Desk",)))
    response = client.get(reverse("admin:appointments_appointment_add"))
    assert response["Location"] == reverse("appointments:desk")
    client.force_login(librarian.user)
    assert client.get(reverse("admin:appointments_appointment_add")).status_code == 403


def test_the_admin_session_page_does_not_edit_time_staff_patron_or_status(
    client, librarian, topic, branch
):
    session = book(topic=topic, branch=branch, start=local(TUESDAY, 10))
    before = (session.starts_at, session.staff_id, session.patron_id, session.status)
    client.force_login(make_user(groups=("Managers",)))
    response = client.post(
        reverse("admin:appointments_appointment_change", args=[session.pk]),
        {
            "patron": make_patron("Someone Else").pk,
            "skill_level": "new",
            "learning_goal": "Forward emails to my phone",
            "party_size": 2,
            "starts_at_0": TUESDAY.isoformat(),
            "starts_at_1": "07:00",
            "status": Status.CANCELLED,
            "staff": make_staff("Ben K.", branch=branch).pk,
        },
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.starts_at, session.staff_id, session.patron_id, session.status) == before
    assert (session.skill_level, session.party_size) == ("new", 2)
    assert not Message.objects.filter(kind=MessageKind.CANCELLATION).exists()


def test_desk_moves_a_session_to_an_open_time_and_the_patron_is_told(
    client, desk, librarian, topic, branch
):
    session = book(topic=topic, branch=branch, start=local(TUESDAY, 10))
    page = client.get(move_url(session), {"week": TUESDAY.isoformat()})
    eleven = slot_value(branch, local(TUESDAY, 11))
    assert eleven in offered_values(page)
    response = client.post(move_url(session) + f"?week={TUESDAY}", {"slot": eleven})
    assert response["Location"] == reverse("appointments:session", args=[session.reference])
    session.refresh_from_db()
    assert session.starts_at == local(TUESDAY, 11)
    assert Message.objects.filter(appointment=session, kind=MessageKind.CHANGE).exists()


@pytest.mark.parametrize("why", ["outside her hours", "branch closed", "in the past"])
def test_a_staff_move_outside_open_time_is_refused_plainly(
    client, desk, librarian, topic, branch, why
):
    session = book(topic=topic, branch=branch, start=local(TUESDAY, 10))
    target = {
        "outside her hours": local(TUESDAY, 8),
        "branch closed": local(THURSDAY, 10),
        "in the past": timezone.now() - timedelta(days=1),
    }[why]
    make_closure(branch, THURSDAY, reason="Burst pipe")
    response = client.post(move_url(session), {"slot": slot_value(branch, target)})
    assert response.status_code == 200
    assert "That time was just taken. Please choose another time." in response.content.decode()
    session.refresh_from_db()
    assert session.starts_at == local(TUESDAY, 10)


def test_a_staff_move_past_the_daily_limit_needs_a_reason_and_records_who(
    client, desk, librarian, topic, branch, settings
):
    settings.BOOKING_MAX_PER_DAY = 1
    rosa = make_patron("Rosa Martinez")
    book(patron=rosa, topic=topic, branch=branch, start=local(TUESDAY, 10))
    thursday = book(patron=rosa, topic=topic, branch=branch, start=local(THURSDAY, 10))
    eleven = slot_value(branch, local(TUESDAY, 11))
    page = client.post(move_url(thursday), {"slot": eleven}).content.decode()
    assert "Rosa Martinez has 1 already that day" in page
    thursday.refresh_from_db()
    assert thursday.starts_at == local(THURSDAY, 10)

    reason = "Rosa can only come in on Tuesdays"
    client.post(move_url(thursday), {"slot": eleven, "limit_override_reason": reason})
    thursday.refresh_from_db()
    assert thursday.starts_at == local(TUESDAY, 11)
    assert (thursday.limit_override_reason, thursday.limit_lifted_by) == (reason, desk)


def test_a_moved_session_keeps_the_topics_padding_in_the_overlap_rule(client, desk, branch):
    email = make_topic("Email", padding_after=15)
    make_staff("Ana P.", branch=branch, topics=[email], hours=[(1, 10, 13)])
    book(topic=email, branch=branch, start=local(TUESDAY, 10))
    later = book(topic=email, branch=branch, start=local(TUESDAY, 12))
    assert (later.padding_after, later.occupied_until) == (15, local(TUESDAY, 13, 15))
    # 11:00 would start inside the first session's wrap-up time (until 11:15).
    response = client.post(move_url(later), {"slot": slot_value(branch, local(TUESDAY, 11))})
    assert response.status_code == 200
    later.refresh_from_db()
    assert later.starts_at == local(TUESDAY, 12)


def test_a_move_through_the_private_link_respects_the_persons_other_sessions_and_caps(
    client, librarian, topic, branch, settings
):
    """One person, two online bookings under one email (two records), with two librarians."""
    ben = make_staff("Ben K.", branch=branch, topics=[topic], hours=[(1, 10, 12), (2, 10, 12)])
    first = book(
        patron=make_patron("Rosa Martinez", email="rosa@example.org"),
        topic=topic,
        branch=branch,
        start=local(TUESDAY, 10),
        staff=librarian,
    )
    second = book(
        patron=make_patron("Rosa Martinez", email="ROSA@example.org"),
        topic=topic,
        branch=branch,
        start=local(next_weekday(2), 10),
        staff=ben,
    )
    change = private_path(second) + "change/"
    for per_day, start, message in (
        (2, local(TUESDAY, 10), "You already have a session at that time."),
        (1, local(TUESDAY, 11), "We cannot book another session online for these contact details"),
    ):
        settings.BOOKING_MAX_PER_DAY = per_day
        page = client.post(change, {"slot": slot_value(branch, start)}).content.decode()
        assert message in page
        second.refresh_from_db()
        assert second.starts_at == local(next_weekday(2), 10)
    assert first.patron_id != second.patron_id


def test_a_librarian_cannot_move_or_cancel_a_colleagues_session(client, librarian, topic, branch):
    ben = make_staff("Ben K.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    bens = book(topic=topic, branch=branch, start=local(TUESDAY, 10), staff=ben)
    client.force_login(librarian.user)
    assert client.get(move_url(bens)).status_code == 404
    cancel = reverse("appointments:session_cancel", args=[bens.reference])
    assert client.post(cancel).status_code == 404
    bens.refresh_from_db()
    assert bens.status == Status.CONFIRMED
    client.force_login(ben.user)
    page = client.post(cancel).content.decode()
    assert "Say who asked to cancel" in page
    client.post(cancel, {"who": "patron"})
    bens.refresh_from_db()
    assert (bens.status, bens.marked_by) == (Status.CANCELLED, ben.user)
    history = client.get(reverse("admin:appointments_appointment_history", args=[bens.pk]))
    assert "Cancelled at the patron&#x27;s request" in history.content.decode()


def test_checking_in_a_patron_before_the_day_of_their_session_is_refused(
    client, desk, librarian, topic, branch
):
    session = book(topic=topic, branch=branch, start=local(TUESDAY, 10))
    mark = reverse("appointments:mark", args=[session.reference])
    response = client.post(mark, {"outcome": "attended"}, follow=True)
    assert "A patron can be checked in on the day of their session." in response.content.decode()
    session.refresh_from_db()
    assert session.status == Status.CONFIRMED


# --- The purge and a booking of the same patron -------------------------------------------


def due_for_purge(name: str, phone: str = "312-555-0142") -> Patron:
    patron = make_patron(name, email="", phone=phone, preferred_contact="call")
    Patron.objects.filter(pk=patron.pk).update(updated_at=timezone.now() - timedelta(days=400))
    return patron


@pytest.mark.django_db(transaction=True)
def test_purge_and_a_desk_booking_of_the_same_patron_at_once_both_finish_cleanly():
    """Whichever takes the person's lock first, neither fails: the booking keeps the record, or
    the purge removes it first and the desk is told plainly."""
    branch = make_branch()
    topic = make_topic()
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 9, 17)], groups=())
    desk = make_user("desk")
    outcomes = set()
    for hour in range(9, 16):
        patron = due_for_purge(f"Patron {hour}", phone=f"312-555-01{hour:02d}")
        booking, purged = all_at_once(
            [
                lambda patron=patron, hour=hour: book(
                    patron=patron,
                    topic=topic,
                    branch=branch,
                    staff=ana,
                    start=local(TUESDAY, hour),
                    channel="phone",
                    booked_by=desk,
                ),
                purge,
            ]
        )
        assert isinstance(purged, dict), purged
        if isinstance(booking, Appointment):
            assert Patron.objects.filter(pk=patron.pk).exists()
            outcomes.add("booked")
        else:
            assert isinstance(booking, BookingError), booking
            assert booking.message == PATRON_GONE
            assert not Patron.objects.filter(pk=patron.pk).exists()
            outcomes.add("purged first")
    assert outcomes


def test_a_patron_the_desk_has_open_is_kept_by_the_purge(client, desk, librarian, topic):
    luis = due_for_purge("Luis Gómez")
    client.get(reverse("appointments:desk_book", args=[luis.pk]))
    purge()
    assert Patron.objects.filter(pk=luis.pk).exists()


def test_moving_a_session_to_the_time_it_has_changes_nothing(
    client, desk, librarian, topic, branch
):
    session = book(topic=topic, branch=branch, start=local(TUESDAY, 10))
    # The page does not offer it, and a posted one is refused as not on offer...
    response = client.post(move_url(session), {"slot": slot_value(branch, local(TUESDAY, 10))})
    assert response.status_code == 200
    assert "Moved to" not in response.content.decode()
    # ...and the service, the last word, refuses it too.
    with pytest.raises(BookingError, match="The session already has that time."):
        reschedule_appointment(session, branch=branch, starts_at=local(TUESDAY, 10), staff=None)
    assert not Message.objects.filter(appointment=session, kind=MessageKind.CHANGE).exists()


def test_a_librarian_moves_her_own_session_only_within_her_own_schedule(
    client, librarian, topic, branch
):
    make_staff("Ben K.", branch=branch, topics=[topic], hours=[(2, 10, 12)])
    session = book(topic=topic, branch=branch, start=local(TUESDAY, 10), staff=librarian)
    client.force_login(librarian.user)
    page = client.get(move_url(session), {"week": TUESDAY.isoformat()})
    wednesday = local(next_weekday(2), 10)
    assert not [v for v in offered_values(page) if v.endswith(str(int(wednesday.timestamp())))]
    client.post(move_url(session), {"slot": slot_value(branch, wednesday)})
    session.refresh_from_db()
    assert (session.staff, session.starts_at) == (librarian, local(TUESDAY, 10))


@pytest.mark.django_db(transaction=True)
def test_a_desk_cancel_and_a_move_of_one_session_at_once_both_finish_cleanly():
    """Both take the person's lock first: one goes, the other is told plainly, neither errors."""
    branch = make_branch()
    topic = make_topic()
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 9, 17), (3, 9, 17)], groups=())
    desk = make_user("desk")
    for hour in range(9, 15):
        session = book(topic=topic, branch=branch, start=local(TUESDAY, hour))
        results = all_at_once(
            [
                lambda session=session: record_outcome(session, "cancelled", by=desk),
                lambda session=session, hour=hour: reschedule_appointment(
                    session, branch=branch, starts_at=local(THURSDAY, hour), by=desk
                ),
            ]
        )
        for result in results:
            assert not isinstance(result, Exception) or isinstance(result, BookingError), result
        session.refresh_from_db()
        assert session.status == Status.CANCELLED
