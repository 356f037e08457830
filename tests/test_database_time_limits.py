"""Time limits on the database, decided per process: a web request gives up on a stuck lock
before gunicorn's timeout; migrate, the worker and the purge wait as long as they must."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

from .servers import connect_directly

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def _limits(cursor) -> list[str]:
    cursor.execute("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
    return list(cursor.fetchone())


def _command_env(**settings_env) -> dict:
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    env = {**os.environ, "DATABASE_URL": url.geturl(), **settings_env}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def test_a_web_process_has_the_time_limits():
    with connection.cursor() as cursor:
        assert _limits(cursor) == ["20s", "10s"]


def test_manage_py_commands_have_none():
    script = (
        "from django.db import connection\n"
        "c = connection.cursor()\n"
        "c.execute(\"SELECT current_setting('statement_timeout'), "
        "current_setting('lock_timeout')\")\n"
        "print(*c.fetchone())\n"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env=_command_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["0", "0"]


def test_migrate_waits_for_a_lock_longer_than_a_web_request_may():
    """A table held by someone else for 4 s: migrate (as scripts/serve runs it) waits and
    finishes, although a page would have given up after 1 s."""
    with connect_directly() as other:
        other.execute("BEGIN")
        other.execute("LOCK TABLE django_migrations IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(4, lambda: other.execute("COMMIT"))
        release.start()
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env=_command_env(DATABASE_STATEMENT_TIMEOUT_SECONDS="1", LOCK_TIMEOUT_SECONDS="1"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        release.join()
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 3.5
