"""Patron pages under wrk: requests per second and latency per page, against the bare view.

    scripts/with-db .venv/bin/python scripts/bench_pages.py [--large] [--workers 4]
        [--threads 2] [--connections 50] [--seconds 20] [--warmup 3] [--bookings 40]
        [--cache redis://127.0.0.1:6379/14]

Makes a throwaway database on the same PostgreSQL server, migrates, loads the demo data (with
--large, also the large library of scripts/bench_slots.py: 40 staff, 5 branches, a month booked,
and the pages are those of its topic), collects the static files (into the ignored staticfiles/,
as a deployment does), serves the app with gunicorn and the production settings, then drives
one page at a time with wrk, each after a short warm-up: /healthz/live (a bare Django view: the
ceiling), the privacy page (a template and no query: the most any of our pages could reach),
home, a topic's need form, its time page (with the cookies of a browser that has described its
need) and the need POST. With --cache, the shared cache (rate limits, cached open times,
sessions) is that Redis database, flushed first, instead of the default PostgreSQL table.
Booking itself is not driven by wrk (it would use up the open times): --bookings online
bookings are walked by --clients concurrent Python patrons (bench_production.Patron), and the
booking POST's p50/p95 printed, with the SQL queries each patron request makes, counted
in-process (Django's test Client and CaptureQueriesContext, in a `manage.py shell` against the
same database). gunicorn is pinned to one core and wrk (and the
booking patrons) to the other when taskset is there; PostgreSQL is not pinned. Only loopback.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

import bench_production
from bench_load import BIN, ROOT, create_database, drop_database, free_port
from bench_production import CSRF, Patron, many_bookings, percentile

DB = "library_help_bench_pages"
DEMO_TOPIC = "computer-basics"
LARGE_TOPIC = "large-system-computer-basics"  # bench_slots.build(LIBRARIES[1]) names it so
NEED = {"skill_level": "some", "learning_goal": "Email on my tablet", "party_size": 1, "length": 60}

BUILD_LARGE = (
    "import random, sys; sys.path.insert(0, 'scripts'); import bench_slots; "
    "bench_slots.build(bench_slots.LIBRARIES[1], random.Random(2026))"
)

# Run in `manage.py shell` against the benchmark database: queries per page, one patron's walk.
COUNT_QUERIES = """
import os, sys
sys.path.insert(0, "scripts")
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from bench_production import FIRST_OPEN, SLOT
topic = os.environ["BENCH_TOPIC"]
client = Client()
counts = {}
def step(name, method, path, data=None):
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path, data) if data else getattr(client, method)(path)
    counts[name] = len(queries)
    return response
step("home", "get", "/")
step("need form", "get", f"/book/{topic}/")
need = {"skill_level": "some", "learning_goal": "Queries", "party_size": 1, "length": 60}
assert step("need POST", "post", f"/book/{topic}/", need).status_code == 302
page = step("time page", "get", f"/book/{topic}/time/").content.decode()
if not SLOT.search(page) and FIRST_OPEN.search(page):
    page = client.get(f"/book/{topic}/time/?week=" + FIRST_OPEN.search(page).group(1))
    page = page.content.decode()
slot = SLOT.findall(page)[-1]
response = client.post(f"/book/{topic}/time/", {"slot": slot})
assert response.status_code == 302, response.status_code
client.get(response["Location"])
details = {"slot": slot, "name": "Query Count", "email": "queries@example.org"}
details["preferred_contact"] = "email"
response = step("booking POST", "post", f"/book/{topic}/contact/", details)
assert response.status_code == 302 and "/booking/" in response["Location"], response
print("QUERIES " + "; ".join(f"{k}={v}" for k, v in counts.items()))

# CPU per request in this one process (best of 5 runs of 200), which other load on the machine
# barely moves, unlike req/s: where the time goes, page by page.
import time
browser = Client()
assert browser.post(f"/book/{topic}/", need).status_code == 302
cpu = {}
for name, path in [("bare view", "/healthz/live"), ("privacy", "/privacy/"), ("home", "/"),
                   ("need form", f"/book/{topic}/"), ("time page", f"/book/{topic}/time/")]:
    for _ in range(50):
        browser.get(path)
    runs = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(200):
            browser.get(path)
        runs.append((time.process_time() - started) / 200 * 1000)
    cpu[name] = min(runs)
