"""A mail outage, and after it: messages that failed go out when mail comes back (if they are
still worth reading), managers can send them again, the desk reaches the patrons of the rest
and marks them handled, and /healthz stays unhealthy until mail works again.

Ana (the `librarian` fixture) teaches computer basics at Central; Ben teaches it too, on
Wednesday afternoons. Marcus Okafor books online by email; Rosa Martinez books by phone.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation

from appointments import messaging
from appointments.booking import cancel_appointment, reschedule_appointment
from appointments.formatting import format_when
from appointments.models import Appointment, Message, MessageKind, MessageState, Status

from .factories import (
    book,
    local,
    make_appointment,
    make_patron,
    make_staff,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db
REFUSED = "ConnectionRefusedError: [Errno 111] Connection refused"


# --- The scene -----------------------------------------------------------------------------


@pytest.fixture
def ana_has_email(librarian):
    librarian.user.email = "ana@library.example"
    librarian.user.save()
    return librarian


@pytest.fixture
def ben(branch, topic):
    ben = make_staff("Ben K.", branch=branch, topics=[topic], hours=[(2, 14, 16), (3, 14, 16)])
    ben.user.email = "ben@library.example"
    ben.user.save()
    return ben


@pytest.fixture
def marcus(db):
    return make_patron("Marcus Okafor", email="marcus@example.org", phone="312-555-0199")


@pytest.fixture
def desk(db):
    return make_user("maria", groups=("Desk",), first_name="María", last_name="Ruiz")


def mail_is_down(settings) -> None:
    """The mail server's port is closed: every connection is refused at once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1


def mail_is_back(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def minutes_pass(minutes: int) -> None:
    """Time moves on for the outbox: every message was written and tried that much earlier."""
    gone = timedelta(minutes=minutes)
    Message.objects.update(
        created_at=F("created_at") - gone,
        send_after=F("send_after") - gone,
        sent_at=F("sent_at") - gone,
    )


def outage_until_failed() -> None:
    """The worker's tries with the defaults: at once, then 2, 4 and 8 minutes later."""
    messaging.send_due()
    for pause in (2, 4, 8):
        minutes_pass(pause)
        messaging.send_due()


def everything_failed(**extra) -> None:
    """Set the scene: every message waiting was tried four times and could not be sent."""
    Message.objects.filter(state=MessageState.PENDING).update(
        **{"state": MessageState.FAILED, "attempts": 4, "last_error": REFUSED, **extra}
    )


def has_begun(session: Appointment, minutes_ago: int = 5) -> None:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    Appointment.objects.filter(pk=session.pk).update(
        starts_at=started,
        ends_at=started + timedelta(hours=1),
        occupied_from=started,
        occupied_until=started + timedelta(hours=1),
    )


def sent_to() -> list[str]:
    return [address for email in mail.outbox for address in email.to]


def health(client) -> tuple[int, str]:
    response = client.get("/healthz")
    return response.status_code, response.content.decode()


# --- When mail comes back ------------------------------------------------------------------


def test_a_confirmation_written_during_an_outage_goes_out_when_mail_comes_back(
    client, settings, ana_has_email, topic, branch, marcus
):
    mail_is_down(settings)
    session = book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    outage_until_failed()
    confirmation = Message.objects.get(appointment=session, kind=MessageKind.CONFIRMATION)
    assert (confirmation.state, confirmation.attempts) == (MessageState.FAILED, 4)
    assert mail.outbox == []

    # Nothing is waiting any more, yet monitoring keeps saying mail is down.
    status, text = health(client)
    assert status == 503
    assert "email messages failing" in text and "none has been sent since" in text

    # Mail is back. The next booking's confirmation goes out, and the failed ones follow it.
    mail_is_back(settings)
    rosa = make_patron("Rosa Martinez", email="rosa@example.org")
    book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(3), 10))
    counts = messaging.send_due()
    assert counts == {"sent": 4, "retry": 0, "failed": 0}
    assert sorted(sent_to()) == sorted(
        ["rosa@example.org", "ana@library.example", "marcus@example.org", "ana@library.example"]
    )
    confirmation.refresh_from_db()
    assert confirmation.state == MessageState.SENT
    status, text = health(client)
    assert status == 200 and text.startswith("ok")


