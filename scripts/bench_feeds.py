"""How long does one refresh of 50 staff calendar feeds take, and what does it cost the database?
A benchmark, not a test.

    scripts/with-db .venv/bin/python scripts/bench_feeds.py [--feeds 50] [--events 300]
        [--history 2000]

Builds a throwaway database (created for the run, dropped at the end) with `--feeds` staff
members, and serves each a realistic published Outlook calendar from a local HTTP server on
127.0.0.1: a Windows time zone, about a tenth of the events weekly or daily series (with
exceptions and a moved instance), the rest single meetings over four months, in every busy
status. Then it times refreshes of all of them (`calendar_feeds.refresh_feeds`): the first
(every feed new: busy times written), a second with nothing changed, and a third after every
feed changed one meeting. Prints wall time, CPU time of the process (the fetch threads
included), SQL queries and rows written.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time as clock
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "library_help.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.calendar_feeds import refresh_feeds  # noqa: E402
from appointments.models import BusyTime, CalendarFeed, StaffProfile  # noqa: E402

BENCH_DATABASE = "bench_feeds_library_help"
STATUSES = ["BUSY"] * 6 + ["TENTATIVE", "OOF", "FREE", "WORKINGELSEWHERE"]
VTIMEZONE = """BEGIN:VTIMEZONE\r
TZID:Central Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T020000\r
TZOFFSETFROM:-0500\r
TZOFFSETTO:-0600\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010101T020000\r
TZOFFSETFROM:-0600\r
TZOFFSETTO:-0500\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3\r
END:DAYLIGHT\r
END:VTIMEZONE\r
"""


def _event(uid: str, start: datetime, minutes: int, status: str, extra: str = "") -> str:
    tz = "TZID=Central Standard Time"
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:Meeting {uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;{tz}:{start:%Y%m%dT%H%M00}\r\n"
        f"DTEND;{tz}:{start + timedelta(minutes=minutes):%Y%m%dT%H%M00}\r\n"
        f"X-MICROSOFT-CDO-BUSYSTATUS:{status}\r\nTRANSP:OPAQUE\r\n{extra}END:VEVENT\r\n"
    )


def make_feed(
    rng: random.Random, events: int, today: datetime, version: int = 0, history: int = 0
) -> bytes:
    """An Outlook-like published calendar: recurring series and single meetings (and
    `history` single meetings from the last three years)."""
    parts = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:Microsoft Exchange Server 2010\r\n"]
    parts.append(VTIMEZONE)
    series = events // 10
    for n in range(series):
        start = (today - timedelta(days=rng.randint(0, 120))).replace(
            hour=rng.randint(8, 16), minute=rng.choice([0, 30])
        )
        weekly = rng.random() < 0.8
        rule = f"RRULE:FREQ=WEEKLY;BYDAY={start.strftime('%a')[:2].upper()}\r\n"
        if not weekly:
            rule = "RRULE:FREQ=DAILY;COUNT=20\r\n"
        skipped = start + timedelta(weeks=rng.randint(2, 8))
        extra = rule + f"EXDATE;TZID=Central Standard Time:{skipped:%Y%m%dT%H%M00}\r\n"
        parts.append(_event(f"series-{n}", start, rng.choice([30, 60]), "BUSY", extra))
        if weekly and n % 3 == 0:
            moved_from = start + timedelta(weeks=rng.randint(10, 16))
            rid = f"RECURRENCE-ID;TZID=Central Standard Time:{moved_from:%Y%m%dT%H%M00}\r\n"
            moved_to = moved_from + timedelta(days=1, hours=1)
            parts.append(_event(f"series-{n}", moved_to, 60, "BUSY", rid))
    for n in range(events - series):
        start = (today + timedelta(days=rng.randint(-30, 90))).replace(
            hour=rng.randint(8, 17), minute=rng.choice([0, 15, 30, 45])
        )
        parts.append(
            _event(f"single-{n}", start, rng.choice([30, 45, 60, 90]), rng.choice(STATUSES))
        )
    for n in range(history):
        start = (today - timedelta(days=rng.randint(3, 3 * 365))).replace(hour=rng.randint(8, 17))
        parts.append(_event(f"past-{n}", start, 60, rng.choice(STATUSES)))
    if version:
        parts.append(_event(f"new-{version}", today + timedelta(days=3), 60, "BUSY"))
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts).encode()


def serve(feeds: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = feeds[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed(label: str, feeds: list[CalendarFeed]) -> None:
    rows_before = BusyTime.objects.count()
    wall, cpu = clock.perf_counter(), clock.process_time()
    with CaptureQueriesContext(connection) as queries:
        counts = refresh_feeds(feeds, now=timezone.now())
    wall, cpu = clock.perf_counter() - wall, clock.process_time() - cpu
    writes = sum(
        1 for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))
    )
    print(
        f"{label:<34} {wall:6.2f} s wall  {cpu:6.2f} s CPU  {len(queries):4} queries "
        f"({writes} writes)  busy rows {rows_before} -> {BusyTime.objects.count()}  {counts}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--events", type=int, default=300, help="events in each feed")
    parser.add_argument(
        "--history", type=int, default=0, help="past meetings (last three years) in each feed"
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    settings.CALENDAR_FEEDS_ALLOW_LOOPBACK = True
    rng = random.Random(args.seed)
    today = timezone.localtime().replace(tzinfo=None, second=0, microsecond=0)

    connection.settings_dict.setdefault("TEST", {})["NAME"] = BENCH_DATABASE
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        bodies = {
            f"/staff-{n}.ics": make_feed(rng, args.events, today, history=args.history)
            for n in range(args.feeds)
        }
        server = serve(bodies)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for n in range(args.feeds):
            user = User.objects.create_user(f"staff{n}", email=f"staff{n}@library.example")
            staff = StaffProfile.objects.create(user=user, public_name=f"Staff {n}")
            CalendarFeed.objects.create(staff=staff, address=f"{base}/staff-{n}.ics")
        size = sum(len(body) for body in bodies.values()) / len(bodies) / 1024
        print(
            f"{args.feeds} feeds of {args.events} events ({size:.0f} KB each, a tenth of them "
            f"recurring series; {args.history} past meetings), served on 127.0.0.1"
        )
        feeds = list(CalendarFeed.objects.select_related("staff"))
        timed("First refresh (all busy times new)", feeds)
        feeds = list(CalendarFeed.objects.select_related("staff"))
        timed("Nothing changed", feeds)
        for n in range(args.feeds):
            bodies[f"/staff-{n}.ics"] = make_feed(
                random.Random(n), args.events, today, 1, history=args.history
            )
        feeds = list(CalendarFeed.objects.select_related("staff"))
        timed("Every feed changed", feeds)
        server.shutdown()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
