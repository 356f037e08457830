"""scripts/serve, all of it: the web server, the message worker and the purge, started and
stopped together, the way `make serve` and a single-server library run it."""

from __future__ import annotations

import os
import signal
import urllib.request

import pytest
from django.db import connection

from appointments.models import Message, MessageKind, MessageState

from .factories import book, local, next_weekday
from .servers import ProductionServer, sender_lock_holder, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


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
        assert wait_until(lambda: sender_lock_holder() is not None, seconds=30)  # worker at work
        assert wait_until(lambda: "Removed:" in server.log_path.read_text(), seconds=30)  # purge
        session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
        confirmation = Message.objects.filter(kind=MessageKind.CONFIRMATION)
        assert wait_until(lambda: confirmation.get().state == MessageState.SENT, seconds=30)
        assert "Your library help session is booked" in server.log_path.read_text()
        assert session.patron.email in server.log_path.read_text()
    finally:
        pgid = server.process.pid
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    assert wait_until(lambda: not _group_alive(pgid), seconds=10), "a process was left running"
    assert wait_until(lambda: sender_lock_holder() is None, seconds=10)
