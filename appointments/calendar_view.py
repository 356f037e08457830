"""The staff calendar in the admin: a week or a day, for one staff member or a whole branch.

A real table: rows are half-hours in the branch's wall-clock time, columns are days (one staff
member) or staff members (a branch). Everything shown is loaded in a fixed number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from math import ceil, floor
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from .formatting import format_day, format_time
from .models import (
    Appointment,
    Availability,
    Block,
    Branch,
    BusyTime,
    Closure,
    StaffProfile,
    Status,
)
from .slots import wall_clock

STEP = timedelta(minutes=30)
DEFAULT_FIRST, DEFAULT_LAST = time(9), time(17)


@dataclass
class Column:
    label: str
    day: date
    staff: StaffProfile
    branch: Branch
    is_today: bool = False
    cells: list = field(default_factory=list)


@dataclass
class Cell:
    kind: str  # appointment, block, busy (from the staff member's calendar), closed, open, off
    text: str = ""
    detail: str = ""
    rowspan: int = 1
    url: str = ""
    block_url: str = ""
    book_url: str = ""
    clash: str = ""  # a booked session inside a closure or blocked time, said in words


def _rows(first: time, last: time) -> list[time]:
    rows, moment = [], datetime.combine(date(2000, 1, 3), first)
    while moment.time() < last and moment.date() == date(2000, 1, 3):
        rows.append(moment.time())
        moment += STEP
    return rows


def week_that_matters(now: datetime) -> date:
    """A day of the week to open on, given the branch's local time: from Friday evening on,
    this week's sessions are over and the desk books for the next."""
    weekend = now.weekday() >= 5 or (now.weekday() == 4 and now.time() >= time(17))
    return now.date() + timedelta(days=7 - now.weekday()) if weekend else now.date()


def working_here(staff_qs: QuerySet, branch: Branch, days: list[date]) -> QuerySet:
    """A branch's columns: staff who take bookings there, or have hours or sessions there in
    these days. A desk profile that takes no bookings is no column of its own."""
    zone = branch.tz
    span_start = datetime.combine(days[0], time(0), tzinfo=zone)
    span_end = datetime.combine(days[-1] + timedelta(days=1), time(0), tzinfo=zone)
    hours = Availability.objects.filter(staff=OuterRef("pk"), branch=branch).filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=days[-1]),
        Q(valid_until__isnull=True) | Q(valid_until__gte=days[0]),
    )
    sessions = Appointment.objects.filter(
        staff=OuterRef("pk"), branch=branch, starts_at__lt=span_end, ends_at__gt=span_start
    ).exclude(status=Status.CANCELLED)
    return staff_qs.filter(branches=branch).filter(
        Q(is_bookable=True) | Exists(hours) | Exists(sessions)
    )


