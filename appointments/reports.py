"""Reports for a branch manager: what one-on-one help gave, over a date range, as numbers.

Every figure comes from what the purge keeps (appointments/privacy.py): a session's date, branch,
topic, staff member, skill level, party size, status, how it was booked, when it was booked, who
called it off, whether it was the patron's first booking and how they hear from us; walk-ins;
follow-up answers without their comments; and waiting-list counts (`WaitlistTally` holds the
counts of entries the purge deletes). None of it says who a patron was, so a report is the same
before and after a purge.

The figures are counted in the database, in a fixed number of queries whatever the size of the
library: the sessions in the range are read once and grouped every way the page needs at once
(PostgreSQL's GROUPING SETS), the walk-ins likewise; the rest is plain functions over those
groups.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patrons.models import ContactMethod

from .models import (
    HELPFUL_ANSWERS,
    Appointment,
    Branch,
    CancelledBy,
    Channel,
    SkillLevel,
    StaffProfile,
    Status,
    Topic,
    WaitlistEntry,
    WaitlistState,
    WaitlistTally,
    WalkIn,
    Weekday,
)

# --- The date range and filters --------------------------------------------------------------

PRESETS = {
    "this_month": _("This month"),
    "last_month": _("Last month"),
    "this_quarter": _("This quarter"),
    "this_year": _("This year"),
}


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """The first and last day of a preset period around `today`."""
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if preset == "this_quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        start = date(today.year, first_month, 1)
        last_month = first_month + 2
        return start, date(today.year, last_month, calendar.monthrange(today.year, last_month)[1])
    if preset == "this_year":
        return date(today.year, 1, 1), date(today.year, 12, 31)
    start = today.replace(day=1)
    return start, start.replace(day=calendar.monthrange(today.year, today.month)[1])


@dataclass(frozen=True)
class ReportScope:
    """One report: the days from `start` to `end` (both included, on each branch's own clock),
    and optionally one branch, topic or staff member."""

    start: date
    end: date
    branch: Branch | None = None
    topic: Topic | None = None
    staff: StaffProfile | None = None

    def _near(self) -> tuple[datetime, datetime]:
        """A day wider than the range on each side, in UTC: lets an index narrow the rows
        before the exact test on each branch's local date."""
        tz = timezone.get_default_timezone()
        return (
            datetime.combine(self.start - timedelta(days=1), time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=2), time.min, tzinfo=tz),
        )

    def sessions(self) -> QuerySet:
        """The sessions that began in the range, and those a day either side: the query that
        groups them tests each one's date on its branch's clock itself, working it out once."""
        low, high = self._near()
        sessions = Appointment.objects.filter(starts_at__gte=low, starts_at__lt=high)
        return sessions.filter(**self._where(staff="staff")).order_by()

    def walk_ins(self) -> QuerySet:
        """Walk-ins likewise (see `sessions`)."""
        low, high = self._near()
        walk_ins = WalkIn.objects.filter(at__gte=low, at__lt=high)
        return walk_ins.filter(**self._where(staff="recorded_by__staff_profile")).order_by()

    def _where(self, *, staff: str | None) -> dict:
        where = {}
        if self.branch is not None:
            where["branch"] = self.branch
        if self.topic is not None:
            where["topic"] = self.topic
        if self.staff is not None and staff is not None:
            where[staff] = self.staff
        return where

    def waitlist_filters(self) -> dict:
        """The waiting list has no staff member: only branch and topic narrow it."""
        return self._where(staff=None)


# --- SQL helpers ---------------------------------------------------------------------------


def _local(field_name: str) -> Func:
    """The time on the branch's own clock (a timestamp without zone)."""
    return Func(
        F(field_name),
        F("branch__time_zone"),
        template="(%(expressions)s)",
        arg_joiner=" AT TIME ZONE ",
        output_field=DateField(),
    )


