"""Pages for managers."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .stats import session_statistics, walk_in_statistics


@login_required
@permission_required("appointments.manage_all_schedules", raise_exception=True)
def statistics(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "desk/statistics.html",
        {**session_statistics(), "walk_ins": walk_in_statistics()},
    )
