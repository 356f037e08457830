"""The app served the production way, by scripts/serve, for the tests that need a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]


class ProductionServer:
    """`scripts/serve` (all of it, or only the web server with role="web") on a free port,
    pointed at the test database. Its output goes to `log_path`."""

    def __init__(
        self,
        database_name: str,
        static_root: Path,
        log_path: Path,
        *,
        role: str = "web",
        **settings_env: str,
    ):
        from django.conf import settings

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        database_url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + database_name)
        env = {
            **os.environ,
            "DATABASE_URL": database_url.geturl(),
            "PYTHON": sys.executable,
            # Tokens made by the tests (private links) must verify on the server.
            "SECRET_KEY": settings.SECRET_KEY,
            "STATIC_ROOT": str(static_root),
            "BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            # Plain http on loopback: no TLS proxy in front.
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            **settings_env,
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.log_path = log_path
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")] + (["web"] if role == "web" else []),
            env=env,
            start_new_session=True,  # its own process group: the tests can see it all gone
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()

    def _wait_until_up(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"the production server did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until(condition, seconds: float = 15.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass: for work another process does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def sender_lock_holder() -> int | None:
    """The database connection (backend pid) that holds the message sender's lock, if any,
    in this database only (other test databases on the server have their own)."""
    from django.db import connection

    from appointments import locks

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [int(locks.LockSpace.SENDER)],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def connect_directly():
    """A psycopg connection of its own to the test database, beside Django's."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)