def _difference(later: str, earlier: str, unit_seconds: int) -> Func:
    return Func(
        F(later),
        F(earlier),
        template=f"DATE_PART('epoch', %(expressions)s) / {unit_seconds}",
        arg_joiner=" - ",
        output_field=FloatField(),
    )


# Every table of the page is a grouping of the same rows (by topic, by branch, by month...), so
# the rows are read once and grouped every way at once with PostgreSQL's GROUPING SETS. Grouping
# is most of the cost, paid once per set for every row, so tables that can share a set do: topic
# and skill level are both read from one (topic, skill level) set, branch and staff from one
# (branch, staff) set, and so on, and the page adds them up (a few thousand groups at most).
# Every set groups by the session's status too, so that three sums (sessions, people, minutes)
# give every figure. Django has no GROUPING SETS: the rows are the ORM's query (scope and
# filters); only the grouping around it is written here.
_TIME_KEYS = """
    DATE_TRUNC('month', local_start)::date AS month,
    DATE_PART('isodow', local_start)::int - 1 AS weekday,
    DATE_PART('hour', local_start)::int AS hour
"""
_SESSION_FIGURES = """
    COUNT(*) AS n, SUM(party_size)::int AS party, SUM(session_minutes) AS minutes
"""
_WALK_IN_FIGURES = "COUNT(*) AS walk_ins, COALESCE(SUM(minutes), 0)::int AS walk_in_minutes"
_WALK_IN_SETS = {
    "topic_skill": ("topic_id", "skill_level"),
    "branch_staff": ("branch_id", "staff_id"),
    "month": ("month",),
    "grid": ("weekday", "hour"),
}
_SESSION_SETS = {
    **{name: (*keys, "status") for name, keys in _WALK_IN_SETS.items()},
    "channel_contact": ("channel", "contact_method", "status"),
    # Figures of the whole range only.
    "whole": ("status", "cancelled_by", "first_booking", "helpful"),
    # How long ahead sessions were booked, to the hour (see `session_groups` for which): the
    # quartiles are worked out from these counts, rather than sorting every row again.
    "lead": ("lead_hours",),
}
# Each table of the page: the columns it is grouped by.
_TABLES = {
    "topic": ("topic_id",),
    "skill": ("skill_level",),
    "branch": ("branch_id",),
    "staff": ("staff_id",),
    "month": ("month",),
    "grid": ("weekday", "hour"),
    "channel": ("channel",),
    "contact": ("contact_method",),
}
_EMPTY_SESSIONS = {
    "booked": 0,
    "attended": 0,
    "no_shows": 0,
    "cancelled": 0,
    "not_marked": 0,
    "kept": 0,
    "party": 0,
    "minutes": 0.0,
}
_EMPTY_WALK_INS = {"walk_ins": 0, "walk_in_minutes": 0}
_BY_STATUS = {
    Status.ATTENDED.value: "attended",
    Status.NO_SHOW.value: "no_shows",
    Status.CANCELLED.value: "cancelled",
    Status.CONFIRMED.value: "not_marked",
}


def _grouped(
    scope: ReportScope, rows: QuerySet, sets: dict[str, tuple[str, ...]], figures: str
) -> dict[str, dict]:
    """Run `figures` (SQL aggregates) over `rows` that began in the range on their branch's
    clock (`local_start`), once per grouping set, in one query. Returns {set name: {key tuple
    in the set's order: figures}}."""
    keys = list(dict.fromkeys(key for columns in sets.values() for key in columns))
    sql, params = rows.query.sql_with_params()
    by_bits = {}
    for name, columns in sets.items():
        # GROUPING() sets a bit for each key left out of the row's grouping, leftmost highest.
        bits = sum(1 << (len(keys) - 1 - i) for i, key in enumerate(keys) if key not in columns)
        by_bits[bits] = name
    grouping_sets = ", ".join("(" + ", ".join(columns) + ")" for columns in sets.values())
    # OFFSET 0 keeps each subquery whole, so that each row's local time is worked out once
    # rather than again in every expression that uses it.
    query = (
        f"SELECT GROUPING({', '.join(keys)}) AS grouping_bits, {', '.join(keys)}, {figures} "
        f"FROM (SELECT *, {_TIME_KEYS} FROM ({sql} OFFSET 0) AS chosen "
        "WHERE local_start::date BETWEEN %s AND %s OFFSET 0) AS rows "
        f"GROUP BY GROUPING SETS ({grouping_sets})"
    )
    found: dict[str, dict] = {name: {} for name in sets}
    with connection.cursor() as cursor:
        cursor.execute(query, (*params, scope.start, scope.end))
        names = [column.name for column in cursor.description]
        for record in cursor.fetchall():
            row = dict(zip(names, record, strict=True))
            name = by_bits[row.pop("grouping_bits")]
            values = tuple(row[key] for key in sets[name])
            found[name][values] = {
                figure: value for figure, value in row.items() if figure not in keys
            }
    return found


