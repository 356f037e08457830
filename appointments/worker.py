"""The message worker: the one process that talks to mail servers and text providers.

`manage.py send_notifications --loop` runs `run_worker`: it sends what is due, then sleeps
until a booking's NOTIFY wakes it (a confirmation usually leaves within a second of the
booking) or POLL seconds pass (the most a message waits if a wake-up is missed). Once a
minute it also makes waiting-list offers and writes reminders and follow-ups. After a mail
outage, the first message that goes out brings the recent failures still worth sending back
into the queue, and a channel with nothing else to send is tried every few minutes with one of
them (messaging.send_due).

Only one sender works at a time, across every server: it holds the SENDER lock for as long as
its database connection lives. A second worker stands by and takes over within a poll when
the first stops. Without --loop, the command does one pass and exits (the cron form); a cron
run that finds a sender working leaves at once, so slow runs never pile up.

The worker survives a database restart: it logs the error, reconnects with a growing pause,
and takes the lock again.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import DatabaseError, InterfaceError, connection

from . import calendar_feeds, locks, messaging
from .waitlist import offer_open_times

logger = logging.getLogger(__name__)


def housekeeping() -> dict[str, int]:
    """Waiting-list offers, reminders and follow-ups: the messages no request writes. Then the
    staff calendar feeds not read for CALENDAR_REFRESH_MINUTES, a share each minute
    (calendar_feeds.refresh_due, which holds its own lock: a `refresh_calendars --loop` process
    may do it instead)."""
    offers = offer_open_times()
    messaging.retire_stale_calls()
    counts = {
        "offered": offers["offered"],
        "reminders": messaging.enqueue_reminders(),
        "follow_ups": messaging.enqueue_follow_ups(),
    }
    calendars = calendar_feeds.refresh_due(spread=True)
    counts["calendar_feeds_failed"] = calendars["failed"] if calendars else 0
    return counts


def one_pass(*, max_messages: int | None = None) -> dict[str, int] | None:
    """One full run, as cron does it. None when another sender is at work."""
    if not locks.hold(locks.LockSpace.SENDER):
        return None
    try:
        counts = housekeeping()
        counts.update(messaging.send_due(max_messages=max_messages))
        return counts
    finally:
        locks.let_go(locks.LockSpace.SENDER)


def _listen() -> None:
    with connection.cursor() as cursor:
        # If this host vanishes, the database notices within about a minute and frees the
        # SENDER lock for a standby worker (over TCP; a local socket notices at once).
        cursor.execute(
            "SELECT set_config('tcp_keepalives_idle', '30', false),"
            " set_config('tcp_keepalives_interval', '10', false),"
            " set_config('tcp_keepalives_count', '3', false)"
        )
        cursor.execute(f"LISTEN {messaging.OUTBOX_CHANNEL}")


def _wait_for_wake_up(seconds: float, stop: threading.Event) -> None:
    """Sleep until a NOTIFY on the outbox channel arrives, `seconds` pass, or we are stopped
    (looked at every second, so a stop never waits for a long poll)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        with connection.wrap_database_errors:
            for _ in connection.connection.notifies(timeout=min(left, 1.0), stop_after=1):
                return


class Stop:
    """A request to stop that a signal handler may make: setting a plain flag is safe there,
    where threading.Event's internal lock could deadlock the process it interrupts."""

    def __init__(self):
        self.requested = False

    def set(self) -> None:
        self.requested = True

    def is_set(self) -> bool:
        return self.requested

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))


class _Trouble:
    """Logs what went wrong: the first time as an error (mailed to ADMINS), repeats of the
    same trouble as warnings, so a stuck worker does not flood the staff's mailbox."""

    def __init__(self):
        self.last = None

    def report(self, message: str, error: Exception, *, with_traceback: bool) -> None:
        text = f"{type(error).__name__}: {error}"
        level = logging.WARNING if text == self.last else logging.ERROR
        logger.log(level, message, text, exc_info=with_traceback and level == logging.ERROR)
        self.last = text

    def over(self) -> None:
        self.last = None


def run_worker(
    *,
    poll_seconds: float = 5.0,
    housekeeping_seconds: float = 60.0,
    stop: Stop | threading.Event | None = None,
) -> None:
    stop = stop or Stop()
    holding = False
    next_housekeeping = 0.0
    pause = 1.0
    trouble, housekeeping_trouble = _Trouble(), _Trouble()
    while not stop.is_set():
        try:
            if not holding:
                holding = locks.hold(locks.LockSpace.SENDER)
                if not holding:
                    logger.debug("Another sender is at work: standing by.")
                    stop.wait(poll_seconds)
                    continue
                _listen()
                logger.info("Sending messages.")
            if time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + housekeeping_seconds
                try:
                    housekeeping()
                    housekeeping_trouble.over()
                except (DatabaseError, InterfaceError):
                    raise
                except Exception as error:
                    # A bug in offers or reminders must not stop what is already written.
                    housekeeping_trouble.report(
                        "Housekeeping failed (%s); sending goes on.", error, with_traceback=True
                    )
            counts = messaging.send_due(should_stop=stop.is_set)
            if counts["sent"] or counts["retry"] or counts["failed"]:
                logger.info("Sent: %(sent)s, to retry: %(retry)s, failed: %(failed)s.", counts)
            pause = 1.0
            trouble.over()
            if not stop.is_set():
                _wait_for_wake_up(poll_seconds, stop)
        except Exception as error:
            # The database restarted or went away (the lock went with the connection), or
            # something unforeseen: start again from a fresh connection, after a growing pause.
            database = isinstance(error, DatabaseError | InterfaceError)
            trouble.report(
                "Database unavailable (%s); trying again." if database else "Worker error (%s).",
                error,
                with_traceback=not database,
            )
            holding = False
            connection.close()
            stop.wait(pause)
            pause = min(pause * 2, 30.0)
    # Closing the connection lets go of the SENDER lock for a standby worker.
    connection.close()
