"""Health checks that tell the truth, connections that survive a database restart, and error
reports that reach staff without patron data."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.handlers.wsgi import WSGIHandler
from django.db import IntegrityError, connection
from django.test import RequestFactory
from django.utils import timezone

from appointments.models import Message, MessageChannel, MessageKind, MessageState
from library_help.errors import PrivateReporter, hide_private_paths, scrub_event
from patrons.models import Patron

from .servers import connect_directly

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def _unsent_message(minutes_ago: int, *, attempts: int = 0) -> Message:
    message = Message.objects.create(
        kind=MessageKind.REMINDER,
        channel=MessageChannel.EMAIL,
        to="q@example.org",
        body="Reminder",
        state=MessageState.PENDING,
        key=f"test:{minutes_ago}",
        send_after=timezone.now() + timedelta(minutes=2 if attempts else 0),
        attempts=attempts,
    )
    written = timezone.now() - timedelta(minutes=minutes_ago)
    Message.objects.filter(pk=message.pk).update(created_at=written)
    return message


def test_health_is_ok_with_the_database_up_and_nothing_waiting(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content.decode().splitlines()[:2] == ["ok", "database: ok"]
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_says_the_worker_has_stopped_when_a_message_waits_too_long(client, settings, caplog):
    settings.HEALTH_MESSAGE_DELAY_MINUTES = 10
    _unsent_message(minutes_ago=3)
    assert client.get("/healthz").status_code == 200
    _unsent_message(minutes_ago=25)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "is the message worker running" in response.content.decode()
    # The monitor's alert is the report: no server-error log (and mail) for every probe.
    assert not [r for r in caplog.records if r.name == "django.request"]
    # A load balancer asks only whether this web server can serve.
    assert client.get("/healthz/web").status_code == 200


def test_a_mail_server_that_keeps_failing_shows_too(client, settings):
    settings.HEALTH_MESSAGE_DELAY_MINUTES = 10
    _unsent_message(minutes_ago=4, attempts=1)  # failed once, tried again soon: fine
    assert client.get("/healthz").status_code == 200
    _unsent_message(minutes_ago=40, attempts=3)  # written 40 minutes ago, still failing
    assert client.get("/healthz").status_code == 503


def test_health_is_503_when_the_database_is_down():
    """A real process whose database does not answer (nothing listens on that port)."""
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "for path in ('/healthz', '/healthz/web'):\n"
        "    r = Client().get(path)\n"
        "    print(path, r.status_code, r.content.decode().strip())\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "library_help.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none?connect_timeout=2",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "/healthz 503 database: unreachable",
        "/healthz/web 503 database: unreachable",
    ]


def _status(handler: WSGIHandler, path: str) -> int:
    """One request through Django's real WSGI handler, with its request signals."""
    status = []
    environ = RequestFactory().get(path).environ
    environ["wsgi.input"] = io.BytesIO(b"")
    b"".join(handler(environ, lambda s, headers: status.append(s)))
    return int(status[0].split()[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("health_checks, second_status", [(True, 200), (False, 500)])
def test_a_kept_connection_killed_by_a_database_restart_does_not_fail_the_next_request(
    health_checks, second_status, topic
):
    """What a restart does to a kept connection: the server ends it under the app's feet.
    With the health checks (our setting), the next request reconnects; without, it fails."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=health_checks)
    handler = WSGIHandler()
    try:
        assert _status(handler, "/") == 200
        kept = connection.connection.info.backend_pid
        with connect_directly() as other:
            other.execute("SELECT pg_terminate_backend(%s)", [kept])
        assert _status(handler, "/") == second_status
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


PRIVATE = "/booking/Zk3-qqprivate-token/cancel/"
PATRON_NAME = "Marcus Lee, zebra-goal"  # named here: the report shows source lines


@pytest.mark.django_db(transaction=True)
def test_an_error_mail_reaches_staff_without_the_patrons_link_or_words(settings):
    settings.DEBUG = False
    settings.ADMINS = [("", "it@library.example")]
    request = RequestFactory().post(
        PRIVATE + "?email=marcus%40example.org",
        {"name": "Marcus Lee", "learning_goal": "zebra-goal"},
        HTTP_REFERER="https://help.example/desk/?q=Marcus+Lee",
    )
    try:
        learning_goal = "zebra-goal"  # noqa: F841 - a variable the report must not show
        # A database error spells out the failing row on its DETAIL line.
        Patron.objects.create(name=PATRON_NAME, email="", phone="")
    except IntegrityError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            request.path,
            exc_info=True,
            extra={"status_code": 500, "request": request},
        )
    deadline = time.monotonic() + 10
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.02)  # sent from a thread, so the request never waits for it
    (report,) = mail.outbox
    assert report.to == ["it@library.example"]
    assert "Internal Server Error: /booking/********/cancel/" in report.subject
    everything = report.subject + report.body + str(report.alternatives)
    assert "IntegrityError" in everything and "violates check constraint" in everything
    for private in ["qqprivate", "Marcus", "zebra-goal", "marcus%40example.org"]:
        assert private not in everything


def test_the_error_page_report_hides_the_private_link():
    request = RequestFactory().get(PRIVATE)
    try:
        raise RuntimeError("something broke")
    except RuntimeError:
        text = PrivateReporter(request, *sys.exc_info()).get_traceback_text()
    assert "qqprivate" not in text and "/booking/********/cancel/" in text


def test_an_error_sent_to_sentry_carries_no_patron_data():
    event = {
        "transaction": "/booking/Zk3-qqprivate-token/",
        "request": {
            "url": "https://help.library.example/waiting-list/SECRET/",
            "data": {"name": "Marcus Lee"},
            "cookies": {"sessionid": "abc"},
            "headers": {"Referer": "https://help.library.example/feedback/SECRET/"},
            "query_string": "email=marcus@example.org",
        },
        "user": {"ip_address": "203.0.113.9"},
        "breadcrumbs": {"values": [{"message": "GET /calendar/SECRET.ics", "data": {"q": 1}}]},
    }
    scrubbed = scrub_event(event)
    assert "SECRET" not in repr(scrubbed) and "Marcus" not in repr(scrubbed)
    assert "203.0.113.9" not in repr(scrubbed)
    assert scrubbed["request"]["url"] == "https://help.library.example/waiting-list/********/"


@pytest.mark.parametrize(
    "path, shown",
    [
        ("/booking/abc/", "/booking/********/"),
        ("/feedback/x.y:z/", "/feedback/********/"),
        ("/calendar/7d1c.ics", "/calendar/********"),
        ("/book/computer-basics/time/", "/book/computer-basics/time/"),
        ("/desk/today/", "/desk/today/"),
    ],
)
def test_only_secret_parts_of_addresses_are_hidden(path, shown):
    assert hide_private_paths(path) == shown


def test_the_access_log_keeps_no_private_link_or_search():
    from gunicorn.config import Config

    from library_help.access_log import PrivateAccessLog

    class Response:
        status, sent, headers = "200 OK", 512, []

    class Request:
        headers = [("REFERER", "https://help.example/booking/qqprivate/?x=1")]

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/desk/?q=Rosa+Martinez",
        "PATH_INFO": "/desk/",
        "QUERY_STRING": "q=Rosa+Martinez",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://help.example/booking/qqprivate/cancel/",
    }
    atoms = PrivateAccessLog(Config()).atoms(Response(), Request(), environ, timedelta(0))
    line = repr(atoms)
    assert "Rosa" not in line and "qqprivate" not in line
    assert atoms["r"] == "GET /desk/ HTTP/1.1"
    assert atoms["f"] == "https://help.example/booking/********/cancel/"


def test_health_checks_answer_a_load_balancer_that_asks_by_ip_address(client, settings):
    settings.ALLOWED_HOSTS = ["help.library.example"]
    for path in ("/healthz", "/healthz/web"):
        assert client.get(path, HTTP_HOST="10.0.0.7:8000").status_code == 200
    # The benchmarks' bare view goes through every middleware, host check included.
    assert client.get("/healthz/live", HTTP_HOST="10.0.0.7:8000").status_code == 400
    assert client.get("/healthz/live", HTTP_HOST="help.library.example").status_code == 200
    assert client.get("/", HTTP_HOST="10.0.0.7:8000").status_code == 400  # pages still refuse


def test_djangos_own_log_lines_keep_no_private_link(client, caplog):
    client.get("/booking/qqprivate-token/")  # a link that does not work: "Not Found: ..."
    client.post("/booking/qqprivate-token/cancel/?email=marcus%40example.org")
    lines = [handler.format(r) for r in caplog.records for handler in logging.root.handlers]
    assert any("/booking/********/" in line for line in lines)
    assert not any("qqprivate" in line or "marcus" in line for line in lines)


def _settings_under(**env) -> list[str]:
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings as s\n"
        "print(s.DATABASES['default']['CONN_MAX_AGE'], s.SESSION_ENGINE)\n"
    )
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "library_help.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_production_keeps_connections_and_a_shared_cache_holds_sessions():
    production = {"DEBUG": "false", "SECRET_KEY": "x" * 50}
    assert _settings_under(**production) == ["60", "library_help.sessions"]
    assert _settings_under(DEBUG="true") == ["0", "library_help.sessions"]
    with_redis = {**production, "CACHE_URL": "redis://127.0.0.1:6379/0"}
    assert _settings_under(**with_redis) == ["60", "django.contrib.sessions.backends.cached_db"]


def test_gunicorns_error_log_keeps_no_private_link_and_names_a_timeout_for_what_it_is():
    from library_help.access_log import PrivateErrorLog

    private = PrivateErrorLog()

    def line(message, *args):
        record = logging.LogRecord("gunicorn.error", logging.ERROR, "", 0, message, args, None)
        private.filter(record)
        return record.getMessage()

    assert line("Error handling request %s", "/desk/?q=Rosa+Martinez") == (
        "Error handling request /desk/"
    )
    assert "qqprivate" not in line(
        "Invalid request from ip=10.0.0.9: Invalid HTTP request line: "
        "'GET /booking/qqprivate/?x=1 HTTP/1.1'"
    )
    line("WORKER TIMEOUT (pid:%s)", 4242)
    killed = line("Worker (pid:%s) was sent %s! Perhaps out of memory?", 4242, "SIGKILL")
    assert "after its WORKER TIMEOUT" in killed and "Perhaps out of memory" not in killed
    # A worker killed for some other reason keeps gunicorn's own guess.
    assert "Perhaps out of memory?" in line(
        "Worker (pid:%s) was sent %s! Perhaps out of memory?", 5151, "SIGKILL"
    )