def _regroup(found: dict[str, dict], sets: dict, columns: tuple[str, ...]) -> dict:
    """The figures of one table, {values of `columns`: summed figures}, added up from the
    first grouping set that has all of those columns."""
    name = next(name for name, keys in sets.items() if set(columns) <= set(keys))
    positions = [sets[name].index(column) for column in columns]
    table: dict = {}
    for values, sums in found[name].items():
        key = tuple(values[i] for i in positions)
        row = table.setdefault(key, dict.fromkeys(sums, 0))
        for figure, value in sums.items():
            row[figure] += value or 0
    return table


def _by_status(groups: dict) -> dict:
    """{(value..., status): sums} into {value: figures}."""
    figures: dict = {}
    for (*value, status), sums in groups.items():
        row = figures.setdefault(value[0] if len(value) == 1 else tuple(value), {**_EMPTY_SESSIONS})
        row["booked"] += sums["n"]
        row[_BY_STATUS[status]] += sums["n"]
        if status != Status.CANCELLED:
            row["kept"] += sums["n"]
        if status == Status.ATTENDED:
            row["party"] += sums["party"]
            row["minutes"] += float(sums["minutes"])
    return figures


def quartiles(counts: dict[float, int]) -> list[float | None]:
    """The lower quartile, median and upper quartile of values given as {value: how many},
    interpolated between neighbours as PostgreSQL's PERCENTILE_CONT does."""
    total = sum(counts.values())
    if not total:
        return [None] * 3
    ordered = sorted(counts.items())

    def nth(index: int) -> float:
        seen = 0
        for value, count in ordered:
            seen += count
            if index < seen:
                return value
        return ordered[-1][0]

    found = []
    for fraction in (0.25, 0.5, 0.75):
        position = fraction * (total - 1)
        below = int(position)
        low, high = nth(below), nth(min(below + 1, total - 1))
        found.append(low + (high - low) * (position - below))
    return found


