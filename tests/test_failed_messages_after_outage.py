"""Failed messages after an outage, against a real mail server on this machine: only those that
never reached it go out again, once each; only to the patron's address of today; "you are on the
waiting list" only while the place is held. And the desk's list of them: the coming sessions
first, the same week as the admin home, and no query per handled row.

Ana (the `librarian` fixture) teaches computer basics at Central, with an email address; Marcus
Okafor and María Sánchez book online by email; Rosa Martinez joins the waiting list.
"""

from __future__ import annotations

import socketserver
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments import messaging
from appointments.booking import reschedule_appointment
from appointments.models import Message, MessageKind, MessageState, WaitlistEntry, WaitlistState
from appointments.texting import MemoryTextBackend
from appointments.waitlist import joined_message

from .factories import book, local, make_appointment, make_patron, make_user, next_weekday
from .test_failed_messages import (
    REFUSED,
    everything_failed,
    health,
    mail_is_back,
    mail_is_down,
    minutes_pass,
    sent_to,
)

pytestmark = pytest.mark.django_db
DATA_REFUSED = "SMTPDataError: (554, b'5.7.1 Message rejected')"
TEXT_TIMED_OUT = (
    "TextSendError: HTTPSConnectionPool(host='api.twilio.com', port=443): Read timed out."
    " (read timeout=10)"
)
TEXT_REFUSED = (
    "TextSendError: HTTPSConnectionPool(host='api.twilio.com', port=443): Max retries exceeded"
    " (Caused by NewConnectionError('Failed to establish a new connection:"
    " [Errno 111] Connection refused'))"
)


@pytest.fixture
def ana_has_email(librarian):
    librarian.user.email = "ana@library.example"
    librarian.user.save()
    return librarian


@pytest.fixture
def marcus(db):
    return make_patron("Marcus Okafor", email="marcus@example.org", phone="312-555-0199")


@pytest.fixture
def desk(db):
    return make_user("maria", groups=("Desk",), first_name="María", last_name="Ruiz")


