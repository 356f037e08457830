"""Reports for a branch manager: what one-on-one help gave, over a date range, as numbers.

Every figure comes from what the purge keeps (appointments/privacy.py): a session's date, branch,
topic, staff member, skill level, party size, status, how it was booked, when it was booked, who
called it off, whether it was the patron's first booking and how they hear from us; walk-ins;
follow-up answers without their comments; and waiting-list counts (`WaitlistTally` holds the
counts of entries the purge deletes). None of it says who a patron was, so a report is the same
before and after a purge.

The figures are plain functions over querysets, grouped and counted in the database: the number
of queries is fixed, whatever the size of the library.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Aggregate,
    Count,
    DateField,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patrons.models import ContactMethod

from .models import (
    Appointment,
    Branch,
    CancelledBy,
    Channel,
    Feedback,
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
        low, high = self._near()
        sessions = Appointment.objects.annotate(day=_local_date("starts_at")).filter(
            starts_at__gte=low, starts_at__lt=high, day__range=(self.start, self.end)
        )
        return sessions.filter(**self._where(staff="staff"))

    def walk_ins(self) -> QuerySet:
        low, high = self._near()
        walk_ins = WalkIn.objects.annotate(day=_local_date("at")).filter(
            at__gte=low, at__lt=high, day__range=(self.start, self.end)
        )
        return walk_ins.filter(**self._where(staff="recorded_by__staff_profile"))

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


def _local_date(field_name: str) -> Func:
    return Func(_local(field_name), template="(%(expressions)s)::date", output_field=DateField())


def _local_month(field_name: str) -> Func:
    return Func(
        _local(field_name),
        template="DATE_TRUNC('month', %(expressions)s)::date",
        output_field=DateField(),
    )


def _local_part(field_name: str, part: str) -> Func:
    return Func(
        _local(field_name),
        template=f"EXTRACT({part} FROM %(expressions)s)::int",
        output_field=IntegerField(),
    )


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont: the median at 0.5, the quartiles at 0.25 and 0.75."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


_SESSION_MINUTES = Func(
    F("ends_at"),
    F("starts_at"),
    template="EXTRACT(EPOCH FROM (%(expressions)s)) / 60",
    arg_joiner=" - ",
    output_field=FloatField(),
)
_LEAD_DAYS = Func(
    F("starts_at"),
    F("created_at"),
    template="EXTRACT(EPOCH FROM (%(expressions)s)) / 86400",
    arg_joiner=" - ",
    output_field=FloatField(),
)

_ATTENDED = Q(status=Status.ATTENDED)
_CANCELLED = Q(status=Status.CANCELLED)
_KEPT = ~_CANCELLED


def _session_figures() -> dict:
    """What each table counts of sessions, in one pass over them."""
    return {
        "booked": Count("pk"),
        "attended": Count("pk", filter=_ATTENDED),
        "no_shows": Count("pk", filter=Q(status=Status.NO_SHOW)),
        "cancelled": Count("pk", filter=_CANCELLED),
        "party": Sum("party_size", filter=_ATTENDED, default=0),
        "minutes": Sum(_SESSION_MINUTES, filter=_ATTENDED, default=0.0),
    }


def _walk_in_figures() -> dict:
    return {"walk_ins": Count("pk"), "walk_in_minutes": Sum("minutes", default=0)}


# --- The figures ---------------------------------------------------------------------------


def no_show_rate(attended: int, no_shows: int) -> float | None:
    """Of the sessions whose outcome was marked, the share the patron missed, in per cent."""
    marked = attended + no_shows
    return round(100 * no_shows / marked, 1) if marked else None


def hours(minutes: float) -> float:
    return round((minutes or 0) / 60, 1)


def summary(scope: ReportScope) -> dict:
    """The headline figures: two queries (sessions, walk-ins)."""
    totals = scope.sessions().aggregate(
        **_session_figures(),
        not_marked=Count("pk", filter=Q(status=Status.CONFIRMED)),
        by_patron=Count("pk", filter=_CANCELLED & Q(cancelled_by=CancelledBy.PATRON)),
        by_library=Count("pk", filter=_CANCELLED & Q(cancelled_by=CancelledBy.LIBRARY)),
        by_closure=Count("pk", filter=_CANCELLED & Q(cancelled_by=CancelledBy.CLOSURE)),
        new=Count("pk", filter=_KEPT & Q(first_booking=True)),
        returning=Count("pk", filter=_KEPT & Q(first_booking=False)),
        lead_low=Percentile(_LEAD_DAYS, 0.25, filter=_KEPT),
        lead_median=Percentile(_LEAD_DAYS, 0.5, filter=_KEPT),
        lead_high=Percentile(_LEAD_DAYS, 0.75, filter=_KEPT),
    )
    totals.update(scope.walk_ins().aggregate(**_walk_in_figures()))
    totals["cancelled_unrecorded"] = totals["cancelled"] - (
        totals["by_patron"] + totals["by_library"] + totals["by_closure"]
    )
    totals["no_show_rate"] = no_show_rate(totals["attended"], totals["no_shows"])
    totals["people_helped"] = totals["party"] + totals["walk_ins"]
    totals["hours"] = hours(totals["minutes"] + totals["walk_in_minutes"])
    for key in ("lead_low", "lead_median", "lead_high"):
        if totals[key] is not None:
            totals[key] = round(totals[key], 1)
    return totals


def _breakdown(scope: ReportScope, key: str, walk_in_key: str | None) -> dict:
    """Sessions (and walk-ins, where they have the same key) grouped by one key: {value: row}."""
    rows: dict = {}
    for row in scope.sessions().values(key).annotate(**_session_figures()).order_by():
        rows[row.pop(key)] = {**row, "walk_ins": 0, "walk_in_minutes": 0}
    if walk_in_key is not None:
        for row in scope.walk_ins().values(walk_in_key).annotate(**_walk_in_figures()).order_by():
            value = row.pop(walk_in_key)
            rows.setdefault(value, dict.fromkeys(_session_figures(), 0)).update(row)
    for row in rows.values():
        row.setdefault("walk_ins", 0)
        row.setdefault("walk_in_minutes", 0)
        row["no_show_rate"] = no_show_rate(row["attended"], row["no_shows"])
        row["people_helped"] = row["party"] + row["walk_ins"]
        row["hours"] = hours(row["minutes"] + row["walk_in_minutes"])
    return rows


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


def month_trend(scope: ReportScope) -> list[dict]:
    """Sessions and people helped per month of the range, empty months included."""
    by_month = {
        row.pop("month"): row
        for row in scope.sessions()
        .annotate(month=_local_month("starts_at"))
        .values("month")
        .annotate(**_session_figures())
        .order_by()
    }
    walk_ins = {
        row.pop("month"): row
        for row in scope.walk_ins()
        .annotate(month=_local_month("at"))
        .values("month")
        .annotate(**_walk_in_figures())
        .order_by()
    }
    trend = []
    for month in months_between(scope.start, scope.end):
        row = by_month.get(month, dict.fromkeys(_session_figures(), 0))
        extra = walk_ins.get(month, {"walk_ins": 0, "walk_in_minutes": 0})
        trend.append(
            {
                "month": month,
                **row,
                **extra,
                "no_show_rate": no_show_rate(row["attended"], row["no_shows"]),
                "people_helped": row["party"] + extra["walk_ins"],
                "hours": hours(row["minutes"] + extra["walk_in_minutes"]),
            }
        )
    return trend


def busiest_times(scope: ReportScope) -> dict:
    """Sessions held or still booked (not cancelled) and walk-ins, by weekday and hour on the
    branch's clock: {"hours": [...], "cells": {(weekday, hour): count}, ...} with weekday 0 for
    Monday."""
    cells: dict[tuple[int, int], int] = {}
    queries = [
        scope.sessions()
        .filter(_KEPT)
        .annotate(
            weekday=_local_part("starts_at", "ISODOW"), hour=_local_part("starts_at", "HOUR")
        ),
        scope.walk_ins().annotate(
            weekday=_local_part("at", "ISODOW"), hour=_local_part("at", "HOUR")
        ),
    ]
    for rows in queries:
        for row in rows.values("weekday", "hour").annotate(n=Count("pk")).order_by():
            key = (row["weekday"] - 1, row["hour"])
            cells[key] = cells.get(key, 0) + row["n"]
    used = [hour for _, hour in cells]
    hours_shown = list(range(min([9, *used]), max([17, *used]) + 1))
    return {
        "hours": hours_shown,
        "cells": cells,
        "by_weekday": {d: sum(n for (w, _), n in cells.items() if w == d) for d in range(7)},
        "by_hour": {h: sum(n for (_, hr), n in cells.items() if hr == h) for h in hours_shown},
        "most": max(cells.values(), default=0),
    }


def waiting_list(scope: ReportScope) -> dict:
    """Entries that joined in the range, still on file or counted by the purge before it
    deleted them. An offer not taken ran out, was withdrawn or the patron left."""
    where = scope.waitlist_filters()
    live = WaitlistEntry.objects.filter(
        created_at__date__range=(scope.start, scope.end), **where
    ).aggregate(
        joined=Count("pk"),
        offered=Count("pk", filter=Q(offers_made__gt=0)),
        offers=Sum("offers_made", default=0),
        taken=Count("pk", filter=Q(state=WaitlistState.BOOKED)),
        left=Count("pk", filter=Q(state=WaitlistState.REMOVED)),
        open_offers=Count("pk", filter=Q(state=WaitlistState.OFFERED)),
    )
    tallied = WaitlistTally.objects.filter(day__range=(scope.start, scope.end), **where).aggregate(
        **{name: Sum(name, default=0) for name in ("joined", "offered", "offers", "taken", "left")}
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
        .annotate(
            joined=Count("pk"),
            offered=Count("pk", filter=Q(offers_made__gt=0)),
            offers=Sum("offers_made", default=0),
            taken=Count("pk", filter=Q(state=WaitlistState.BOOKED)),
            left=Count("pk", filter=Q(state=WaitlistState.REMOVED)),
        )
        .order_by()
    )
    return [WaitlistTally(**row) for row in rows]


def keep_waitlist_counts(entries: QuerySet) -> None:
    """Before deleting waiting-list entries: keep their counts for the reports."""
    WaitlistTally.objects.bulk_create(waitlist_tally_rows(entries))


FOLLOW_UP_LABELS = {
    5: _("5 – It helped a lot"),
    4: pgettext_lazy("follow-up answer", "4"),
    3: _("3 – It helped a little"),
    2: pgettext_lazy("follow-up answer", "2"),
    1: _("1 – It did not help"),
}


def follow_up_answers(scope: ReportScope) -> dict[int, int]:
    """How many follow-up answers said each number, for sessions in the range."""
    sessions = scope.sessions().values("pk")
    counts = (
        Feedback.objects.filter(appointment__in=sessions)
        .values("helpful")
        .annotate(n=Count("pk"))
        .order_by()
    )
    found = {row["helpful"]: row["n"] for row in counts}
    return {score: found.get(score, 0) for score in FOLLOW_UP_LABELS}


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
    totals = summary(scope)
    by_topic = _breakdown(scope, "topic_id", "topic_id")
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
        [str(_("Sessions for patrons booking for the first time")), totals["new"]],
        [str(_("Sessions for patrons who had booked before")), totals["returning"]],
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
        _breakdown(scope, "branch_id", "branch_id"),
        lambda pk: branch_names.get(pk, unknown),
    )
    tables["staff"] = _breakdown_table(
        "staff",
        _("By staff member"),
        _("Staff member"),
        _breakdown(scope, "staff_id", "recorded_by__staff_profile"),
        lambda pk: staff_names.get(pk, desk if pk is None else unknown),
    )
    tables["skill-levels"] = _breakdown_table(
        "skill-levels",
        _("By skill level"),
        _("Skill level"),
        _breakdown(scope, "skill_level", "skill_level"),
        lambda value: _label(SkillLevel, value),
    )
    tables["how-booked"] = _breakdown_table(
        "how-booked",
        _("By how it was booked"),
        _("Booked"),
        _breakdown(scope, "channel", None),
        lambda value: _label(Channel, value),
    )
    tables["contact"] = _breakdown_table(
        "contact",
        _("By how the patron hears from us"),
        _("Messages by"),
        _breakdown(scope, "contact_method", None),
        lambda value: _label(ContactMethod, value),
    )

    months = month_trend(scope)
    trend = Table("months", str(_("By month")), [str(_("Month")), *map(str, BREAKDOWN_COLUMNS)])
    trend.rows = [_breakdown_row(_month_label(row["month"]), row) for row in months]
    tables["months"] = trend

    grid = busiest_times(scope)
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

    answers = follow_up_answers(scope)
    follow_up = Table(
        "follow-up",
        str(_("Follow-up: did the session help?")),
        [str(_("Answer")), str(_("Answers"))],
    )
    follow_up.rows = [[str(FOLLOW_UP_LABELS[score]), n] for score, n in answers.items()]
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