def session_groups(scope: ReportScope) -> dict[str, dict]:
    """Sessions counted every way the page shows them, in one query."""
    rows = scope.sessions().annotate(
        local_start=_local("starts_at"),
        session_minutes=_difference("ends_at", "starts_at", 60),
        lead_hours=Case(
            When(
                # Not for sessions cancelled, or recorded after they began (entered afterwards).
                ~Q(status=Status.CANCELLED) & Q(created_at__lte=F("starts_at")),
                # To the nearest hour.
                then=Cast(_difference("starts_at", "created_at", 3600), IntegerField()),
            ),
        ),
        helpful=F("feedback__helpful"),
    )
    rows = rows.values(
        "topic_id",
        "branch_id",
        "staff_id",
        "skill_level",
        "channel",
        "contact_method",
        "status",
        "cancelled_by",
        "first_booking",
        "party_size",
        "local_start",
        "session_minutes",
        "lead_hours",
        "helpful",
    )
    raw = _grouped(scope, rows, _SESSION_SETS, _SESSION_FIGURES)
    groups = {
        name: _by_status(_regroup(raw, _SESSION_SETS, (*columns, "status")))
        for name, columns in _TABLES.items()
    }
    total = {**_EMPTY_SESSIONS}
    for row in groups["topic"].values():  # every session has a topic
        for key, value in row.items():
            total[key] += value
    kept, cancelled, helpful = {}, {}, {}
    for (status, by, first, answer), sums in raw["whole"].items():
        if status == Status.CANCELLED:
            cancelled[by] = cancelled.get(by, 0) + sums["n"]
        else:
            kept[first] = kept.get(first, 0) + sums["n"]
        helpful[answer] = helpful.get(answer, 0) + sums["n"]
    lead_hours = {hours: sums["n"] for (hours,), sums in raw["lead"].items() if hours is not None}
    total.update(
        {
            "by_patron": cancelled.get(CancelledBy.PATRON.value, 0),
            "by_library": cancelled.get(CancelledBy.LIBRARY.value, 0),
            "by_closure": cancelled.get(CancelledBy.CLOSURE.value, 0),
            "new": kept.get(True, 0),
            "returning": kept.get(False, 0),
            "new_unrecorded": kept.get(None, 0),
            "lead_times": [
                None if hours is None else hours / 24 for hours in quartiles(lead_hours)
            ],
            **{f"helpful_{n}": helpful.get(n, 0) for n in range(1, 6)},
        }
    )
    groups["total"] = {None: total}
    return groups


def walk_in_groups(scope: ReportScope) -> dict[str, dict]:
    """Walk-ins counted every way the page shows them, in one query."""
    rows = scope.walk_ins().annotate(
        local_start=_local("at"),
        staff_id=F("recorded_by__staff_profile"),
    )
    rows = rows.values("topic_id", "branch_id", "staff_id", "skill_level", "minutes", "local_start")
    raw = _grouped(scope, rows, _WALK_IN_SETS, _WALK_IN_FIGURES)
    groups = {}
    for name, columns in _TABLES.items():
        if any(set(columns) <= set(keys) for keys in _WALK_IN_SETS.values()):
            regrouped = _regroup(raw, _WALK_IN_SETS, columns)
            groups[name] = {
                values[0] if len(values) == 1 else values: sums
                for values, sums in regrouped.items()
            }
    total = {**_EMPTY_WALK_INS}
    for row in groups["topic"].values():
        total["walk_ins"] += row["walk_ins"]
        total["walk_in_minutes"] += row["walk_in_minutes"]
    groups["total"] = {None: total}
    return groups


# --- The figures ---------------------------------------------------------------------------


def no_show_rate(attended: int, no_shows: int) -> float | None:
    """Of the sessions whose outcome was marked, the share the patron missed, in per cent."""
    marked = attended + no_shows
    return round(100 * no_shows / marked, 1) if marked else None


def hours(minutes: float) -> float:
    return round(float(minutes or 0) / 60, 1)


def _combined(sessions: dict | None, walk_ins: dict | None) -> dict:
    """One row of a table: a group's sessions and walk-ins, with what follows from them."""
    row = {**_EMPTY_SESSIONS, **(sessions or {}), **_EMPTY_WALK_INS, **(walk_ins or {})}
    row["minutes"] = float(row["minutes"])
    row["no_show_rate"] = no_show_rate(row["attended"], row["no_shows"])
    row["people_helped"] = row["party"] + row["walk_ins"]
    row["hours"] = hours(row["minutes"] + row["walk_in_minutes"])
    return row


def summary(sessions: dict, walk_ins: dict) -> dict:
    """The headline figures, from the totals of both."""
    totals = _combined(sessions["total"][None], walk_ins["total"][None])
    totals["cancelled_unrecorded"] = totals["cancelled"] - (
        totals["by_patron"] + totals["by_library"] + totals["by_closure"]
    )
    quartiles = totals.pop("lead_times")
    for key, value in zip(("lead_low", "lead_median", "lead_high"), quartiles, strict=True):
        totals[key] = None if value is None else round(value, 1)
    return totals


