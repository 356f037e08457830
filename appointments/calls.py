"""The staff call list: patrons who prefer a phone call, to be called and marked."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from patrons.models import AccessRecord

from .models import Message, MessageChannel, MessageState
from .waitlist import book_it_url

desk_only = permission_required("appointments.book_for_patron", raise_exception=True)


@login_required
@desk_only
def call_list(request: HttpRequest) -> HttpResponse:
    """Calls waiting (oldest first), calls marked in the last day, and messages that failed."""
    waiting = (
        Message.objects.filter(channel=MessageChannel.CALL, state=MessageState.TO_CALL)
        .select_related("appointment__branch", "appointment__topic", "patron")
        .order_by("appointment__starts_at", "created_at")
    )
    done = (
        Message.objects.filter(
            channel=MessageChannel.CALL,
            state__in=[MessageState.CALLED, MessageState.NOT_REACHED],
            handled_at__gte=timezone.now() - timedelta(days=1),
        )
        .select_related("handled_by")
        .order_by("-handled_at")
    )
    failed = Message.objects.filter(state=MessageState.FAILED).order_by("-created_at")[:50]
    waiting = list(waiting)
    for call in waiting:
        call.book_it = book_it_url(call)  # An offer from the waiting list: book it for them.
    AccessRecord.objects.bulk_create(
        AccessRecord(user=request.user, patron_id=pk, what=AccessRecord.What.CALL_LIST)
        for pk in {call.patron_id for call in waiting if call.patron_id}
    )
    return render(request, "desk/calls.html", {"waiting": waiting, "done": done, "failed": failed})


@login_required
@desk_only
@require_POST
def mark_call(request: HttpRequest, pk: int) -> HttpResponse:
    outcome = request.POST.get("outcome")
    if outcome not in (MessageState.CALLED, MessageState.NOT_REACHED):
        messages.error(request, "Choose whether the call was made or the patron was not reached.")
        return redirect("appointments:calls")
    updated = Message.objects.filter(
        pk=pk, channel=MessageChannel.CALL, state=MessageState.TO_CALL
    ).update(state=outcome, handled_by=request.user, handled_at=timezone.now())
    if updated:
        messages.success(request, "Call marked.")
    else:
        messages.info(request, "Someone has already marked that call.")
    return redirect("appointments:calls")
