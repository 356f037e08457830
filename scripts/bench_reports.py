"""How long does a year's report take for a large library system? A benchmark, not a test.

    scripts/with-db .venv/bin/python scripts/bench_reports.py [--runs 10]

Builds a large system in a throwaway database (created for the run, dropped at the end, with all
the work inside a transaction that is rolled back): 40 staff at 5 branches (two time zones),
12 topics, 30,000 sessions over the past year (attended, missed, cancelled by each cause, party
sizes, lengths, how booked, first or returning), 5,000 walk-ins, 3,000 follow-up answers and
2,000 waiting-list entries with a year of purged counts. Then it renders the reports page for
the year in this process with Django's test client, as a manager, `--runs` times, and prints the
number of queries and the median and 95th-percentile milliseconds; the same for one CSV file.
With `--years N`: N times the sessions and walk-ins, over N years, and a report of all N first.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time as clock
from datetime import datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "library_help.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import (  # noqa: E402
    Appointment,
    Branch,
    CancelledBy,
    Feedback,
    StaffProfile,
    Status,
    Topic,
    WaitlistEntry,
    WaitlistState,
    WaitlistTally,
    WalkIn,
)
from patrons.models import Patron  # noqa: E402

BENCH_DATABASE = "bench_library_help_reports"
STAFF, BRANCHES, TOPICS = 40, 5, 12
SESSIONS, WALK_INS, ANSWERS, WAITING = 30_000, 5_000, 3_000, 2_000
ZONES = ["America/Chicago"] * 3 + ["America/New_York"] * 2


def build(rng: random.Random, years: int = 1) -> dict[str, int]:
    days = 365 * years
    branches = Branch.objects.bulk_create(
        Branch(name=f"Branch {n}", address=f"{n} Main Street", time_zone=ZONES[n])
        for n in range(BRANCHES)
    )
    topics = Topic.objects.bulk_create(
        Topic(name=f"Topic {n}", slug=f"topic-{n}", description="Help.", session_lengths=[30, 60])
        for n in range(TOPICS)
    )
    users = User.objects.bulk_create(
        User(username=f"bench-staff-{n}", is_staff=True) for n in range(STAFF)
    )
    staff = StaffProfile.objects.bulk_create(
        StaffProfile(user=user, public_name=f"Staff {n}") for n, user in enumerate(users)
    )
    home = {member.pk: branches[n % BRANCHES] for n, member in enumerate(staff)}
    today = timezone.localdate()
    sessions = []
    for member in staff:
        branch = home[member.pk]
        taken: set[tuple[int, int]] = set()
        while len(taken) < years * SESSIONS // STAFF:
            taken.add((rng.randrange(days), rng.randrange(9, 18)))
        for days_ago, hour in taken:
            day = today - timedelta(days=days_ago)
            start = datetime.combine(day, time(hour), tzinfo=branch.tz)
            minutes = rng.choice([30, 60])
            roll = rng.random()
            if start > timezone.now():
                status = Status.CONFIRMED
            elif roll < 0.7:
                status = Status.ATTENDED
            elif roll < 0.8:
                status = Status.NO_SHOW
            else:
                status = Status.CANCELLED
            end = start + timedelta(minutes=minutes)
            sessions.append(
                Appointment(
                    staff=member,
                    branch=branch,
                    topic=rng.choice(topics),
                    skill_level=rng.choice(["new", "some", "confident"]),
                    learning_goal="",
                    party_size=rng.choice([1, 1, 1, 1, 2, 3]),
                    starts_at=start,
                    ends_at=end,
                    occupied_from=start,
                    occupied_until=end,
                    status=status,
                    channel=rng.choice(["online", "online", "desk", "phone"]),
                    contact_method=rng.choice(["email", "email", "text", "call"]),
                    first_booking=rng.random() < 0.4,
                    cancelled_by=(
                        rng.choice(list(CancelledBy)) if status == Status.CANCELLED else ""
                    ),
                )
            )
    Appointment.objects.bulk_create(sessions, batch_size=2000)
    with connection.cursor() as cursor:
        # Booked a few hours to three weeks ahead (auto_now_add set "now" on insert).
        cursor.execute(
            "UPDATE appointments_appointment "
            "SET created_at = starts_at - (1 + random() * 500) * interval '1 hour'"
        )
    walk_ins = [
        WalkIn(
            branch=rng.choice(branches),
            topic=rng.choice(topics),
            minutes=rng.choice([5, 10, 15, 20, 30]),
            skill_level=rng.choice(["new", "some", "confident"]),
            recorded_by=rng.choice(users),
        )
        for _ in range(years * WALK_INS)
    ]
    WalkIn.objects.bulk_create(walk_ins, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE appointments_walkin SET at = date_trunc('day', now()) "
            "- floor(random() * %s) * interval '1 day' + (14 + random() * 8) * interval '1 hour'",
            [days],
        )
    attended = list(
        Appointment.objects.filter(status=Status.ATTENDED).values_list("pk", flat=True)[:ANSWERS]
    )
    Feedback.objects.bulk_create(
        Feedback(appointment_id=pk, helpful=rng.randint(1, 5)) for pk in attended
    )
    patrons = Patron.objects.bulk_create(
        Patron(name=f"Patron {n}", email=f"p{n}@example.org") for n in range(WAITING)
    )
    WaitlistEntry.objects.bulk_create(
        WaitlistEntry(
            topic=rng.choice(topics),
            branch=rng.choice(branches),
            patron=patron,
            skill_level="new",
            learning_goal="",
            length=60,
            state=rng.choice([WaitlistState.WAITING, WaitlistState.BOOKED, WaitlistState.REMOVED]),
            offers_made=rng.randint(0, 2),
        )
        for patron in patrons
    )
    WaitlistTally.objects.bulk_create(
        WaitlistTally(
            day=today - timedelta(days=days_ago),
            topic=rng.choice(topics),
            branch=rng.choice(branches),
            joined=5,
            offered=3,
            offers=4,
            taken=2,
            left=1,
        )
        for days_ago in range(90, days)
    )
    return {
        "staff": STAFF,
        "branches": BRANCHES,
        "sessions": Appointment.objects.count(),
        "walk-ins": WalkIn.objects.count(),
        "answers": Feedback.objects.count(),
        "waiting": WaitlistEntry.objects.count(),
    }


def measure(client: Client, url: str, runs: int, slowest: int = 0) -> dict[str, float]:
    client.get(url)  # warm up: templates, query compilation, zoneinfo caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    # Read now: the next request empties the log that the context reads from.
    count = len(queries.captured_queries)
    for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:slowest]:
        print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:110]}")
    timings = []
    for _ in range(runs):
        started = clock.perf_counter()
        client.get(url)
        timings.append((clock.perf_counter() - started) * 1000)
    return {
        "queries": count,
        "median ms": statistics.median(timings),
        "p95 ms": statistics.quantiles(timings, n=20)[18] if runs >= 2 else timings[0],
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="page renders to time")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--slowest", type=int, default=0, help="print the N slowest queries")
    parser.add_argument(
        "--years", type=int, default=1, help="years of data (the longest report is five)"
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False  # as in production: no query log kept but while counting
    connection.settings_dict.setdefault("TEST", {})["NAME"] = BENCH_DATABASE
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with transaction.atomic():
            started = clock.perf_counter()
            counts = build(rng, args.years)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            built = ", ".join(f"{v} {k}" for k, v in counts.items())
            print(f"Built in {clock.perf_counter() - started:.0f} s: {built}")
            manager = User.objects.create_superuser("bench-manager", "m@example.org", None)
            client = Client()
            client.force_login(manager)
            today = timezone.localdate()
            year = f"?start={today - timedelta(days=364)}&end={today}"
            pages = {
                "reports page, the past year": "/desk/reports/" + year,
                "reports page, one branch and topic": "/desk/reports/"
                + year
                + f"&branch={Branch.objects.first().pk}&topic={Topic.objects.first().pk}",
                "CSV of the staff table": "/desk/reports/staff.csv" + year,
                "for comparison, the bare view /healthz/live": "/healthz/live",
            }
            if args.years > 1:
                since = today.replace(year=today.year - args.years) + timedelta(days=1)
                pages = {
                    f"reports page, the past {args.years} years": "/desk/reports/"
                    + f"?start={since}&end={today}",
                    **pages,
                }
            print(f"{args.runs} runs each, in process (Django test client, DEBUG={settings.DEBUG})")
            # How busy the machine is: a year's sessions counted, plainly, and the load average.
            plain = []
            for _ in range(args.runs):
                started = clock.perf_counter()
                Appointment.objects.count()
                plain.append((clock.perf_counter() - started) * 1000)
            print(
                f"machine: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
                f"counting {counts['sessions']} sessions takes {statistics.median(plain):.1f} ms"
            )
            for label, url in pages.items():
                results = measure(client, url, args.runs, args.slowest)
                print(f"\n{label}")
                for name, value in results.items():
                    shown = f"{value:.1f}" if isinstance(value, float) else str(value)
                    print(f"  {name:<10} {shown}")
            transaction.set_rollback(True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