def breakdown(sessions: dict, walk_ins: dict, name: str) -> dict:
    """{value: row} for one grouping, walk-ins included where they have that grouping."""
    ours, theirs = sessions[name], walk_ins.get(name, {})
    return {key: _combined(ours.get(key), theirs.get(key)) for key in {*ours, *theirs}}


def _label(choices, value) -> str:
    if value in (None, ""):
        return str(_("Not recorded"))
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


@dataclass
class Table:
    """One table of the report, as the page shows it and the CSV gives it."""

    slug: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    note: str = ""


BREAKDOWN_COLUMNS = [
    _("Sessions booked"),
    _("Attended"),
    _("Did not come"),
    _("No-show rate (%)"),
    _("Cancelled"),
    _("Walk-ins"),
    _("People helped"),
    _("Hours of staff time"),
]


def _breakdown_row(label: str, row: dict) -> list:
    return [
        label,
        row["booked"],
        row["attended"],
        row["no_shows"],
        row["no_show_rate"],
        row["cancelled"],
        row["walk_ins"],
        row["people_helped"],
        row["hours"],
    ]


def _breakdown_table(slug, title, heading, rows: dict, labels) -> Table:
    table = Table(slug, str(title), [str(heading), *map(str, BREAKDOWN_COLUMNS)])
    named = sorted(((labels(value), row) for value, row in rows.items()), key=lambda p: p[0])
    table.rows = [_breakdown_row(label, row) for label, row in named]
    return table


@dataclass
class Report:
    scope: ReportScope
    summary: dict
    tables: dict[str, Table]
    months: list[dict]
    grid: dict
    topics: list[dict]


def months_between(start: date, end: date) -> list[date]:
    month, months = start.replace(day=1), []
    while month <= end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def month_trend(scope: ReportScope, sessions: dict, walk_ins: dict) -> list[dict]:
    """Sessions and people helped per month of the range, empty months included."""
    by_month = breakdown(sessions, walk_ins, "month")
    return [
        {"month": month, **by_month.get(month, _combined(None, None))}
        for month in months_between(scope.start, scope.end)
    ]


def busiest_times(sessions: dict, walk_ins: dict) -> dict:
    """Sessions held or still booked (not cancelled) and walk-ins, by weekday and hour on the
    branch's clock: {"hours": [...], "cells": {(weekday, hour): count}, ...} with weekday 0 for
    Monday."""
    cells = {
        key: row["kept"] + row["walk_ins"]
        for key, row in breakdown(sessions, walk_ins, "grid").items()
        if row["kept"] + row["walk_ins"]
    }
    used = [hour for _, hour in cells]
    hours_shown = list(range(min([9, *used]), max([17, *used]) + 1))
    return {
        "hours": hours_shown,
        "cells": cells,
        "by_weekday": {d: sum(n for (w, _), n in cells.items() if w == d) for d in range(7)},
        "by_hour": {h: sum(n for (_, hr), n in cells.items() if hr == h) for h in hours_shown},
        "most": max(cells.values(), default=0),
    }


def _waitlist_counts() -> dict:
    """What is counted of waiting-list entries: of those on file, and of those the purge is
    about to delete (kept in WaitlistTally). One list, so the two cannot drift apart."""
    return {
        "joined": Count("pk"),
        "offered": Count("pk", filter=Q(offers_made__gt=0)),
        "offers": Sum("offers_made", default=0),
        "taken": Count("pk", filter=Q(state=WaitlistState.BOOKED)),
        "left": Count("pk", filter=Q(state=WaitlistState.REMOVED)),
    }


