"""The message worker: bookings never wait for a mail server; the worker sends, survives and
takes turns."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from appointments import locks, messaging, worker
from appointments.booking import cancel_appointment
from appointments.models import Message, MessageKind, MessageState
from appointments.privacy import forget_patron
from appointments.texting import MemoryTextBackend

from .factories import book, local, make_patron, next_weekday
from .servers import connect_directly, sender_lock_holder, wait_until
from .test_patron_books import _open_values, _start_booking

pytestmark = pytest.mark.django_db


@contextmanager
def mail_server_that_never_answers():
    """A real TCP server that accepts connections and never says a word, as a hung mail
    server does. Yields the port and the list of accepted connections."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        for peer in accepted:
            peer.close()
        listener.close()


def _use_mail_server(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1


def _book_online(client, topic, day) -> object:
    _start_booking(client, topic)
    _, values = _open_values(client, topic, week=day)
    wanted = next(v for v in values if v.endswith(str(int(local(day, 10).timestamp()))))
    response = client.post(f"/book/{topic.slug}/time/", {"slot": wanted})
    return client.post(
        response["Location"],
        {
            "slot": wanted,
            "name": "Marcus Lee",
            "email": "marcus@example.org",
            "preferred_contact": "email",
        },
    )


def test_a_booking_is_saved_and_answered_without_touching_a_hung_mail_server(
    client, settings, librarian, topic
):
    with mail_server_that_never_answers() as (port, accepted):
        _use_mail_server(settings, port)
        response = _book_online(client, topic, next_weekday(1))
        assert response.status_code == 302
        assert "booking/" in response["Location"]
        assert accepted == []  # the request never opened a connection to it
        confirmation = Message.objects.get(kind=MessageKind.CONFIRMATION)
        assert (confirmation.state, confirmation.attempts) == (MessageState.PENDING, 0)

        # The worker meets the hung server, gives up after EMAIL_TIMEOUT and tries later.
        counts = worker.one_pass()
        assert len(accepted) >= 1
        assert counts["retry"] >= 1 and counts["sent"] == 0
        confirmation.refresh_from_db()
        assert confirmation.state == MessageState.PENDING
        assert confirmation.attempts == 1
        assert "timed out" in confirmation.last_error


@contextmanager
def running_worker(stop: threading.Event | None = None, **options):
    stop = stop or threading.Event()

    def work():
        try:
            worker.run_worker(stop=stop, **options)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the worker did not stop when asked"


def _sent(kind) -> bool:
    return Message.objects.filter(kind=kind, state=MessageState.SENT).exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_is_woken_by_a_booking_and_sends_its_confirmation(librarian, topic, branch):
    # A poll far longer than the wait below: only the booking's NOTIFY can wake the worker.
    with running_worker(poll_seconds=600, housekeeping_seconds=600):
        assert wait_until(lambda: sender_lock_holder() is not None)
        session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
        assert wait_until(lambda: _sent(MessageKind.CONFIRMATION))
    assert [m.to for m in mail.outbox] == [[session.patron.email]]
    assert mail.outbox[0].attachments[0][0] == "session.ics"


@pytest.mark.django_db(transaction=True)
def test_the_worker_carries_on_after_the_database_drops_its_connection(librarian, topic, branch):
    with running_worker(poll_seconds=600, housekeeping_seconds=600):
        assert wait_until(lambda: sender_lock_holder() is not None)
        first = sender_lock_holder()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [first])
        # It notices on its next wake-up, reconnects and takes the lock again.
        book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
        assert wait_until(lambda: sender_lock_holder() not in (None, first), seconds=20)
        assert wait_until(lambda: _sent(MessageKind.CONFIRMATION), seconds=20)


@pytest.mark.django_db(transaction=True)
def test_a_cron_run_leaves_at_once_while_another_sender_works(librarian, topic, branch, capsys):
    book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    with connect_directly() as other_sender:
        other_sender.execute("SELECT pg_advisory_lock(%s, 0)", [int(locks.LockSpace.SENDER)])
        call_command("send_notifications")
        assert "Another sender is at work" in capsys.readouterr().out
        assert not _sent(MessageKind.CONFIRMATION)
        other_sender.execute("SELECT pg_advisory_unlock(%s, 0)", [int(locks.LockSpace.SENDER)])
    # That sender stopped: the next run does the work.
    call_command("send_notifications")
    assert "Sent: 1." in capsys.readouterr().out
    assert _sent(MessageKind.CONFIRMATION)


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_stands_by_and_takes_over_when_the_first_stops(librarian, topic, branch):
    first_stop = threading.Event()
    with running_worker(poll_seconds=0.2, housekeeping_seconds=600, stop=first_stop) as first:
        assert wait_until(lambda: sender_lock_holder() is not None)
        first_pid = sender_lock_holder()
        with running_worker(poll_seconds=0.2, housekeeping_seconds=600):
            time.sleep(1)
            assert sender_lock_holder() == first_pid  # the second one waits its turn
            first_stop.set()
            first.join(timeout=30)
            assert wait_until(lambda: sender_lock_holder() not in (None, first_pid))
            book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
            assert wait_until(lambda: _sent(MessageKind.CONFIRMATION))


