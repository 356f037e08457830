"""Load benchmark: 50 patrons browsing and booking at once, against gunicorn, with a ceiling.

    scripts/with-db .venv/bin/python scripts/bench_load.py [--users 50] [--seconds 45]

Needs the bench extra (pip install -e '.[bench]': locust). It makes a throwaway database on the
same PostgreSQL server, loads the demo data, serves the app with gunicorn on a free loopback
port, drives it with locust (headless, bounded in time), then drives /healthz/live (a minimal
Django view) the same way, prints requests per second, latency percentiles and errors per page, the
ratio to the ceiling, the bookings made and the double bookings found (must be 0), and cleans up.
Only loopback traffic.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BENCH_DB = "library_help_bench_load"

DOUBLE_BOOKED_STAFF = """
SELECT count(*) FROM appointments_appointment a JOIN appointments_appointment b
  ON a.staff_id = b.staff_id AND a.id < b.id
 WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
   AND tstzrange(a.occupied_from, a.occupied_until) && tstzrange(b.occupied_from, b.occupied_until)
"""
DOUBLE_BOOKED_PATRONS = """
SELECT count(*) FROM appointments_appointment a JOIN appointments_appointment b
  ON a.patron_id = b.patron_id AND a.id < b.id
 WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
   AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
"""


def _admin_url() -> str:
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))


def create_database(name: str) -> str:
    """A new, empty database `name` on DATABASE_URL's server (dropped first if a run before
    left it behind). Returns its URL."""
    drop_database(name)
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + name))


def drop_database(name: str) -> None:
    """Drop the benchmark's database, ending any connection still open to it."""
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_locust(user_class: str, host: str, users: int, seconds: int, prefix: str) -> list[dict]:
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "scripts" / "locustfile.py"),
            user_class,
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--host",
            host,
            "--csv",
            prefix,
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--stop-timeout",
            "10",
        ],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def print_rows(title: str, rows: list[dict]) -> float:
    print(f"\n{title}")
    heading = ("requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors")
    print(f"{'page':28} " + " ".join(f"{h:>9}" for h in heading))
    total_rps = 0.0
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "ALL"
        rps = float(row["Requests/s"])
        if name == "ALL":
            total_rps = rps
        print(
            f"{name:28} {row['Request Count']:>9} {rps:>9.1f} {row['50%']:>9} {row['95%']:>9} "
            f"{row['99%']:>9} {row['Failure Count']:>9}"
        )
    return total_rps


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=45)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    import psycopg

    bench_url = create_database(BENCH_DB)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "EMAIL_URL": "dummymail://",
        "TEXT_BACKEND": "appointments.texting.MemoryTextBackend",
        # Every simulated patron shares 127.0.0.1: lift the per-client limits for this run.
        "RATELIMIT_BOOKING": "1000000/h",
        "RATELIMIT_ONLINE_BOOKINGS": "1000000/h",
        "RATELIMIT_LOOKUP": "1000000/m",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    server = None
    try:
        for command in (["migrate", "-v0"], ["createcachetable"], ["seed_demo"]):
            subprocess.run(manage + command, env=env, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "library_help.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as tmp:
            app_rows = run_locust("Patron", host, args.users, args.seconds, f"{tmp}/app")
            ceiling_rows = run_locust("Ceiling", host, args.users, args.seconds, f"{tmp}/ceiling")
        print(
            f"{args.users} concurrent simulated patrons, {args.seconds} s per run, gunicorn "
            f"with {args.workers} sync workers, locust on the same {os.cpu_count()}-core machine"
        )
        app_rps = print_rows("Patrons browsing and booking", app_rows)
        ceiling_rps = print_rows("Minimal Django view (the ceiling)", ceiling_rows)
        with psycopg.connect(bench_url, autocommit=True) as conn:
            booked = conn.execute(
                "SELECT count(*) FROM appointments_appointment a JOIN patrons_patron p "
                "ON p.id = a.patron_id WHERE p.name = 'Load Test Patron'"
            ).fetchone()[0]
            staff_doubles = conn.execute(DOUBLE_BOOKED_STAFF).fetchone()[0]
            patron_doubles = conn.execute(DOUBLE_BOOKED_PATRONS).fetchone()[0]
        print(
            f"\nRequests per second, app / ceiling: {app_rps:.1f} / {ceiling_rps:.1f} "
            f"= {app_rps / ceiling_rps:.2f}"
            if ceiling_rps
            else ""
        )
        print(f"Sessions booked during the run: {booked}")
        print(f"Double bookings (staff): {staff_doubles}; patrons in two places: {patron_doubles}")
        return 1 if staff_doubles or patron_doubles else 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_database(BENCH_DB)


if __name__ == "__main__":
    sys.exit(main())