def waiting_list(scope: ReportScope) -> dict:
    """Entries that joined in the range, still on file or counted by the purge before it
    deleted them. An offer not taken ran out, was withdrawn or the patron left."""
    where = scope.waitlist_filters()
    live = WaitlistEntry.objects.filter(
        created_at__date__range=(scope.start, scope.end), **where
    ).aggregate(
        **_waitlist_counts(), open_offers=Count("pk", filter=Q(state=WaitlistState.OFFERED))
    )
    tallied = WaitlistTally.objects.filter(day__range=(scope.start, scope.end), **where).aggregate(
        **{name: Sum(name, default=0) for name in _waitlist_counts()}
    )
    figures = {name: live[name] + tallied.get(name, 0) for name in live if name != "open_offers"}
    figures["open_offers"] = live["open_offers"]
    figures["not_taken"] = figures["offers"] - figures["taken"] - figures["open_offers"]
    return figures


def waitlist_tally_rows(entries: QuerySet) -> list[WaitlistTally]:
    """The counts to keep of waiting-list entries about to be deleted (one query)."""
    rows = (
        entries.annotate(day=TruncDate("created_at"))
        .values("day", "topic_id", "branch_id")
        .annotate(**_waitlist_counts())
        .order_by()
    )
    return [WaitlistTally(**row) for row in rows]


def keep_waitlist_counts(entries: QuerySet) -> None:
    """Before deleting waiting-list entries: keep their counts for the reports."""
    WaitlistTally.objects.bulk_create(waitlist_tally_rows(entries))


def follow_up_answers(totals: dict) -> dict[int, int]:
    """How many follow-up answers said each number, for sessions in the range."""
    return {score: totals[f"helpful_{score}"] for score in HELPFUL_ANSWERS}


# --- The whole report ----------------------------------------------------------------------