class FussyMailServer(socketserver.ThreadingTCPServer):
    """A small SMTP server on this machine. It counts every message offered to it by recipient,
    keeps those it takes, refuses after reading it any message to an address in `refuse`
    (554: SMTPDataError), and hangs up on any to an address in `hang_up_on` (the connection
    drops: SMTPServerDisconnected, as when a mail server goes down mid-send)."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.offered: Counter[str] = Counter()
        self.taken: list[str] = []
        self.refuse: set[str] = set()
        self.hang_up_on: set[str] = set()


class _SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        server: FussyMailServer = self.server
        self.reply("220 library-test ESMTP")
        to: list[str] = []
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 library-test")
            elif verb == "MAIL":
                to = []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>")
                server.offered[address] += 1
                if address in server.hang_up_on:
                    return
                to.append(address)
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 Go ahead")
                while self.rfile.readline() not in (b".\r\n", b".\n", b""):
                    pass
                if server.refuse.intersection(to):
                    self.reply("554 5.7.1 Message rejected")
                else:
                    server.taken.extend(to)
                    self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def mail_server(settings):
    server = FussyMailServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.shutdown()
    server.server_close()


def more_patrons_book(topic, branch, how_many: int = 3) -> None:
    """Others book through the day and their mail goes out, pass after pass of the worker."""
    for week in range(how_many):
        patron = make_patron(f"Patron {week}", email=f"patron-{week}@example.org")
        book(patron=patron, topic=topic, branch=branch, start=local(next_weekday(3, 1 + week), 10))
        messaging.send_due()
        for pause in (2, 4, 8, 16):
            minutes_pass(pause)
            messaging.send_due()


def confirmation_to(patron) -> Message:
    return Message.objects.get(patron=patron, kind=MessageKind.CONFIRMATION)


# --- Only after a real outage, and once ----------------------------------------------------


def test_a_message_the_mail_server_refused_is_not_sent_again_when_other_mail_goes_out(
    mail_server, ana_has_email, topic, branch, marcus
):
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed(last_error=DATA_REFUSED)
    mail_server.refuse.add("marcus@example.org")

    more_patrons_book(topic, branch)

    assert mail_server.offered["marcus@example.org"] == 0
    assert mail_server.offered["ana@library.example"] == 3  # her three new sessions only
    assert [m for m in mail_server.taken if m.startswith("patron-")] == [
        "patron-0@example.org",
        "patron-1@example.org",
        "patron-2@example.org",
    ]
    marcus_confirmation = confirmation_to(marcus)
    assert (marcus_confirmation.state, marcus_confirmation.attempts) == (MessageState.FAILED, 4)


def test_a_message_that_never_reached_the_mail_server_goes_again_once_only(
    client, mail_server, ana_has_email, topic, branch, marcus
):
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed()  # the mail server was down: connection refused
    # Mail is back, but the server drops the line whenever it is offered Marcus's mail.
    mail_server.hang_up_on.add("marcus@example.org")

    more_patrons_book(topic, branch)

    # The first mail to go out put it back in the queue for one more try; it failed again,
    # and stays failed however much other mail goes out, on a quiet evening too.
    assert mail_server.offered["marcus@example.org"] == 1
    minutes_pass(30)
    messaging.send_due()
    assert mail_server.offered["marcus@example.org"] == 1
    marcus_confirmation = confirmation_to(marcus)
    assert marcus_confirmation.state == MessageState.FAILED
    assert marcus_confirmation.last_error.startswith("SMTPServerDisconnected")
    # Ana's notice of Marcus's session had the same outage, and got through on its one try.
    assert mail_server.taken.count("ana@library.example") == 4

    # The desk is not told it will go by itself any more.
    client.force_login(make_user("desk", groups=("Desk",)))
    page = client.get(reverse("appointments:calls")).content.decode()
    assert "Marcus Okafor" in page
    assert "It will be sent by itself when this works again." not in page

    # A manager may still send it again, with a full set of tries.
    mail_server.hang_up_on.clear()
    queued, left = messaging.send_again([marcus_confirmation])
    assert (len(queued), left) == (1, [])
    assert Message.objects.get(pk=marcus_confirmation.pk).attempts == 0
    messaging.send_due()
    assert "marcus@example.org" in mail_server.taken


def test_a_text_that_timed_out_may_have_arrived_and_is_not_sent_again(
    settings, topic, branch, librarian
):
    settings.TEXT_BACKEND = "appointments.texting.MemoryTextBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    MemoryTextBackend.outbox.clear()
    maybe_arrived = make_patron("Marcus Okafor", phone="312-555-0199", preferred_contact="text")
    never_arrived = make_patron("María Sánchez", phone="312-555-0123", preferred_contact="text")
    book(patron=maybe_arrived, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed(last_error=TEXT_TIMED_OUT)
    book(patron=never_arrived, topic=topic, branch=branch, start=local(next_weekday(1), 11))
    everything_failed(last_error=TEXT_REFUSED)

    # The texting service is back: a new booking's text goes out, and with it María's only.
    book(
        patron=make_patron("Harold Green", phone="312-555-0177", preferred_contact="text"),
        topic=topic,
        branch=branch,
        start=local(next_weekday(3), 10),
    )
    messaging.send_due()
    texted = [to for to, _body in MemoryTextBackend.outbox]
    assert sorted(texted) == ["+13125550123", "+13125550177"]
    assert confirmation_to(maybe_arrived).state == MessageState.FAILED


# --- Only to the patron's address of today ---------------------------------------------------


def test_a_failed_message_does_not_go_to_an_address_the_desk_has_corrected(
    settings, ana_has_email, topic, branch, marcus
):
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed()
    # The desk phoned Marcus: the address was mistyped, and belongs to someone else.
    marcus.email = "marcus.okafor@example.org"
    marcus.save()
    mail_is_back(settings)

    assert messaging.send_again_after_outage("email") == 1  # Ana's notice only
    messaging.send_due()
    assert sent_to() == ["ana@library.example"]
    assert confirmation_to(marcus).state == MessageState.FAILED
    queued, left = messaging.send_again([confirmation_to(marcus)])
    assert (queued, len(left)) == ([], 1)


def test_a_failed_email_does_not_go_to_a_patron_who_now_wants_a_call(
    settings, ana_has_email, topic, branch, marcus
):
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed()
    marcus.preferred_contact = "call"
    marcus.save()
    mail_is_back(settings)

    messaging.send_again_after_outage("email")
    messaging.send_due()
    assert sent_to() == ["ana@library.example"]
    assert confirmation_to(marcus).state == MessageState.FAILED


# --- "You are on the waiting list" -----------------------------------------------------------


@pytest.mark.parametrize("now", [WaitlistState.BOOKED, WaitlistState.REMOVED, "gone"])
def test_you_are_on_the_waiting_list_is_not_sent_once_the_place_is_no_longer_held(
    settings, topic, now
):
    rosa = make_patron("Rosa Martinez", email="rosa@example.org")
    entry = WaitlistEntry.objects.create(
        topic=topic, patron=rosa, skill_level="new", learning_goal="Photos", party_size=1, length=60
    )
    messaging.save_new([joined_message(entry)])
    everything_failed()
    joined = Message.objects.get(kind=MessageKind.WAITLIST_JOINED)
    assert messaging.still_worth_sending(joined)  # while she is waiting

    if now == "gone":
        entry.delete()
    else:
        WaitlistEntry.objects.filter(pk=entry.pk).update(state=now)
    queued, left = messaging.send_again([joined])
    assert (queued, len(left)) == ([], 1)
    mail_is_back(settings)
    assert messaging.send_again_after_outage("email") == 0
    assert mail.outbox == []


# --- The desk's list ---------------------------------------------------------------------------


def test_the_desk_sees_failures_about_coming_sessions_first_however_many_old_ones_wait(
    client, desk, librarian, topic, branch, marcus
):
    long_ago = timezone.now() - timedelta(days=3)
    past = make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=marcus, start=long_ago
    )
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            kind=MessageKind.REMINDER,
            channel="email",
            appointment=past,
            patron=marcus,
            to=marcus.email,
            body="Reminder",
            state=MessageState.FAILED,
            key=f"reminder:past:{n}",
            send_after=now,
            attempts=4,
            last_error=REFUSED,
        )
        for n in range(50)
    )
    # One more, from before last week: neither the desk nor the admin home counts it.
    old = Message.objects.create(
        kind=MessageKind.REMINDER,
        channel="email",
        appointment=past,
        patron=marcus,
        to=marcus.email,
        body="Reminder",
        state=MessageState.FAILED,
        key="reminder:past:old",
        send_after=now,
    )
    Message.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=8))
    maria = make_patron("María Sánchez", email="maria@example.org")
    coming = book(
        patron=maria,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
    )
    everything_failed()
    Message.objects.filter(appointment=coming, patron__isnull=True).delete()

    client.force_login(desk)
    response = client.get(reverse("appointments:calls"))
    failed = response.context["failed"]
    assert len(failed) == 50
    assert failed[0].appointment == coming and failed[0].patron == maria
    page = response.content.decode()
    assert "María Sánchez" in page
    assert "51 messages in the last week could not be sent. These are the first 50" in page
    home = client.get(reverse("admin:index")).content.decode()
    assert "51 messages in the last week could not be sent" in home


def test_a_moved_sessions_failed_confirmation_stays_for_the_desk_and_monitoring(
    client, settings, desk, ana_has_email, topic, branch, marcus
):
    mail_is_down(settings)
    session = book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    everything_failed(send_after=timezone.now())
    old_confirmation = confirmation_to(marcus)
    # While mail is down, the desk moves the session; its new messages fail in turn.
    reschedule_appointment(session, branch=branch, starts_at=local(next_weekday(1), 11))
    everything_failed(send_after=timezone.now())

    old_confirmation.refresh_from_db()
    assert old_confirmation.state == MessageState.FAILED
    assert health(client)[0] == 503
    client.force_login(desk)
    failed = client.get(reverse("appointments:calls")).context["failed"]
    assert old_confirmation in failed
    assert not next(m for m in failed if m == old_confirmation).will_retry

    # Mail is back: the new time goes out, the old confirmation never does.
    mail_is_back(settings)
    minutes_pass(10)
    messaging.send_due()
    assert Message.objects.get(patron=marcus, kind=MessageKind.CHANGE).state == "sent"
    old_confirmation.refresh_from_db()
    assert old_confirmation.state == MessageState.FAILED
    assert "Your library help session is booked" not in [e.subject for e in mail.outbox]
    assert health(client)[0] == 200


def test_handled_in_the_last_day_costs_no_query_per_message(
    client, desk, ana_has_email, topic, branch
):
    def handle_one_more(weekday: int, hour: int) -> None:
        patron = make_patron(f"Patron {weekday} {hour}", phone=f"312-555-0{weekday}{hour}")
        book(patron=patron, topic=topic, branch=branch, start=local(next_weekday(weekday), hour))
        everything_failed()
        Message.objects.filter(patron=patron).update(handled_by=desk, handled_at=timezone.now())

    client.force_login(desk)
    handle_one_more(1, 10)

    def queries() -> int:
        with CaptureQueriesContext(connection) as run:
            assert client.get(reverse("appointments:calls")).status_code == 200
        return len(run.captured_queries)

    with_one = queries()
    handle_one_more(1, 11)
    handle_one_more(3, 10)
    assert len(client.get(reverse("appointments:calls")).context["handled"]) == 3
    assert queries() == with_one
