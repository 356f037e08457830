"""The reports page for managers, and a CSV file of each of its tables.

Managers only. The desk and librarians get "forbidden": a report has no patron in it, but it
does rate each staff member (sessions, no-shows, hours), which is for whoever manages them; and
the desk's work needs none of it. The date range and filters are all in the address (a GET
form), so a report can be bookmarked and shared among managers.
"""

from __future__ import annotations

import csv
from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import access, report_charts
from .models import Branch, StaffProfile, Topic
from .reports import PRESETS, ReportScope, build_report, preset_range

CUSTOM = "custom"
LONGEST_RANGE_DAYS = 366 * 5
# Days a report may name: a typo such as year 0001 or 9999 is a mistake to point out (and the
# range around such a day would not fit in a date).
FIRST_YEAR, YEARS_AHEAD = 2000, 5


class ReportForm(forms.Form):
    """The date range and filters. Choices come from lists loaded once, so the form costs no
    queries of its own."""

    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[*PRESETS.items(), (CUSTOM, _("Between the two dates below"))],
    )
    start = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        error_messages={"invalid": _("Enter the first day as a date, for example 2026-10-01.")},
    )
    end = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        error_messages={"invalid": _("Enter the last day as a date, for example 2026-12-31.")},
    )
    branch = forms.TypedChoiceField(label=_("Branch"), required=False, coerce=int, empty_value=None)
    topic = forms.TypedChoiceField(label=_("Topic"), required=False, coerce=int, empty_value=None)
    staff = forms.TypedChoiceField(
        label=_("Staff member"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, data, *, branches, topics, staff):
        super().__init__(data)
        self.options = {
            "branch": {b.pk: b for b in branches},
            "topic": {t.pk: t for t in topics},
            "staff": {s.pk: s for s in staff},
        }
        everyone = {
            "branch": _("All branches"),
            "topic": _("All topics"),
            "staff": _("All staff"),
        }
        for name, objects in self.options.items():
            self.fields[name].choices = [("", everyone[name])] + [
                (pk, str(obj)) for pk, obj in objects.items()
            ]
            self.fields[name].error_messages["invalid_choice"] = _(
                "Choose one from the list, or all."
            )
            self.fields[name].widget.attrs["class"] = "form-select"
        self.fields["period"].error_messages["invalid_choice"] = _("Choose a period from the list.")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if self.errors:
            return data
        period = data.get("period") or ""
        if start or end or period == CUSTOM:
            if not (start and end):
                raise forms.ValidationError(_("Give both the first and the last day."))
            last_year = timezone.localdate().year + YEARS_AHEAD
            for name, day in (("start", start), ("end", end)):
                if not FIRST_YEAR <= day.year <= last_year:
                    self.add_error(
                        name,
                        _("Choose a day between the years %(first)s and %(last)s.")
                        % {"first": FIRST_YEAR, "last": last_year},
                    )
            if self.errors:
                return data
            if end < start:
                self.add_error("end", _("The last day is before the first day."))
            elif (end - start).days > LONGEST_RANGE_DAYS:
                self.add_error("end", _("Choose at most five years."))
            data["period"] = CUSTOM
        else:
            data["period"] = period or "this_month"
            data["start"], data["end"] = preset_range(data["period"], timezone.localdate())
        return data

    def scope(self) -> ReportScope:
        data = self.cleaned_data
        return ReportScope(
            start=data["start"],
            end=data["end"],
            **{name: self.options[name].get(data[name]) for name in self.options},
        )


def _manager(request: HttpRequest) -> None:
    if not access.is_manager(request.user):
        raise PermissionDenied


def _form(request: HttpRequest) -> ReportForm:
    return ReportForm(
        request.GET,
        branches=list(Branch.objects.only("name")),
        topics=list(Topic.objects.only("name")),
        staff=list(StaffProfile.objects.only("public_name")),
    )


def _preset_links(request: HttpRequest) -> list[dict]:
    """A link per preset period, keeping the filters chosen."""
    kept = request.GET.copy()
    for name in ("start", "end", "period"):
        kept.pop(name, None)
    links = []
    for key, label in PRESETS.items():
        kept["period"] = key
        links.append({"label": label, "url": "?" + kept.urlencode(), "key": key})
    return links


@login_required
def reports(request: HttpRequest) -> HttpResponse:
    _manager(request)
    form = _form(request)
    context = {
        "form": form,
        "preset_links": _preset_links(request),
        "period": request.GET.get("period", ""),
    }
    if not form.is_valid():
        return render(request, "desk/reports.html", context, status=400)
    scope = form.scope()
    report = _report(form, scope)
    query = request.GET.copy()
    query["period"], query["start"], query["end"] = CUSTOM, scope.start, scope.end
    context.update(
        report=report,
        scope=scope,
        period=form.cleaned_data["period"],
        days=(scope.end - scope.start + timedelta(days=1)).days,
        csv_query=query.urlencode(),
        charts={
            "months": report_charts.month_trend(report.months),
            "topics": report_charts.topic_bars(report.topics),
            "grid": report_charts.weekday_grid(report.grid),
        },
    )
    return render(request, "desk/reports.html", context)


def _report(form, scope):
    """The report for a valid form, with the names its filter lists already loaded."""
    return build_report(
        scope,
        branches=list(form.options["branch"].values()),
        topics=list(form.options["topic"].values()),
        staff=list(form.options["staff"].values()),
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> object:
    """A spreadsheet must not run a cell as a formula: text that could start one is quoted.
    Numbers are left as numbers (a negative number is not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


@login_required
def report_csv(request: HttpRequest, table: str) -> HttpResponse:
    _manager(request)
    form = _form(request)
    if not form.is_valid():
        return redirect(reverse("appointments:reports") + "?" + request.GET.urlencode())
    scope = form.scope()
    report = _report(form, scope)
    if table not in report.tables:
        raise Http404
    chosen = report.tables[table]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"library-help-{chosen.slug}-{scope.start}-to-{scope.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # so that spreadsheet programs read it as UTF-8
    writer = csv.writer(response)
    writer.writerow([safe_cell(str(column)) for column in chosen.columns])
    for row in chosen.rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return response


@login_required
def old_statistics(request: HttpRequest) -> HttpResponse:
    """The old statistics page became the reports (for those who could see it)."""
    _manager(request)
    return redirect("appointments:reports")