def build_calendar(
    *,
    staff: list[StaffProfile],
    branch: Branch,
    days: list[date],
    today: date,
    can_block,
    can_book,
    back: str = "",
):
    """The calendar's tables: each has columns (days or staff) and rows (half-hours).

    `back` is this calendar's own query, carried by "Block this time" so that saving the
    block returns here. A booked session inside a closure or blocked time is shown, marked
    as a clash, never hidden under it."""
    staff_ids = [s.pk for s in staff]
    zone = branch.tz
    now = timezone.now()
    span_start = datetime.combine(days[0], time(0), tzinfo=zone).astimezone(UTC)
    span_end = datetime.combine(days[-1] + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    hours = defaultdict(list)
    for stretch in Availability.objects.filter(staff_id__in=staff_ids, branch=branch):
        hours[stretch.staff_id].append(stretch)
    appointments = defaultdict(list)
    for item in (
        Appointment.objects.filter(
            staff_id__in=staff_ids, starts_at__lt=span_end, ends_at__gt=span_start
        )
        .exclude(status=Status.CANCELLED)
        .select_related("topic", "patron", "branch")
        .with_topic_texts()
    ):
        appointments[item.staff_id].append(item)
    blocks = defaultdict(list)
    for item in Block.objects.filter(
        staff_id__in=staff_ids, starts_at__lt=span_end, ends_at__gt=span_start
    ):
        blocks[item.staff_id].append(item)
    # Busy in the staff member's Outlook or Google calendar: shown as busy, with no details.
    for item in BusyTime.objects.filter(
        staff_id__in=staff_ids, starts_at__lt=span_end, ends_at__gt=span_start
    ):
        blocks[item.staff_id].append(item)
    closures = list(
        Closure.objects.filter(branch=branch, first_day__lte=days[-1], last_day__gte=days[0])
    )

    first = min([DEFAULT_FIRST, *(s.start_time for stretches in hours.values() for s in stretches)])
    last = max([DEFAULT_LAST, *(s.end_time for stretches in hours.values() for s in stretches)])
    rows = _rows(first, last)

    columns = []
    for day in days:
        for person in staff:
            label = format_day(day) if len(staff) == 1 else person.public_name
            column = Column(label, day, person, branch, is_today=day == today)
            closed = next((c for c in closures if c.first_day <= day <= c.last_day), None)
            covered_until = None
            for row in rows:
                start = wall_clock(day, row, zone)
                if start is None:  # the hour skipped when clocks go forward
                    column.cells.append(Cell("off", _("Not a time today")))
                    continue
                end = start + STEP
                if covered_until and start < covered_until:
                    column.cells.append(None)
                    continue
                item = next(
                    (a for a in appointments[person.pk] if a.starts_at < end and a.ends_at > start),
                    None,
                )
                if closed and item is None:
                    column.cells.append(Cell("closed", _("Branch closed"), closed.reason))
                    continue
                kind = "appointment"
                if item is None:
                    item = next(
                        (b for b in blocks[person.pk] if b.starts_at < end and b.ends_at > start),
                        None,
                    )
                    kind = "busy" if isinstance(item, BusyTime) else "block"
                if item is not None:
                    span = ceil((item.ends_at - start) / STEP)
                    if kind != "appointment":
                        # A session kept inside the block takes its own rows: the block stops
                        # short of it and picks up again after it.
                        span = min(
                            [span]
                            + [
                                floor((a.starts_at - start) / STEP)
                                for a in appointments[person.pk]
                                if start < a.starts_at < item.ends_at
                            ]
                        )
                    span = max(1, min(span, len(rows)))
                    covered_until = start + span * STEP
                    cell = _item_cell(kind, item, span, zone)
                    if kind == "appointment" and item.status == Status.CONFIRMED:
                        # The closure shown is this branch's: a session elsewhere is not in it.
                        here = closed if item.branch_id == branch.pk else None
                        cell.clash = _clash(item, here, blocks[person.pk])
                    column.cells.append(cell)
                    continue
                working = any(
                    s.weekday == day.weekday()
                    and (s.valid_from is None or s.valid_from <= day)
                    and (s.valid_until is None or s.valid_until >= day)
                    and s.start_time <= row < s.end_time
                    for s in hours[person.pk]
                )
                if not working:
                    column.cells.append(Cell("off"))
                    continue
                if end <= now:  # gone by: nothing to offer
                    column.cells.append(Cell("off"))
                    continue
                cell = Cell("open", pgettext("calendar cell", "Open"))
                if can_block(person) and end > now:
                    cell.block_url = (
                        reverse("admin:appointments_block_add")
                        + "?"
                        + urlencode(
                            {
                                "staff": person.pk,
                                "starts": start.isoformat(),
                                "ends": end.isoformat(),
                                **({"calendar": back} if back else {}),
                            }
                        )
                    )
                if can_book and start > now:
                    cell.book_url = (
                        reverse("appointments:desk")
                        + "?"
                        + urlencode({"staff": person.pk, "week": day.isoformat()})
                    )
                column.cells.append(cell)
            columns.append(column)
    # One staff member: one table, a column a day. A branch: one table a day, a column a person.
    groups = (
        [columns] if len(staff) == 1 else [[c for c in columns if c.day == day] for day in days]
    )
    return [
        {
            "day": group[0].day,
            "title": f"{staff[0].public_name}" if len(staff) == 1 else format_day(group[0].day),
            "is_today": len(staff) > 1 and group[0].is_today,
            "columns": group,
            "rows": [
                (format_time(datetime.combine(days[0], row)), [c.cells[i] for c in group])
                for i, row in enumerate(rows)
            ],
        }
        for group in groups
    ]


def _clash(appointment, closed, blocks) -> str:
    if closed:
        return _("Booked, but the branch is closed (%(reason)s)") % {"reason": closed.reason}
    block = next(
        (
            b
            for b in blocks
            if b.starts_at < appointment.ends_at and b.ends_at > appointment.starts_at
        ),
        None,
    )
    if isinstance(block, BusyTime):
        return _("Booked inside a busy time in Outlook/Google")
    if block is None:
        return ""
    return _("Booked inside blocked time (%(reason)s)") % {"reason": block.reason}


def _item_cell(kind: str, item, span: int, zone) -> Cell:
    start = format_time(item.starts_at.astimezone(zone))
    end = format_time(item.ends_at.astimezone(zone))
    if kind == "busy":
        return Cell("busy", _("Busy in Outlook/Google"), "", span)
    if kind == "block":
        blocked = _("Blocked %(start)s–%(end)s") % {"start": start, "end": end}
        return Cell("block", blocked, item.reason, span)
    name = item.patron.short_name if item.patron else _("Patron")
    people = ngettext("%(count)s person", "%(count)s people", item.party_size) % {
        "count": item.party_size
    }
    return Cell(
        "appointment",
        f"{start}–{end} {item.topic.translated_name}",
        f"{name}, {item.get_skill_level_display().lower()}, {people}",
        span,
        url=reverse("appointments:session", args=[item.reference]),
    )
