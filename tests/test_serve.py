"""scripts/serve, all of it: the web server, the message worker and the purge, started and
stopped together, the way `make serve` and a single-server library run it."""

from __future__ import annotations

import http.client
import os
import signal
import time
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.db import connection

from appointments.links import private_path
from appointments.models import Message, MessageKind, MessageState

from .factories import book, local, next_weekday
from .servers import ProductionServer, connect_directly, sender_lock_holder, wait_until

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


def _get(server, path, *, source="127.0.0.1", timeout=15, **headers):
    """One request to the server from `source` (any 127.0.0.x is this machine), with the time
    it took: (status, headers, body, seconds). A connection the server dropped is status 0."""
    parts = urlsplit(server.url)
    started = time.monotonic()
    conn = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        answer = response.status, dict(response.getheaders()), response.read().decode()
    except (ConnectionError, http.client.HTTPException):
        answer = 0, {}, ""
    finally:
        conn.close()
    return (*answer, time.monotonic() - started)


def test_a_page_stuck_behind_a_lock_fails_fast_with_the_librarys_own_error_page(
    tmp_path, librarian, topic, branch
):
    """A migration or a transaction left open holds a table: the patron gets the app's
    translated 500 page, with the phone number, as soon as the lock wait runs out, not
    gunicorn's bare page after its 30 s timeout."""
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    server = ProductionServer(
        connection.settings_dict["NAME"],
        tmp_path / "static",
        tmp_path / "serve.log",
        LOCK_TIMEOUT_SECONDS="2",
        DATABASE_STATEMENT_TIMEOUT_SECONDS="4",
        LIBRARY_PHONE="555-0142",
    )
    try:
        with connect_directly() as other, other.transaction():
            other.execute("LOCK TABLE appointments_appointment IN ACCESS EXCLUSIVE MODE")
            status, _, page, seconds = _get(
                server, private_path(session), **{"Accept-Language": "es"}
            )
        assert status == 500
        assert seconds < 10
        assert "Algo salió mal de nuestra parte" in page
        assert "555-0142" in page
        assert "Internal Server Error</p></h1>" not in page  # not gunicorn's own page
        assert "WORKER TIMEOUT" not in server.log_path.read_text()
        # The lock is gone: the same link works again at once.
        assert _get(server, private_path(session))[0] == 200
    finally:
        server.stop()


def test_gunicorns_error_log_keeps_no_private_link_or_search(tmp_path, librarian, topic, branch):
    """Time limits off and gunicorn's timeout short: a request outlives its worker, and
    gunicorn's own error log names it. Cleaned, as the access log is."""
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    link = private_path(session)
    secret = link.split("/")[2]
    server = ProductionServer(
        connection.settings_dict["NAME"],
        tmp_path / "static",
        tmp_path / "serve.log",
        LOCK_TIMEOUT_SECONDS="0",
        DATABASE_STATEMENT_TIMEOUT_SECONDS="0",
        GUNICORN_TIMEOUT="2",
    )
    try:
        with connect_directly() as other, other.transaction():
            other.execute("LOCK TABLE appointments_appointment IN ACCESS EXCLUSIVE MODE")
            status, _, _, _ = _get(server, link + "?q=Rosa+Martinez")
        assert status in (0, 500)  # gunicorn's bare page, or the connection dropped
        log = server.log_path
        assert wait_until(lambda: "Error handling request" in log.read_text(), seconds=15)
        assert wait_until(
            lambda: "Worker exiting" in log.read_text() or "SIGKILL" in log.read_text(), seconds=15
        )
        text = log.read_text()
        assert "WORKER TIMEOUT" in text
        assert "Error handling request GET /booking/********/" in text
        assert secret not in text and "Rosa" not in text
        assert "Perhaps out of memory" not in text
    finally:
        server.stop()


@pytest.mark.parametrize(
    "source, believed", [("127.0.0.1", True), ("127.0.0.2", False)], ids=["proxy", "anyone"]
)
def test_https_is_believed_only_from_the_proxy(tmp_path, source, believed):
    """X-Forwarded-Proto: https counts only from FORWARDED_ALLOW_IPS (127.0.0.1 here): from
    another address the request is plain http, so it is sent to https and gets no HSTS."""
    server = ProductionServer(
        connection.settings_dict["NAME"],
        tmp_path / "static",
        tmp_path / "serve.log",
        SECURE_SSL_REDIRECT="true",
    )
    try:
        status, headers, _, _ = _get(server, "/", source=source, **{"X-Forwarded-Proto": "https"})
    finally:
        server.stop()
    if believed:
        assert status == 200
        assert "max-age=" in headers["Strict-Transport-Security"]
    else:
        assert status == 301
        assert headers["Location"].startswith("https://")
        assert "Strict-Transport-Security" not in headers