print("CPU " + "; ".join(f"{k}={v:.2f} ms" for k, v in cpu.items()))
"""

LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d %d %d\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, summary.requests))
end
"""


def lua_string(text: str) -> str:
    return f"[==[{text}]==]"


def server_env(database_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
        "LOG_LEVEL": "ERROR",
        # Every client is 127.0.0.1: lift the per-client limits for this run.
        "RATELIMIT_BOOKING": "1000000/h",
        "RATELIMIT_ONLINE_BOOKINGS": "1000000/h",
        "RATELIMIT_LOOKUP": "1000000/m",
        "EMAIL_URL": "dummymail://",
    }


def run_wrk(args, pin: list[str], url: str, script: str, headers: list[str], seconds: int):
    """One wrk run; returns its figures and the CPU seconds wrk itself used."""
    command = pin + ["wrk", "-t", str(args.threads), "-c", str(args.connections)]
    command += [
        "-d",
        f"{seconds}s",
        "--timeout",
        f"{args.timeout}s",
        "--latency",
        "-s",
        script,
        url,
    ]
    for header in headers:
        command += ["-H", header]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))
    p50, p95, p99, *errors, requests = (int(n) for n in output.split("BENCH ")[1].split())
    return {
        "rps": rps,
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
        "errors": sum(errors),  # connect, read, write, timeout and non-2xx/3xx answers
        "kinds": dict(
            zip(("connect", "read", "write", "non-2xx/3xx", "timeout"), errors, strict=True)
        ),
        "requests": requests,
        "wrk cpu": cpu,
    }