def test_on_a_quiet_evening_the_worker_tries_one_failed_message_every_five_minutes(
    client, settings, ana_has_email, topic, branch, marcus
):
    mail_is_down(settings)
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    outage_until_failed()
    assert Message.objects.filter(state=MessageState.FAILED).count() == 2

    minutes_pass(3)
    assert messaging.send_due() == {"sent": 0, "retry": 0, "failed": 0}  # too soon
    minutes_pass(3)
    # One of them is tried, once, and fails again; the other waits.
    assert messaging.send_due() == {"sent": 0, "retry": 0, "failed": 1}
    assert messaging.send_due() == {"sent": 0, "retry": 0, "failed": 0}
    assert health(client)[0] == 503

    mail_is_back(settings)
    minutes_pass(5)
    assert messaging.send_due() == {"sent": 2, "retry": 0, "failed": 0}
    assert sorted(sent_to()) == ["ana@library.example", "marcus@example.org"]
    assert health(client)[0] == 200


def test_only_messages_still_worth_reading_go_out_again(
    settings, ana_has_email, ben, topic, branch, marcus
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    tuesday, thursday = next_weekday(1), next_weekday(3)
    started = make_appointment(
        staff=ana_has_email, topic=topic, branch=branch, patron=marcus, start=local(tuesday, 11)
    )
    messaging.save_new(
        [messaging._patron_message(started, MessageKind.REMINDER, key="reminder:started")]
    )
    moved = book(
        patron=make_patron("Moved Patron"), topic=topic, branch=branch, start=local(tuesday, 10)
    )
    cancelled = book(
        patron=make_patron("Cancelled Patron"),
        topic=topic,
        branch=branch,
        start=local(thursday, 10),
    )
    cancel_appointment(cancelled, by_staff=True)
    handled_by_phone = book(
        patron=make_patron("Reached Patron"), topic=topic, branch=branch, start=local(thursday, 11)
    )
    everything_failed()
    # The first session has begun; the desk reached one patron by phone; one session moved.
    has_begun(started)
    Message.objects.filter(appointment=handled_by_phone, patron__isnull=False).update(
        handled_at=timezone.now()
    )
    old_confirmation = Message.objects.get(appointment=moved, kind=MessageKind.CONFIRMATION)
    reschedule_appointment(moved, branch=branch, starts_at=local(tuesday, 11))
    old_confirmation.refresh_from_db()
    # It stays failed, for the desk and monitoring to see, but is about the old time.
    assert old_confirmation.state == MessageState.FAILED
    # A message written two days ago is no longer news.
    stale = book(
        patron=make_patron("Old News"),
        topic=topic,
        branch=branch,
        start=local(thursday, 14),
        staff=ben,
    )
    everything_failed()
    Message.objects.filter(appointment=stale).update(created_at=timezone.now() - timedelta(days=2))
    minutes_pass(10)  # the worker tries again: mail is back

    messaging.send_due()

    def state(appointment, kind):
        return Message.objects.get(appointment=appointment, kind=kind).state

    assert state(started, MessageKind.REMINDER) == MessageState.FAILED
    assert state(moved, MessageKind.CHANGE) == MessageState.SENT
    assert state(moved, MessageKind.CONFIRMATION) == MessageState.FAILED  # the old time: never
    assert state(cancelled, MessageKind.CANCELLATION) == MessageState.SENT
    assert state(cancelled, MessageKind.CONFIRMATION) == MessageState.SKIPPED
    assert state(handled_by_phone, MessageKind.CONFIRMATION) == MessageState.FAILED
    assert state(stale, MessageKind.CONFIRMATION) == MessageState.FAILED
    subjects = [email.subject for email in mail.outbox]
    assert "Reminder: your library help session" not in subjects
    assert "Your library help session is booked" not in subjects


def test_a_refused_address_is_not_sent_again_by_itself_and_keeps_monitoring_green(
    client, settings, ana_has_email, topic, branch, marcus
):
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed(
        last_error="SMTPRecipientsRefused: {'marcus@example.org': (550, b'No such user')}",
        send_after=timezone.now(),
    )
    # The mail server answered: the address is wrong, not the mail server.
    assert health(client)[0] == 200
    mail_is_back(settings)
    minutes_pass(10)
    assert messaging.send_due() == {"sent": 0, "retry": 0, "failed": 0}


def test_the_reasons_are_in_plain_words():
    def reason(error: str, channel: str = "email") -> str:
        return messaging.failure_reason(Message(channel=channel, last_error=error))

    assert reason(REFUSED) == "The mail server could not be reached."
    assert reason("TimeoutError: timed out") == "The mail server could not be reached."
    assert reason("SMTPRecipientsRefused: {...}") == "The address was refused."
    assert reason("SMTPAuthenticationError: (535, b'bad')") == (
        "The mail server refused the library's sign-in."
    )
    assert reason("TextSendError: down", "text").startswith("The text message service")


# --- Send again, from the admin ------------------------------------------------------------


def test_a_manager_sends_failed_messages_again_and_is_told_which_could_not_go(
    client, settings, ana_has_email, topic, branch, marcus
):
    mail_is_back(settings)
    coming = book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    begun = book(
        patron=make_patron("Rosa Martinez"),
        topic=topic,
        branch=branch,
        start=local(next_weekday(3), 10),
    )
    everything_failed()
    has_begun(begun, minutes_ago=30)
    failed = list(Message.objects.filter(state=MessageState.FAILED).order_by("pk"))
    changelist = reverse("admin:appointments_message_changelist")

    # The desk reads the log but cannot send again.
    client.force_login(make_user(groups=("Desk",)))
    assert "Send again" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "send_again", "_selected_action": [m.pk for m in failed]})
    assert Message.objects.filter(state=MessageState.FAILED).count() == 4

    client.force_login(make_user(groups=("Managers",)))
    assert "Send again" in client.get(changelist).content.decode()
    response = client.post(
        changelist,
        {"action": "send_again", "_selected_action": [m.pk for m in failed]},
        follow=True,
    )
    page = response.content.decode()
    assert "2 messages will be sent again in a moment." in page
    assert "2 messages were not sent again" in page
    assert "Reach the patrons another way" in page
    queued = Message.objects.filter(state=MessageState.PENDING)
    assert {m.appointment_id for m in queued} == {coming.pk}
    assert messaging.send_due()["sent"] == 2
    assert sorted(sent_to()) == ["ana@library.example", "marcus@example.org"]


