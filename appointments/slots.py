"""Open times, computed from plain data: no database here.

Everything a day's open times depend on is passed in: weekly hours (in the branch's wall-clock
time), busy stretches (blocks and booked sessions, in UTC), closures and the booking window.
Candidate start times are laid out in local wall-clock time and only then turned into instants,
so a 10:00 session is at 10:00 on both sides of a daylight-saving change, and a time that does
not exist that day (the hour skipped in spring) is never offered. A time the clock shows twice
(the hour repeated in autumn) is offered twice, once for each time the clock shows it; and
hours that end inside the skipped hour end when the clock jumps, never later.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WeeklyHours:
    staff_id: int
    branch_id: int
    weekday: int  # Monday is 0
    start: time
    end: time
    valid_from: date | None = None
    valid_until: date | None = None

    @classmethod
    def of(cls, row) -> WeeklyHours:
        """From a row of staff hours (an Availability, or anything with its fields)."""
        return cls(
            row.staff_id,
            row.branch_id,
            row.weekday,
            row.start_time,
            row.end_time,
            row.valid_from,
            row.valid_until,
        )

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or day >= self.valid_from)
            and (self.valid_until is None or day <= self.valid_until)
        )


@dataclass(frozen=True)
class Busy:
    staff_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ClosedDays:
    branch_id: int
    first_day: date
    last_day: date


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime
    staff_id: int
    branch_id: int


def wall_clock(day: date, at: time, tz: ZoneInfo, *, fold: int = 0) -> datetime | None:
    """The instant a local clock shows `at` on `day`, or None if that time is skipped that day.

    When the clock shows `at` twice (clocks going back), fold=0 is the first time, fold=1 the
    second.
    """
    local = datetime.combine(day, at, tzinfo=tz).replace(fold=fold)
    as_utc = local.astimezone(UTC)
    if as_utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return as_utc


def wall_clock_all(day: date, at: time, tz: ZoneInfo) -> list[datetime]:
    """Every instant a local clock shows `at` on `day`: none, one, or two when clocks go back."""
    first = wall_clock(day, at, tz)
    second = wall_clock(day, at, tz, fold=1)
    return [t for t in dict.fromkeys((first, second)) if t is not None]


def wall_clock_end(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant a stretch of hours ending at `at` on `day` ends.

    A time the clock shows twice ends at its first showing. A time the clock skips ends when the
    clock jumps over it: a moment later the clock already reads past `at`.
    """
    instant = wall_clock(day, at, tz)
    if instant is not None:
        return instant
    # Skipped: before the jump the clock reads earlier than `at`, after it later. The jump lies
    # between the two readings of `at` with the offsets either side of it.
    before = datetime.combine(day, at, tzinfo=tz).replace(fold=1).astimezone(UTC)
    after = datetime.combine(day, at, tzinfo=tz).replace(fold=0).astimezone(UTC)
    before, after = min(before, after), max(before, after)
    offset_before = before.astimezone(tz).utcoffset()
    low, high = 0, int((after - before).total_seconds())  # seconds after `before`
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(tz).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


def days_between(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


class _BusyIndex:
    """Busy stretches per staff member, sorted, for quick overlap checks."""

    def __init__(self, busy: list[Busy]):
        by_staff: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for item in busy:
            by_staff[item.staff_id].append((item.start, item.end))
        self._starts: dict[int, list[datetime]] = {}
        self._items: dict[int, list[tuple[datetime, datetime]]] = {}
        self._longest: dict[int, timedelta] = {}
        for staff_id, items in by_staff.items():
            items.sort()
            self._items[staff_id] = items
            self._starts[staff_id] = [start for start, _ in items]
            self._longest[staff_id] = max(end - start for start, end in items)

    def overlaps(self, staff_id: int, start: datetime, end: datetime) -> bool:
        items = self._items.get(staff_id)
        if not items:
            return False
        # Only stretches starting before `end` and after `start - longest` can overlap.
        starts = self._starts[staff_id]
        lo = bisect_left(starts, start - self._longest[staff_id])
        hi = bisect_left(starts, end)
        return any(items[i][1] > start for i in range(lo, hi))


def open_slots(
    *,
    hours: list[WeeklyHours],
    busy: list[Busy],
    closures: list[ClosedDays],
    zones: dict[int, ZoneInfo],
    first_day: date,
    last_day: date,
    length: int,
    step: int,
    earliest: datetime,
    latest: datetime,
    padding_before: int = 0,
    padding_after: int = 0,
) -> list[Slot]:
    """Every open start time from `first_day` to `last_day` (branch local dates), in time order.

    A slot is open when it lies inside the staff member's weekly hours at that branch, the branch
    is not closed that day, it starts between `earliest` and `latest`, and the session with its
    padding overlaps nothing the staff member is busy with, at any branch.
    """
    duration = timedelta(minutes=length)
    pad_before = timedelta(minutes=padding_before)
    pad_after = timedelta(minutes=padding_after)
    step_delta = timedelta(minutes=step)
    busy_index = _BusyIndex(busy)
    closed = defaultdict(list)
    for closure in closures:
        closed[closure.branch_id].append(closure)

    found: set[Slot] = set()
    for stretch in hours:
        tz = zones[stretch.branch_id]
        for day in days_between(first_day, last_day):
            if not stretch.applies_on(day):
                continue
            if any(c.first_day <= day <= c.last_day for c in closed[stretch.branch_id]):
                continue
            window_end = wall_clock_end(day, stretch.end, tz)
            local = datetime.combine(day, stretch.start)
            while local.date() == day and local.time() < stretch.end:
                starts = wall_clock_all(day, local.time(), tz)
                local += step_delta
                for start in starts:
                    end = start + duration
                    if end > window_end:
                        continue
                    if start < earliest or start > latest:
                        continue
                    if busy_index.overlaps(stretch.staff_id, start - pad_before, end + pad_after):
                        continue
                    found.add(Slot(start, end, stretch.staff_id, stretch.branch_id))
    return sorted(found)
