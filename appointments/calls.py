"""The staff call list: patrons who prefer a phone call, to be called and marked.

A call nobody answered stays on the list, with its tries counted, until it no longer matters:
the session it is about has started, or (for anything but the news of a cancellation) has been
cancelled. Follow-up calls and waiting-list offers stay until someone marks them.

Below them, messages to patrons that could not be sent: who, how to reach them, the session,
and why in plain words, until someone marks them handled (or the worker sends them after all).
Each shows only for a user who may see that patron (access.visible_patrons), like the way to
their page on a call; messages to staff that failed are counted apart, with a way to the admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from patrons.models import AccessRecord, Patron

from . import access
from .formatting import format_day
from .messaging import CALLS_TO_MAKE, failure_reason, will_go_out_by_itself
from .models import Message, MessageChannel, MessageKind, MessageState, Status
from .schedule_health import FAILED_MESSAGES_SHOWN_FOR, failed_messages_to_handle
from .waitlist import book_it_url, live_offer_keys, live_offers, offer_key

desk_only = permission_required("appointments.book_for_patron", raise_exception=True)


# What a call is about, in a few words for its buttons: two calls to one patron must not read
# the same to a screen reader.
ABOUT = {
    MessageKind.CONFIRMATION: _("booking"),
    MessageKind.CHANGE: _("new time"),
    MessageKind.CANCELLATION: _("cancellation"),
    MessageKind.REMINDER: _("reminder"),
    MessageKind.FOLLOW_UP: _("follow-up"),
    MessageKind.WAITLIST_OFFER: _("waiting-list offer"),
    MessageKind.WAITLIST_JOINED: _("waiting-list place"),
}


def call_about(call: Message) -> str:
    """Who a call is to and what about: "Rosa Alvarez, reminder for Tuesday 8 December"."""
    about = str(ABOUT.get(call.kind, call.get_kind_display().lower()))
    if call.appointment_id:
        about = gettext("%(about)s for %(day)s") % {
            "about": about,
            "day": format_day(call.appointment.local_starts_at),
        }
    return f"{call.patron.name if call.patron else call.to}, {about}"


def calls_to_make(now: datetime, offer_keys: Iterable[str]) -> QuerySet:
    """Calls not yet made, or tried without reaching the patron, that still matter: about a
    session still ahead, a cancellation (until someone tells the patron), a follow-up, or a
    waiting-list offer that is still held (`offer_keys`: the live offers' message keys). The
    worker marks the others skipped."""
    session_ahead = Q(appointment__starts_at__gt=now) & ~Q(appointment__status=Status.CANCELLED)
    live_offer = Q(kind=MessageKind.WAITLIST_OFFER, key__in=list(offer_keys))
    return Message.objects.filter(
        (Q(appointment__isnull=True) & (~Q(kind=MessageKind.WAITLIST_OFFER) | live_offer))
        | Q(kind__in=[MessageKind.FOLLOW_UP, MessageKind.CANCELLATION])
        | session_ahead,
        channel=MessageChannel.CALL,
        state__in=CALLS_TO_MAKE,
    )


@login_required
@desk_only
def call_list(request: HttpRequest) -> HttpResponse:
    """Calls waiting (soonest session first), calls made in the last day, and messages that
    failed."""
    now = timezone.now()
    # The live offers, once: which offer calls still matter, and their "Book it".
    offers = {offer_key(e): e for e in live_offers().select_related("offer_branch")}
    waiting = list(
        calls_to_make(now, offers)
        .select_related("appointment__branch", "appointment__topic", "patron", "handled_by")
        .order_by("appointment__starts_at", "created_at")
    )
    done = list(
        Message.objects.filter(
            channel=MessageChannel.CALL,
            state=MessageState.CALLED,
            handled_at__gte=now - timedelta(days=1),
        )
        .select_related("handled_by", "patron", "appointment__branch")
        .order_by("-handled_at")
    )
    for call in done:
        call.about = call_about(call)
    failed, failed_count = failed_to_patrons(request.user, now)
    handled = list(
        Message.objects.filter(
            state=MessageState.FAILED,
            patron__in=access.visible_patrons(request.user),
            handled_at__gte=now - timedelta(days=1),
        )
        .select_related("patron", "handled_by", "appointment__branch")
        .order_by("-handled_at")
    )
    for message in handled:
        message.about = call_about(message)
    staff_failed = failed_messages_to_handle(patron__isnull=True)
    # Accessibility notes follow the privacy rules: the desk sees them on the day.
    with_notes = {c.patron_id for c in waiting if c.patron and c.patron.accessibility_needs}
    shown = access.needs_shown_for(request.user, with_notes) if with_notes else set()
    # After a cancellation (a closure's too) the desk offers to book again from the patron's
    # page, for those whose page this user may open.
    cancelled = {c.patron_id for c in waiting if c.kind == MessageKind.CANCELLATION and c.patron}
    rebook = set()
    if cancelled:
        patrons = access.visible_patrons(request.user, Patron.objects.filter(pk__in=cancelled))
        rebook = set(patrons.values_list("pk", flat=True))
    for call in waiting:
        call.book_it = book_it_url(call, offers)  # A waiting-list offer: book it for them.
        call.show_notes = call.patron_id in shown
        call.about = call_about(call)
        call.rebook = call.kind == MessageKind.CANCELLATION and call.patron_id in rebook
    AccessRecord.objects.bulk_create(
        AccessRecord(user=request.user, patron_id=pk, what=AccessRecord.What.CALL_LIST)
        for pk in {call.patron_id for call in [*waiting, *failed] if call.patron_id}
    )
    context = {
        "waiting": waiting,
        "done": done,
        "failed": failed,
        "failed_count": failed_count,
        "handled": handled,
        "staff_failed": staff_failed,
    }
    return render(request, "desk/calls.html", context)


# The most failed messages the call list shows at once.
FAILED_SHOWN = 50


def failed_to_patrons(user, now: datetime) -> tuple[list[Message], int]:
    """Messages to patrons that could not be sent in the last week (as the admin home counts
    them) and nobody has handled yet, of the patrons this user may see, and how many there are
    in all: at most FAILED_SHOWN, those about a session not yet begun (or about none) first,
    soonest first, then the rest, latest session first. Each carries its reason in plain
    words, whether the worker will still send it when the channel works again, and a link to
    the session's page (or else the patron's) on the desk."""
    found = Message.objects.filter(
        state=MessageState.FAILED,
        handled_at__isnull=True,
        patron__in=access.visible_patrons(user),
        created_at__gte=now - FAILED_MESSAGES_SHOWN_FOR,
    )
    still_ahead = Q(appointment__isnull=True) | Q(appointment__starts_at__gt=now)
    failed = list(
        found.select_related(
            "patron", "appointment__topic", "appointment__branch", "appointment__feedback"
        ).order_by(
            Case(When(still_ahead, then=Value(0)), default=Value(1)),
            # Ahead: the soonest session first, then those about none.
            Case(When(still_ahead, then=F("appointment__starts_at"))).asc(nulls_last=True),
            # Begun: the latest first.
            F("appointment__starts_at").desc(),
            "-created_at",
        )[:FAILED_SHOWN]
    )
    count = len(failed) if len(failed) < FAILED_SHOWN else found.count()
    sessions = {m.appointment_id for m in failed if m.appointment_id}
    seen = set(
        access.visible_appointments(user).filter(pk__in=sessions).values_list("pk", flat=True)
    )
    offer_keys = (
        live_offer_keys() if any(m.kind == MessageKind.WAITLIST_OFFER for m in failed) else []
    )
    for message in failed:
        message.about = call_about(message)
        message.reason = failure_reason(message)
        message.session_seen = message.appointment_id in seen
        message.will_retry = will_go_out_by_itself(message, now, offer_keys=offer_keys)
    return failed, count


@login_required
@desk_only
@require_POST
def mark_failed_handled(request: HttpRequest, pk: int) -> HttpResponse:
    """The patron was reached another way (or needs nothing more): the failed message leaves
    the list, with who marked it and when. "undo" puts it back."""
    mine = Message.objects.filter(
        pk=pk, state=MessageState.FAILED, patron__in=access.visible_patrons(request.user)
    )
    if request.POST.get("undo"):
        undone = mine.filter(handled_at__gte=timezone.now() - timedelta(days=1)).update(
            handled_by=None, handled_at=None
        )
        if undone:
            messages.success(request, _("Undone: the message is back on the list."))
        else:
            messages.info(request, _("There was nothing to undo on that message."))
        return redirect("appointments:calls")
    marked = mine.filter(handled_at__isnull=True).update(
        handled_by=request.user, handled_at=timezone.now()
    )
    if marked:
        messages.success(request, _("Marked handled: the message leaves the list."))
    else:
        messages.info(request, _("Someone has already marked that message, or it was sent."))
    return redirect("appointments:calls")


@login_required
@desk_only
@require_POST
def mark_call(request: HttpRequest, pk: int) -> HttpResponse:
    """Called: the call is done. Not reached: one more try counted; it stays on the list."""
    outcome = request.POST.get("outcome")
    if outcome not in (MessageState.CALLED, MessageState.NOT_REACHED):
        messages.error(
            request, _("Choose whether the call was made or the patron was not reached.")
        )
        return redirect("appointments:calls")
    tried = {"attempts": F("attempts") + 1} if outcome == MessageState.NOT_REACHED else {}
    updated = Message.objects.filter(
        pk=pk, channel=MessageChannel.CALL, state__in=CALLS_TO_MAKE
    ).update(state=outcome, handled_by=request.user, handled_at=timezone.now(), **tried)
    if not updated:
        messages.info(request, _("Someone has already marked that call."))
    elif outcome == MessageState.CALLED:
        messages.success(request, _("Call marked done."))
    else:
        messages.success(request, _("Not reached: the call stays on the list to try again."))
    return redirect("appointments:calls")


@login_required
@desk_only
@require_POST
def undo_call(request: HttpRequest, pk: int) -> HttpResponse:
    """Take back the last mark on a call: "called" goes back to the list, and the last
    "not reached" try is no longer counted. Claimed with a conditional update, so that two
    clicks (or two people) undo one mark, not two."""
    call = Message.objects.filter(pk=pk, channel=MessageChannel.CALL).first()
    undone = 0
    if call is not None and call.state in (MessageState.CALLED, MessageState.NOT_REACHED):
        tries = call.attempts - (call.state == MessageState.NOT_REACHED)
        # Only what the list offers to undo: a call marked done in the last day, or a try on a
        # call still on the list.
        recent = Q(handled_at__gte=timezone.now() - timedelta(days=1))
        undone = Message.objects.filter(
            recent | Q(state=MessageState.NOT_REACHED),
            pk=pk,
            state=call.state,
            attempts=call.attempts,
        ).update(
            state=MessageState.NOT_REACHED if tries else MessageState.TO_CALL,
            attempts=tries,
            # The time of the try before is not kept: the list then says only how many.
            handled_by=None,
            handled_at=None,
        )
    if undone:
        messages.success(request, _("Undone: the call is back on the list."))
    else:
        messages.info(request, _("There was nothing to undo on that call."))
    return redirect("appointments:calls")