# --- The desk's call list ------------------------------------------------------------------


def test_the_desk_sees_whom_to_reach_and_marks_a_failed_message_handled(
    client, settings, desk, ana_has_email, topic, branch, marcus
):
    session = book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed()
    confirmation = Message.objects.get(appointment=session, kind=MessageKind.CONFIRMATION)
    client.force_login(desk)
    page = client.get(reverse("appointments:calls")).content.decode()
    assert "Marcus Okafor" in page
    assert 'href="tel:+13125550199">(312) 555-0199</a>' in page
    assert f"Computer basics, {format_when(session.local_starts_at)}, Central Library" in page
    assert reverse("appointments:session", args=[session.reference]) in page
    assert "The mail server could not be reached." in page
    assert "It will be sent by itself when this works again." in page
    assert "ConnectionRefusedError" not in page and "Errno" not in page
    # Ana's "new session" notice is not a patron to reach: it is counted apart.
    assert "ana@library.example" not in page
    assert "1 message to staff could not be sent in the last week" in page
    staff_only = reverse("admin:appointments_message_changelist")
    staff_only += "?state__exact=failed&recipient=staff"
    assert staff_only.replace("&", "&amp;") in page
    log = client.get(staff_only)
    assert log.status_code == 200
    assert "ana@library.example" in log.content.decode()
    assert "marcus@example.org" not in log.content.decode()

    mark = reverse("appointments:mark_failed_handled", args=[confirmation.pk])
    assert client.get(mark).status_code == 405
    client.post(mark)
    confirmation.refresh_from_db()
    assert confirmation.handled_by == desk and confirmation.handled_at is not None
    assert confirmation.state == MessageState.FAILED
    page = client.get(reverse("appointments:calls")).content.decode()
    assert "Handled in the last day" in page
    assert "Marcus Okafor, booking for" in page  # with its Undo
    assert 'Handled<span class="visually-hidden">: Marcus Okafor' not in page
    # Handled the desk's way: when mail comes back it does not go out on top.
    mail_is_back(settings)
    assert messaging.send_again_after_outage("email") == 1  # Ana's notice only
    confirmation.refresh_from_db()
    assert confirmation.state == MessageState.FAILED

    client.post(mark, {"undo": "1"})
    confirmation.refresh_from_db()
    assert confirmation.handled_at is None


def test_a_librarian_sees_no_failed_message_about_a_colleagues_patron(
    client, ana_has_email, ben, topic, branch, marcus
):
    rosa = make_patron("Rosa Martinez", phone="312-555-0142")
    book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    bens = book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(2), 14))
    assert bens.staff == ben
    everything_failed()

    # A librarian has no call list.
    client.force_login(ana_has_email.user)
    assert client.get(reverse("appointments:calls")).status_code == 403
    # A librarian also allowed to book at the desk sees only her own patron's message.
    ana = ana_has_email.user
    ana.user_permissions.add(Permission.objects.get(codename="book_for_patron"))
    client.force_login(ana)
    page = client.get(reverse("appointments:calls")).content.decode()
    assert "Rosa Martinez" in page and "(312) 555-0142" in page
    assert "Marcus Okafor" not in page and "555-0199" not in page
    marcus_message = Message.objects.get(patron=marcus, kind=MessageKind.CONFIRMATION)
    client.post(reverse("appointments:mark_failed_handled", args=[marcus_message.pk]))
    marcus_message.refresh_from_db()
    assert marcus_message.handled_at is None


