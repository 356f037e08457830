"""Production benchmarks: bookings with a dead mail server, and two app servers at once.

    scripts/with-db .venv/bin/python scripts/bench_production.py [--bookings 60]

Needs a Redis server for part 2 (REDIS_URL, default redis://127.0.0.1:6379/15, which is
flushed) and the redis extra (pip install -e '.[redis]').

Each part makes a throwaway database on the same PostgreSQL server, loads the demo data and
serves the app the production way: gunicorn, DEBUG=false, plus the message worker
(send_notifications --loop). The load comes from a few threads in this process, each a patron
with their own cookies, going through every step of a booking over real HTTP; only loopback.

1. Mail: the same bookings with a healthy mail server (a local SMTP sink) and with one that
   accepts connections and never answers. Prints the booking POST's p50/p95 for each: they
   should match, since no request talks to the mail server.
2. Two servers, one PostgreSQL, a shared Redis cache: each patron's steps alternate servers;
   many patrons race for the same times; one client address hammers both servers; one patron
   books from both at once. Prints bookings, refusals, double bookings (must be 0), what the
   rate limit let through across both servers (must be its limit, not twice it) and the
   patron's sessions (must be within the per-patron limits).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlencode

from bench_load import (
    BIN,
    DOUBLE_BOOKED_PATRONS,
    DOUBLE_BOOKED_STAFF,
    ROOT,
    create_database,
    drop_database,
    free_port,
)

DB = "library_help_bench_production"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SLOT = re.compile(r'name="slot" id="[^"]+" value="([^"]+)"')
FIRST_OPEN = re.compile(r'href="\?week=([0-9-]+)">Show the week of')
TOPIC = "computer-basics"
# What a patron may rightly be told: booked, or that time was just taken, or why not.
ANSWERED = ("booked", "taken", "refused (form says why)")


class Patron:
    """One browser: its cookies, its address (sent as X-Forwarded-For, as our proxy would)."""

    def __init__(self, ports: list[int], address: str):
        self.ports, self.address, self.cookies, self.step = ports, address, {}, 0

    def request(self, method: str, path: str, form: dict | None = None):
        port = self.ports[self.step % len(self.ports)]  # each step on the next server
        self.step += 1
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "X-Forwarded-For": self.address,
            "Host": "127.0.0.1",
        }
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        elapsed = time.perf_counter() - started
        conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.headers.get("Location", ""), text, elapsed

    def post(self, path: str, page: str, form: dict):
        token = CSRF.search(page)
        return self.request("POST", path, {"csrfmiddlewaretoken": token.group(1), **form})

    def book(self, *, email: str, pick: int = 0, week: str | None = None) -> tuple[str, float]:
        """Every step of an online booking. Returns ("booked" | "taken" | other, seconds of the
        final POST that creates the session)."""
        _, _, page, _ = self.request("GET", f"/book/{TOPIC}/")
        need = {"skill_level": "some", "learning_goal": "Email on my tablet", "party_size": 1}
        need["length"] = 60
        status, _, _, _ = self.post(f"/book/{TOPIC}/", page, need)
        if status != 302:
            return f"need {status}", 0.0
        path = f"/book/{TOPIC}/time/" + (f"?week={week}" if week else "")
        _, _, page, _ = self.request("GET", path)
        if not SLOT.search(page) and FIRST_OPEN.search(page):
            _, _, page, _ = self.request(
                "GET", f"/book/{TOPIC}/time/?week=" + FIRST_OPEN.search(page).group(1)
            )
        slots = SLOT.findall(page)
        if not slots:
            return "no open time", 0.0
        slot = slots[min(pick, len(slots) - 1)]
        status, contact, _, _ = self.post(f"/book/{TOPIC}/time/", page, {"slot": slot})
        if status == 200:
            return "taken", 0.0  # taken between showing the times and choosing: told so
        if status != 302:
            return f"time {status}", 0.0
        _, _, page, _ = self.request("GET", contact.replace("http://127.0.0.1", ""))
        status, where, _, seconds = self.post(
            f"/book/{TOPIC}/contact/",
            page,
            {"slot": slot, "name": "Bench Patron", "email": email, "preferred_contact": "email"},
        )
        if status == 302 and "/booking/" in where:
            return "booked", seconds
        if status == 302:
            return "taken", seconds
        if status == 200:
            return "refused (form says why)", seconds
        return f"details {status}", seconds


@contextmanager
def mail_server(*, answers: bool):
    """A real SMTP server on loopback: a sink that accepts everything, or one that accepts
    connections and never says a word."""

    class Sink(socketserver.StreamRequestHandler):
        def handle(self):
            if not answers:
                time.sleep(3600)
                return
            self.wfile.write(b"220 sink\r\n")
            in_data = False
            for line in self.rfile:
                if in_data:
                    if line == b".\r\n":
                        in_data = False
                        self.wfile.write(b"250 ok\r\n")
                    continue
                command = line[:4].upper()
                if command == b"DATA":
                    in_data = True
                    self.wfile.write(b"354 go on\r\n")
                elif command == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Sink)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def base_env(database_url: str, **extra) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "TRUSTED_PROXY_COUNT": "1",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "ERROR",
        "BOOKING_MAX_UPCOMING": "2",
        **extra,
    }


@contextmanager
def fresh_database():
    bench_url = create_database(DB)
    env = base_env(bench_url)
    manage = [sys.executable, str(ROOT / "manage.py")]
    try:
        for command in (["migrate", "-v0"], ["createcachetable"], ["seed_demo"]):
            subprocess.run(manage + command, env=env, check=True, stdout=subprocess.DEVNULL)
        yield bench_url
    finally:
        drop_database(DB)


@contextmanager
def production(env: dict, servers: int = 1, workers: int = 2):
    """gunicorn app servers (each its own port) and one message worker."""
    ports = [free_port() for _ in range(servers)]
    processes = [
        subprocess.Popen(
            [str(BIN / "gunicorn"), "library_help.wsgi", "-b", f"127.0.0.1:{port}"]
            + ["-w", str(workers), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        for port in ports
    ]
    processes.append(
        subprocess.Popen(
            [sys.executable, "manage.py", "send_notifications", "--loop"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    )
    try:
        for port in ports:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def many_bookings(ports: list[int], count: int, threads: int, *, pick=lambda n: 0):
    def one(n: int):
        patron = Patron(ports, address=f"10.1.{n // 250}.{n % 250 + 1}")
        return patron.book(email=f"bench-{uuid.uuid4().hex[:10]}@example.org", pick=pick(n))

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def query(url: str, sql: str):
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def part_mail(bookings: int) -> None:
    print("1. Booking with a healthy mail server and with one that never answers")
    print(f"   {bookings} online bookings each, 4 patrons at a time, gunicorn 2 workers + worker")
    print(f"   {'mail server':22} {'booked':>7} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    for name, answers in (("healthy (local sink)", True), ("never answers", False)):
        with fresh_database() as url, mail_server(answers=answers) as mail_port:
            env = base_env(
                url,
                EMAIL_URL=f"smtp://127.0.0.1:{mail_port}",
                EMAIL_TIMEOUT="10",
                RATELIMIT_BOOKING="1000000/h",
            )
            with production(env) as ports:
                many_bookings(ports, 4, 4)  # warm up each worker
                results = many_bookings(ports, bookings, 4, pick=lambda n: n % 8)
            booked = [s for outcome, s in results if outcome == "booked"]
            if not booked:
                print(f"   {name}: nothing booked: {sorted({o for o, _ in results})}")
                continue
            errors = [outcome for outcome, _ in results if outcome not in ANSWERED]
            print(
                f"   {name:22} {len(booked):>7} {percentile(booked, 0.5):>8.0f} "
                f"{percentile(booked, 0.95):>8.0f} {len(errors):>7} {' '.join(errors)}"
            )


def part_two_servers(bookings: int, redis_url: str) -> int:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    print("\n2. Two app servers on one PostgreSQL, rate limits counted in a shared Redis")
    with fresh_database() as url:
        env = base_env(url, CACHE_URL=redis_url, EMAIL_URL="dummymail://", RATELIMIT_BOOKING="12/h")
        with production(env, servers=2) as ports:
            # Patrons race for the first few times; every step alternates servers.
            results = many_bookings(ports, bookings, 8, pick=lambda n: n % 3)
            outcomes = {o: sum(1 for r, _ in results if r == o) for o, _ in results}
            # One address hammers the need form through both servers.
            greedy = Patron(ports, address="203.0.113.7")
            _, _, page, _ = greedy.request("GET", f"/book/{TOPIC}/")
            need = {"skill_level": "new", "learning_goal": "x", "party_size": 1, "length": 60}
            answers = [greedy.post(f"/book/{TOPIC}/", page, need)[0] for _ in range(30)]
            # One patron (one email) books from both servers at once, four times.
            one_email = f"same-{uuid.uuid4().hex[:8]}@example.org"
            with ThreadPoolExecutor(4) as pool:
                same = list(
                    pool.map(
                        lambda n: Patron(ports, f"10.9.0.{n + 1}").book(
                            email=one_email, pick=n * 4
                        ),
                        range(4),
                    )
                )
        doubles = query(url, DOUBLE_BOOKED_STAFF) + query(url, DOUBLE_BOOKED_PATRONS)
        sessions = query(
            url,
            "SELECT count(*) FROM appointments_appointment a JOIN patrons_patron p "
            f"ON p.id = a.patron_id WHERE p.email = '{one_email}' AND a.status = 'confirmed'",
        )
    errors = sum(n for outcome, n in outcomes.items() if outcome not in ANSWERED)
    refused = [o for o, _ in same]
    print(f"   racing patrons: {bookings}, outcomes: {outcomes} (errors: {errors})")
    print(f"   double bookings: {doubles} (must be 0)")
    print(
        f"   one address, 30 need-form posts across both servers with a 12/h limit: "
        f"{answers.count(302)} let through, {answers.count(429)} refused (429)"
    )
    print(
        f"   one patron booking 4 times at once through both servers: {sessions} confirmed "
        f"(limits: 2 upcoming, 1 a day), answers {refused}"
    )
    ok = doubles == 0 and errors == 0 and answers.count(302) == 12 and sessions <= 2
    print("   all held" if ok else "   SOMETHING DID NOT HOLD")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=60)
    parser.add_argument("--only", choices=["mail", "servers"])
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    print(f"{os.cpu_count()} cores; load from threads in this process, over loopback\n")
    if args.only != "servers":
        part_mail(args.bookings)
    if args.only != "mail":
        return part_two_servers(args.bookings, redis_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