def wait_for(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add the 40-staff library, use it")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--seconds", type=int, default=20, help="wrk run per page")
    parser.add_argument("--warmup", type=int, default=3, help="wrk warm-up per page, seconds")
    parser.add_argument(
        "--timeout", type=int, default=10, help="wrk request timeout, seconds (wrk's own is 2)"
    )
    parser.add_argument("--bookings", type=int, default=40, help="bookings in the booking walk")
    parser.add_argument("--clients", type=int, default=4, help="concurrent booking patrons")
    parser.add_argument("--cache", help="CACHE_URL for the server (redis://...; flushed)")
    args = parser.parse_args()

    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian's package)")
    bench_url = create_database(DB)
    env = server_env(bench_url)
    if args.cache:
        import redis

        redis.Redis.from_url(args.cache).flushdb()
        env["CACHE_URL"] = args.cache
    topic = LARGE_TOPIC if args.large else DEMO_TOPIC
    library = "demo + large library (40 staff, 5 branches)" if args.large else "demo library"
    bench_production.TOPIC = topic  # Patron.book walks this topic

    pinned = bool(shutil.which("taskset")) and len(os.sched_getaffinity(0)) >= 2
    cores = sorted(os.sched_getaffinity(0))
    server_pin = ["taskset", "-c", str(cores[0])] if pinned else []
    load_pin = ["taskset", "-c", str(cores[1])] if pinned else []

    manage = [sys.executable, str(ROOT / "manage.py")]
    server = None
    try:
        commands = [["migrate", "-v0"], ["createcachetable"], ["seed_demo"]]
        commands.append(["collectstatic", "--noinput", "-v0"])  # DEBUG=false needs the manifest
        if args.large:
            commands.append(["shell", "-c", BUILD_LARGE])
        for command in commands:
            subprocess.run(
                manage + command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
            )

        port = free_port()
        host = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            server_pin
            + [str(BIN / "gunicorn"), "library_help.wsgi", "-b", f"127.0.0.1:{port}"]
            + ["-w", str(args.workers), "--log-level", "error"],  # no access log by default
            cwd=ROOT,
            env=env,
        )
        wait_for(port)

        # A browser that has described its need: its cookies and CSRF token, for the time
        # page and the need POST.
        browser = Patron([port], address="127.0.0.1")
        _, _, page, _ = browser.request("GET", f"/book/{topic}/")
        token = CSRF.search(page).group(1)
        status, _, _, _ = browser.post(f"/book/{topic}/", page, NEED)
        assert status == 302, f"need POST answered {status}"
        cookie = "Cookie: " + "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        need_body = urlencode({"csrfmiddlewaretoken": token, **NEED})

        pages = [
            ("bare view /healthz/live", "/healthz/live", None, []),
            ("template, no query /privacy/", "/privacy/", None, []),
            ("home /", "/", None, []),
            ("need form GET /book/<t>/", f"/book/{topic}/", None, []),
            ("time page GET /book/<t>/time/", f"/book/{topic}/time/", None, [cookie]),
            ("need POST /book/<t>/", f"/book/{topic}/", need_body, [cookie]),
        ]
        print(
            f"{os.cpu_count()} cores; gunicorn {args.workers} sync workers"
            + (f" pinned to core {cores[0]}, wrk to core {cores[1]}" if pinned else ", no pinning")
            + f" (taskset {'used' if pinned else 'not available'}); PostgreSQL unpinned"
        )
        print(
            f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s "
            f"--timeout {args.timeout}s per page after a {args.warmup} s warm-up; {library}, "
            f"topic {topic}; CONN_MAX_AGE={env['CONN_MAX_AGE']}; "
            f"cache {'Redis' if args.cache else 'PostgreSQL table (the default)'}\n"
        )
        heading = (
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "requests",
            "ratio",
            "wrk CPU s",
        )
        print(f"{'page':32} " + " ".join(f"{h:>9}" for h in heading))
        ceiling = None
        with tempfile.TemporaryDirectory() as tmp:
            for name, path, body, headers in pages:
                script = os.path.join(tmp, "page.lua")
                lua = LUA_DONE
                if body is not None:
                    lua = (
                        'wrk.method = "POST"\n'
                        f"wrk.body = {lua_string(body)}\n"
                        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                        f'wrk.headers["Referer"] = {lua_string(host + path)}\n'
                    ) + lua
                with open(script, "w") as handle:
                    handle.write(lua)
                if args.warmup:
                    run_wrk(args, load_pin, host + path, script, headers, args.warmup)
                row = run_wrk(args, load_pin, host + path, script, headers, args.seconds)
                ceiling = ceiling or row["rps"]
                print(
                    f"{name:32} {row['rps']:>9.1f} {row['p50']:>9.1f} {row['p95']:>9.1f} "
                    f"{row['p99']:>9.1f} {row['errors']:>9} {row['requests']:>9} "
                    f"{row['rps'] / ceiling:>9.2f} {row['wrk cpu']:>9.2f}"
                )
                if row["errors"]:
                    kinds = ", ".join(f"{n} {k}" for k, n in row["kinds"].items() if n)
                    print(f"{'':32} errors: {kinds}")

        # The booking walk: Python patrons, each every step of an online booking.
        before = os.sched_getaffinity(0)
        if pinned:
            os.sched_setaffinity(0, {cores[1]})
        try:
            many_bookings([port], args.clients, args.clients)  # warm up
            results = many_bookings([port], args.bookings, args.clients, pick=lambda n: n % 8)
        finally:
            os.sched_setaffinity(0, before)
        booked = [seconds for outcome, seconds in results if outcome == "booked"]
        others = {o: sum(1 for r, _ in results if r == o) for o, _ in results if o != "booked"}
        counted = subprocess.run(
            manage + ["shell", "-c", COUNT_QUERIES],
            env={**env, "BENCH_TOPIC": topic},
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        queries = counted.split("QUERIES ", 1)[1].split("\n", 1)[0].strip()
        cpu = counted.split("CPU ", 1)[1].strip()
        if booked:
            print(
                f"\nbooking POST (details step), {args.bookings} walks by {args.clients} "
                f"concurrent patrons: {len(booked)} booked, p50 {percentile(booked, 0.5):.0f} ms, "
                f"p95 {percentile(booked, 0.95):.0f} ms; other outcomes {others or 'none'}"
            )
        else:
            print(f"\nbooking walk: nothing booked: {others}")
        print(f"SQL queries per request (in-process, test Client): {queries}")
        print(f"CPU per request (in-process, test Client, best of 5 x 200): {cpu}")
        return 0 if booked else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_database(DB)


if __name__ == "__main__":
    sys.exit(main())