# --- The admin home ------------------------------------------------------------------------


def test_the_admin_home_counts_failed_messages_under_needs_attention(
    client, desk, ana_has_email, topic, branch, marcus
):
    client.force_login(desk)
    assert "could not be sent" not in client.get(reverse("admin:index")).content.decode()
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed()
    page = client.get(reverse("admin:index")).content.decode()
    assert "Needs attention" in page
    assert "2 messages in the last week could not be sent" in page
    assert reverse("admin:appointments_message_changelist") + "?state__exact=failed" in page
    assert reverse("appointments:calls") + "#not-sent" in page
    # A librarian reads no message log: nothing about it on her home page.
    client.force_login(ana_has_email.user)
    assert "could not be sent" not in client.get(reverse("admin:index")).content.decode()


# --- A session moved to another staff member -----------------------------------------------


def test_the_staff_member_a_session_leaves_is_told(
    client, desk, ana_has_email, ben, topic, branch, marcus
):
    tuesday, wednesday = next_weekday(1), next_weekday(2)
    session = book(
        patron=marcus,
        topic=topic,
        branch=branch,
        start=local(tuesday, 10),
        learning_goal="My résumé is ten years old",
    )
    client.force_login(desk)
    url = reverse("appointments:session_move", args=[session.reference])
    # Wednesday afternoon only Ben works.
    to_ben = f"{branch.pk}-0-{int(local(wednesday, 14).timestamp())}"
    assert to_ben in client.get(url, {"week": wednesday.isoformat()}).content.decode()
    client.post(url + f"?week={wednesday}", {"slot": to_ben})
    session.refresh_from_db()
    assert session.staff == ben

    left = Message.objects.get(kind=MessageKind.STAFF_MOVED, to="ana@library.example")
    old = format_when(local(tuesday, 10))
    assert left.subject == f"Session moved to another staff member: {old}"
    assert f"A help session has left your schedule: Computer basics, {old}" in left.body
    assert "It was moved to Ben K." in left.body
    assert "Marcus" not in left.body and "résumé" not in left.body
    assert left.staff_user == ana_has_email.user and left.patron is None
    new = Message.objects.get(kind=MessageKind.STAFF_NEW_BOOKING, to="ben@library.example")
    assert new.appointment == session

    # The worker sends it like any staff message.
    messaging.send_due()
    assert any(e.subject == left.subject and e.to == ["ana@library.example"] for e in mail.outbox)


def test_a_patron_who_moves_to_another_staff_members_time_tells_the_old_one(
    client, ana_has_email, ben, topic, branch
):
    from appointments.links import private_path

    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    link = private_path(session)
    wednesday = next_weekday(2)
    page = client.get(link + "change/", {"week": wednesday.isoformat()})
    value = next(
        v for v, slot in page.context["form"].options if slot.start == local(wednesday, 14)
    )
    assert client.post(link + "change/", {"slot": value}).status_code == 302
    session.refresh_from_db()
    assert session.staff == ben
    assert Message.objects.filter(
        kind=MessageKind.STAFF_MOVED, to="ana@library.example", appointment=session
    ).exists()


def test_a_move_within_one_staff_members_schedule_sends_no_leaving_notice(
    ana_has_email, topic, branch
):
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    reschedule_appointment(session, branch=branch, starts_at=local(next_weekday(3), 11))
    moved = Message.objects.filter(kind=MessageKind.STAFF_MOVED)
    assert [m.subject.split(":")[0] for m in moved] == ["Session moved"]
    assert Appointment.objects.get().status == Status.CONFIRMED


def test_the_leaving_notice_is_in_the_staff_language_whatever_the_requests(
    ana_has_email, ben, topic, branch
):
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    with translation.override("es"):
        reschedule_appointment(
            session, branch=branch, starts_at=local(next_weekday(2), 14), staff=ben
        )
    left = Message.objects.get(kind=MessageKind.STAFF_MOVED, to="ana@library.example")
    assert left.subject.startswith("Session moved to another staff member: ")
    assert left.body.startswith("A help session has left your schedule")