def build_report(
    scope: ReportScope,
    *,
    branches: list[Branch],
    topics: list[Topic],
    staff: list[StaffProfile],
) -> Report:
    """Every figure and table of the page, in a fixed number of queries. The lists of branches,
    topics and staff (loaded once for the filter form) give the names."""
    branch_names = {b.pk: b.name for b in branches}
    topic_names = {t.pk: t.name for t in topics}
    staff_names = {s.pk: s.public_name for s in staff}
    unknown = str(_("Not recorded"))
    desk = str(_("Desk (no staff profile)"))
    sessions, walk_ins = session_groups(scope), walk_in_groups(scope)
    totals = summary(sessions, walk_ins)
    by_topic = breakdown(sessions, walk_ins, "topic")
    tables: dict[str, Table] = {}

    overview = Table("summary", str(_("Summary")), [str(_("Figure")), str(_("Number"))])
    overview.rows = [
        [str(_("Sessions booked")), totals["booked"]],
        [str(_("Attended")), totals["attended"]],
        [str(_("Did not come")), totals["no_shows"]],
        [str(_("No-show rate (%)")), totals["no_show_rate"]],
        [str(_("Still booked or not marked")), totals["not_marked"]],
        [str(_("Cancelled")), totals["cancelled"]],
        [str(_("Walk-ins (help without a booking)")), totals["walk_ins"]],
        [str(_("People helped (party sizes plus walk-ins)")), totals["people_helped"]],
        [str(_("Hours of staff time (sessions attended plus walk-ins)")), totals["hours"]],
        [str(_("Sessions not cancelled, for patrons booking for the first time")), totals["new"]],
        [str(_("Sessions not cancelled, for patrons who had booked before")), totals["returning"]],
        [
            str(_("Sessions not cancelled, not known whether first time (before reports began)")),
            totals["new_unrecorded"],
        ],
        [str(_("Days from booking to session: median")), totals["lead_median"]],
        [str(_("Days from booking to session: typical range from")), totals["lead_low"]],
        [str(_("Days from booking to session: typical range to")), totals["lead_high"]],
    ]
    tables["summary"] = overview

    cancellations = Table(
        "cancellations", str(_("Cancellations")), [str(_("Cancelled by")), str(_("Sessions"))]
    )
    cancellations.rows = [
        [str(CancelledBy.PATRON.label), totals["by_patron"]],
        [str(CancelledBy.LIBRARY.label), totals["by_library"]],
        [str(CancelledBy.CLOSURE.label), totals["by_closure"]],
        [str(_("Not recorded (before reports began)")), totals["cancelled_unrecorded"]],
    ]
    tables["cancellations"] = cancellations

    tables["topics"] = _breakdown_table(
        "topics", _("By topic"), _("Topic"), by_topic, lambda pk: topic_names.get(pk, unknown)
    )
    tables["branches"] = _breakdown_table(
        "branches",
        _("By branch"),
        _("Branch"),
        breakdown(sessions, walk_ins, "branch"),
        lambda pk: branch_names.get(pk, unknown),
    )
    tables["staff"] = _breakdown_table(
        "staff",
        _("By staff member"),
        _("Staff member"),
        breakdown(sessions, walk_ins, "staff"),
        lambda pk: staff_names.get(pk, desk if pk is None else unknown),
    )
    tables["skill-levels"] = _breakdown_table(
        "skill-levels",
        _("By skill level"),
        _("Skill level"),
        breakdown(sessions, walk_ins, "skill"),
        lambda value: _label(SkillLevel, value),
    )
    tables["how-booked"] = _breakdown_table(
        "how-booked",
        _("By how it was booked"),
        pgettext_lazy("report column", "Booked"),
        breakdown(sessions, walk_ins, "channel"),
        lambda value: _label(Channel, value),
    )
    tables["contact"] = _breakdown_table(
        "contact",
        _("By how the patron hears from us"),
        _("Messages by"),
        breakdown(sessions, walk_ins, "contact"),
        lambda value: _label(ContactMethod, value),
    )

    months = month_trend(scope, sessions, walk_ins)
    trend = Table("months", str(_("By month")), [str(_("Month")), *map(str, BREAKDOWN_COLUMNS)])
    trend.rows = [_breakdown_row(_month_label(row["month"]), row) for row in months]
    tables["months"] = trend

    grid = busiest_times(sessions, walk_ins)
    weekdays = Table(
        "weekday-hours",
        str(_("Busiest weekdays and hours")),
        [str(_("Weekday")), *[f"{hour:02d}:00" for hour in grid["hours"]], str(_("Total"))],
    )
    for day in range(7):
        cells = [grid["cells"].get((day, hour), 0) for hour in grid["hours"]]
        weekdays.rows.append([str(Weekday(day).label), *cells, grid["by_weekday"][day]])
    weekdays.note = str(
        _(
            "Sessions held or still booked, and walk-ins, by the hour they began, on the "
            "branch's clock."
        )
    )
    tables["weekday-hours"] = weekdays

    waits = waiting_list(scope)
    waiting = Table("waiting-list", str(_("Waiting list")), [str(_("Figure")), str(_("Number"))])
    waiting.rows = [
        [str(_("Joined the waiting list")), waits["joined"]],
        [str(_("Were offered a time")), waits["offered"]],
        [str(_("Times offered")), waits["offers"]],
        [str(_("Offers taken")), waits["taken"]],
        [str(_("Offers that ran out or were withdrawn")), waits["not_taken"]],
        [str(_("Offers still open")), waits["open_offers"]],
        [str(_("Left the list")), waits["left"]],
    ]
    if scope.staff is not None:
        waiting.note = str(_("The waiting list is not kept per staff member: this is every entry."))
    tables["waiting-list"] = waiting

    answers = follow_up_answers(totals)
    follow_up = Table(
        "follow-up",
        str(_("Follow-up: did the session help?")),
        [str(_("Answer")), str(_("Answers"))],
    )
    follow_up.rows = [[str(HELPFUL_ANSWERS[score]), n] for score, n in answers.items()]
    tables["follow-up"] = follow_up

    topic_bars = sorted(
        (
            {"name": topic_names.get(pk, unknown), **row}
            for pk, row in by_topic.items()
            if row["booked"] or row["walk_ins"]
        ),
        key=lambda row: (-row["people_helped"], row["name"]),
    )
    return Report(scope, totals, tables, months, grid, topic_bars)


def _month_label(month: date) -> str:
    from django.utils.formats import date_format

    return date_format(month, "F Y")
