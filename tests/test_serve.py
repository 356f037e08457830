"""scripts/serve, all of it: the web server, the message worker and the purge, started and
stopped together, the way `make serve` and a single-server library run it."""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import pytest
from django.db import connection

from appointments import locks
from appointments.models import Message, MessageKind, MessageState

from .factories import book, local, next_weekday
from .servers import ProductionServer

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_until(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _sender_pid() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [int(locks.LockSpace.SENDER)],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_runs_the_web_the_worker_and_the_purge_and_stops_them_together(
    tmp_path, librarian, topic, branch
):
    server = ProductionServer(
        connection.settings_dict["NAME"],
        tmp_path / "static",
        tmp_path / "serve.log",
        role="all",
        EMAIL_URL="consolemail://",
    )
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=5) as response:
            assert response.status == 200
        assert _wait_until(lambda: _sender_pid() is not None)  # the worker is at work
        assert _wait_until(lambda: "Removed:" in server.log_path.read_text())  # the purge ran
        session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
        confirmation = Message.objects.filter(kind=MessageKind.CONFIRMATION)
        assert _wait_until(lambda: confirmation.get().state == MessageState.SENT)
        assert "Your library help session is booked" in server.log_path.read_text()
        assert session.patron.email in server.log_path.read_text()
    finally:
        pgid = server.process.pid
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    assert _wait_until(lambda: not _group_alive(pgid), seconds=10), "a process was left running"
    assert _wait_until(lambda: _sender_pid() is None, seconds=10)
