"""How long does a month of open times take to compute? A benchmark, not a test.

    scripts/with-db .venv/bin/python scripts/bench_slots.py [--runs 50]

Builds two libraries in a throwaway database (created for the run, dropped at the end, with all
the work inside a transaction that is rolled back): one like the demo (4 staff, 2 branches) and
a large system (40 staff, 5 branches), each with weekly hours, staff meetings blocked out, other
blocks, closures and a month of booked sessions. Then it computes a month of open times for one
topic, as the patron time page does, `--runs` times, and prints per library: the number of
queries, median and 95th-percentile milliseconds per month (and the mean spent waiting on SQL),
slots found and peak Python memory.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time as clock
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "library_help.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.booking import booking_window, find_open_slots  # noqa: E402
from appointments.models import (  # noqa: E402
    Appointment,
    Availability,
    Block,
    Branch,
    Closure,
    StaffProfile,
    Topic,
)
from patrons.models import Patron  # noqa: E402

BENCH_DATABASE = "bench_library_help"
BOOKED_SHARE = 0.15  # chance that an open start is booked, when its staff member is still free


@dataclass
class Library:
    label: str
    staff: int
    branches: int


LIBRARIES = [Library("demo-sized", 4, 2), Library("large system", 40, 5)]


def weekly_pattern(rng: random.Random) -> list[tuple[int, int, int]]:
    """Three to five two- or three-hour stretches, Monday to Saturday."""
    days = rng.sample(range(6), rng.randint(3, 5))
    pattern = []
    for day in sorted(days):
        start = rng.choice([9, 10, 13, 14])
        pattern.append((day, start, start + rng.choice([2, 3])))
    return pattern


def build(library: Library, rng: random.Random) -> tuple[Topic, dict[str, int]]:
    tag = library.label.replace(" ", "-")
    zones = ["America/Chicago", "America/Chicago", "America/New_York"]
    branches = [
        Branch.objects.create(
            name=f"{tag} branch {n}", address=f"{n} Main Street", time_zone=zones[n % len(zones)]
        )
        for n in range(library.branches)
    ]
    topic = Topic.objects.create(
        name=f"{tag} computer basics",
        slug=f"{tag}-computer-basics",
        description="Mouse, keyboard, files and folders.",
        session_lengths=[30, 60],
        padding_after=10,
    )
    other = Topic.objects.create(
        name=f"{tag} job search", slug=f"{tag}-job-search", description="Résumés and applications."
    )

    today = timezone.localdate()
    staff_members = []
    hours = []
    blocks = []
    for n in range(library.staff):
        user = User.objects.create(username=f"{tag}-staff-{n}", is_staff=True)
        staff = StaffProfile.objects.create(user=user, public_name=f"Staff {n}")
        home = branches[n % len(branches)]
        works_at = [home]
        if n % 4 == 0 and len(branches) > 1:
            works_at.append(branches[(n + 1) % len(branches)])
        staff.branches.add(*works_at)
        # Two in three staff teach the benchmarked topic; everyone teaches the other one.
        staff.topics.add(other, *([topic] if n % 3 != 2 else []))
        for weekday, start, end in weekly_pattern(rng):
            hours.append(
                Availability(
                    staff=staff,
                    branch=rng.choice(works_at),
                    weekday=weekday,
                    start_time=time(start),
                    end_time=time(end),
                )
            )
        for week in range(9):
            thursday = today + timedelta(days=(3 - today.weekday()) % 7 + 7 * week)
            meeting = datetime.combine(thursday, time(14), tzinfo=home.tz)
            blocks.append(
                Block(
                    staff=staff,
                    starts_at=meeting,
                    ends_at=meeting + timedelta(hours=1),
                    reason="Staff meeting",
                )
            )
        for _ in range(3):
            day = today + timedelta(days=rng.randint(0, 40))
            start = datetime.combine(day, time(rng.choice([9, 10, 13])), tzinfo=home.tz)
            blocks.append(
                Block(
                    staff=staff,
                    starts_at=start,
                    ends_at=start + timedelta(hours=2),
                    reason="Programme",
                )
            )
        staff_members.append(staff)
    Availability.objects.bulk_create(hours)
    Block.objects.bulk_create(blocks)

    closures = [
        Closure(
            branch=branch,
            first_day=today + timedelta(days=20),
            last_day=today + timedelta(days=20),
            reason="Holiday",
        )
        for branch in branches
    ]
    if len(branches) > 2:
        closures.append(
            Closure(
                branch=branches[2],
                first_day=today + timedelta(days=8),
                last_day=today + timedelta(days=15),
                reason="Renovation",
            )
        )
    Closure.objects.bulk_create(closures)

    booked = book_a_month(topic, other, rng)
    counts = {
        "staff": library.staff,
        "branches": library.branches,
        "weekly stretches": len(hours),
        "blocks": len(blocks),
        "closures": len(closures),
        "booked sessions": booked,
    }
    return topic, counts


def book_a_month(topic: Topic, other: Topic, rng: random.Random) -> int:
    """Book a share of the coming month's open times, never two at once for one staff member."""
    first_day = timezone.localdate()
    window = booking_window(for_desk=True)
    free = find_open_slots(
        topic,
        length=60,
        first_day=first_day,
        last_day=first_day + timedelta(days=35),
        window=window,
    )
    free += find_open_slots(
        other,
        length=60,
        first_day=first_day,
        last_day=first_day + timedelta(days=35),
        window=window,
    )
    taken_until: dict[int, datetime] = {}
    chosen = []
    for slot in sorted(free):
        busy_until = taken_until.get(slot.staff_id, datetime.min.replace(tzinfo=UTC))
        if slot.start < busy_until or rng.random() > BOOKED_SHARE:
            continue
        chosen.append(slot)
        taken_until[slot.staff_id] = slot.end + timedelta(minutes=topic.padding_after)
    patrons = Patron.objects.bulk_create(
        Patron(name=f"Patron {n}", email=f"patron{n}@example.org") for n in range(len(chosen))
    )
    Appointment.objects.bulk_create(
        Appointment(
            patron=patron,
            staff_id=slot.staff_id,
            branch_id=slot.branch_id,
            topic=topic,
            skill_level="some",
            learning_goal="Learn the basics",
            starts_at=slot.start,
            ends_at=slot.end,
            padding_after=topic.padding_after,
            occupied_from=slot.start,
            occupied_until=slot.end + timedelta(minutes=topic.padding_after),
        )
        for patron, slot in zip(patrons, chosen, strict=True)
    )
    return len(chosen)