def test_forgetting_a_patron_writes_them_no_message(librarian, topic, branch):
    librarian.user.email = "ana@library.example"
    librarian.user.save()
    rosa = make_patron("Rosa Martinez", email="rosa@example.org")
    book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    Message.objects.all().delete()
    with connection.execute_wrapper(_refuse_patron_messages):
        forget_patron(rosa)
    (told,) = Message.objects.all()
    assert (told.kind, told.to) == (MessageKind.STAFF_CANCELLATION, "ana@library.example")


def _refuse_patron_messages(execute, sql, params, many, context):
    if sql.startswith('INSERT INTO "appointments_message"') and "rosa@example.org" in str(params):
        raise AssertionError("a message to the patron being forgotten was written")
    return execute(sql, params, many, context)


def test_a_pass_leaves_a_mail_server_that_is_down_after_three_failures(settings, texts_memory):
    with mail_server_that_never_answers() as (port, accepted):
        _use_mail_server(settings, port)
        for n in range(6):
            Message.objects.create(
                kind=MessageKind.REMINDER,
                channel="email",
                to=f"p{n}@example.org",
                body="Hi",
                state=MessageState.PENDING,
                key=f"t:{n}",
                send_after=timezone.now(),
            )
        Message.objects.create(
            kind=MessageKind.REMINDER,
            channel="text",
            to="+13125550177",
            body="Hi",
            state=MessageState.PENDING,
            key="t:text",
            send_after=timezone.now(),
        )
        counts = messaging.send_due()
    assert counts == {"sent": 1, "retry": 3, "failed": 0}  # the text still went out
    assert texts_memory == [("+13125550177", "Hi")]
    tried = Message.objects.filter(channel="email", attempts=1).count()
    untouched = Message.objects.filter(channel="email", attempts=0).count()
    assert (tried, untouched) == (3, 3)  # left for the next pass


@pytest.fixture
def texts_memory(settings):
    settings.TEXT_BACKEND = "appointments.texting.MemoryTextBackend"
    MemoryTextBackend.outbox.clear()
    return MemoryTextBackend.outbox


@pytest.mark.django_db(transaction=True)
def test_a_patron_cancels_while_their_confirmation_hangs_on_the_mail_server(
    settings, librarian, topic, branch
):
    settings.LOCK_TIMEOUT_SECONDS = 1  # waiting on the send would fail the cancel outright
    with mail_server_that_never_answers() as (port, accepted):
        _use_mail_server(settings, port)
        settings.EMAIL_TIMEOUT = 4
        session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
        sender = threading.Thread(target=lambda: (messaging.send_due(), connection.close()))
        sender.start()
        assert wait_until(lambda: accepted)  # the confirmation is on its way, and hangs
        assert cancel_appointment(session)
        sender.join()
    confirmation = Message.objects.get(kind=MessageKind.CONFIRMATION)
    assert confirmation.state == MessageState.SKIPPED  # not put back to wait for a retry
    assert confirmation.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_bug_in_the_waiting_list_run_does_not_stop_confirmations(
    librarian, topic, branch, monkeypatch, caplog
):
    def broken_offers():
        raise RuntimeError("a bug in the waiting-list run")

    monkeypatch.setattr(worker, "offer_open_times", broken_offers)
    with running_worker(poll_seconds=0.2, housekeeping_seconds=0.5):
        book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
        assert wait_until(lambda: _sent(MessageKind.CONFIRMATION))
        time.sleep(1.5)  # a few more housekeeping rounds, the same bug each time
    reports = [r for r in caplog.records if "Housekeeping failed" in r.getMessage()]
    assert reports[0].levelname == "ERROR"  # mailed to ADMINS once
    assert len(reports) >= 2 and {r.levelname for r in reports[1:]} == {"WARNING"}
