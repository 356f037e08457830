"""Advisory locks, by name: every key space the app locks in, in one place.

Most locks here are held until the transaction ends, so taking one outside a transaction
would release it at once: that is refused. The one exception is `hold`, for a long-running job
that owns a role (the message sender) for as long as its connection lives. Every lock waits at most
LOCK_TIMEOUT_SECONDS (set for the rest of the transaction, row locks included), so a request
never hangs behind a stuck one; the caller turns the timeout into a plain "please try again".
"""

from __future__ import annotations

from enum import IntEnum

from django.conf import settings
from django.db import OperationalError, connection


class LockSpace(IntEnum):
    # One person's bookings, moves and deletion, keyed by each normalised contact detail:
    # two online bookings with the same email make two records, and neither sees the other's
    # rows until it commits, but both take this lock.
    PERSON = 7301
    # The waiting-list run that expires and makes offers: one server at a time.
    WAITLIST_OFFERS = 7302
    # The retention purge: one server at a time.
    PURGE = 7303
    # The message sender (send_notifications): one at a time, the others stand by.
    SENDER = 7304
    # The calendar feed refresh (calendar_feeds.refresh_due): one process at a time.
    CALENDARS = 7305


class LockTimeout(Exception):
    """A lock was not free within LOCK_TIMEOUT_SECONDS."""


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Advisory locks are held until the transaction ends: take one inside.")


def _set_timeout(cursor) -> None:
    cursor.execute(
        "SELECT set_config('lock_timeout', %s, true)", [f"{settings.LOCK_TIMEOUT_SECONDS}s"]
    )


def _acquire(cursor, sql: str, params) -> None:
    try:
        cursor.execute(sql, params)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise LockTimeout(str(error)) from error
        raise


def lock(space: LockSpace, key: int = 0) -> None:
    """Take the lock `key` of `space` until the transaction ends."""
    _require_transaction()
    with connection.cursor() as cursor:
        _set_timeout(cursor)
        _acquire(cursor, "SELECT pg_advisory_xact_lock(%s, %s)", [int(space), key])


def try_lock(space: LockSpace, key: int = 0) -> bool:
    """Take the lock if it is free, without waiting: for jobs that several servers run, where
    the one that finds it taken has nothing to do ("another process got there first")."""
    _require_transaction()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [int(space), key])
        return cursor.fetchone()[0]


def lock_keys(space: LockSpace, keys: list[str]) -> None:
    """Take one lock per text key, in the order of their lock ids so two holders never wait on
    each other. One statement: the sort takes in every key (and sets the timeout) before the
    first lock is asked for."""
    _require_transaction()
    with connection.cursor() as cursor:
        _acquire(
            cursor,
            "SELECT count(pg_advisory_xact_lock(%s, lock_id)) FROM ("
            "  SELECT DISTINCT hashtext(key) AS lock_id FROM unnest(%s::text[]) AS key"
            "  WHERE set_config('lock_timeout', %s, true) IS NOT NULL ORDER BY 1"
            ") AS ids",
            [int(space), keys, f"{settings.LOCK_TIMEOUT_SECONDS}s"],
        )


def lock_person(patron) -> None:
    """Hold one person's bookings one at a time, whichever of their records is used."""
    lock_keys(LockSpace.PERSON, patron.identity_keys())


def hold(space: LockSpace, key: int = 0) -> bool:
    """Take the lock for this database connection if it is free, without waiting. It stays
    held, across transactions, until `let_go` or until the connection ends (a crash or a
    database restart frees it for the next process)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [int(space), key])
        return cursor.fetchone()[0]


def let_go(space: LockSpace, key: int = 0) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [int(space), key])