def month_of_slots(topic: Topic):
    first_day = timezone.localdate()
    return find_open_slots(
        topic,
        length=60,
        first_day=first_day,
        last_day=first_day + timedelta(days=30),
        window=booking_window(),
    )


def measure(topic: Topic, runs: int) -> dict[str, float]:
    month_of_slots(topic)  # warm up: connection, query compilation, zoneinfo caches
    with CaptureQueriesContext(connection) as queries:
        slots = month_of_slots(topic)
    timings = []
    sql_seconds = 0.0

    def time_sql(execute, sql, params, many, context):
        nonlocal sql_seconds
        started = clock.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_seconds += clock.perf_counter() - started

    with connection.execute_wrapper(time_sql):
        for _ in range(runs):
            started = clock.perf_counter()
            month_of_slots(topic)
            timings.append((clock.perf_counter() - started) * 1000)
    tracemalloc.start()
    month_of_slots(topic)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "queries": len(queries),
        "median ms": statistics.median(timings),
        "p95 ms": statistics.quantiles(timings, n=20)[18] if runs >= 2 else timings[0],
        "mean SQL ms": sql_seconds * 1000 / runs,
        "slots found": len(slots),
        "peak memory KiB": peak / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="month computations per library")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    connection.settings_dict.setdefault("TEST", {})["NAME"] = BENCH_DATABASE
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with transaction.atomic():
            print(f"A month of open times for one topic, 60-minute sessions, {args.runs} runs each")
            for library in LIBRARIES:
                topic, counts = build(library, rng)
                results = measure(topic, args.runs)
                print(f"\n{library.label}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
                for name, value in results.items():
                    shown = f"{value:.2f}" if isinstance(value, float) else str(value)
                    print(f"  {name:<16} {shown}")
            transaction.set_rollback(True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
