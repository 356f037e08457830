"""The reference desk: book a session for a patron who is standing there or on the phone."""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from library_help.languages import language_choices
from patrons.forms import DeskPatronForm
from patrons.models import AccessRecord, Patron, record_access

from . import access, closures
from .booking import (
    BookingError,
    book_appointment,
    cancel_appointment,
    pause_reason,
    person_sessions,
    reschedule_appointment,
    upcoming_count,
)
from .formatting import format_when
from .forms import (
    CancelForm,
    DeskBookingForm,
    MoveForm,
    PatronSearchForm,
    slot_value,
    usual_length,
)
from .models import Appointment, Branch, Channel, StaffProfile, Status, Topic
from .slots import Slot
from .views import _time_form, time_choices, without_current_time
from .waitlist import book_held_time, held_offer

desk_only = permission_required("appointments.book_for_patron", raise_exception=True)


class DeskBookingWithLanguageForm(DeskBookingForm):
    """The desk's booking form and the language the patron's messages go in: the one they
    are known to prefer, unless they say otherwise on the phone."""

    language = forms.ChoiceField(
        label=_("Language for messages"),
        choices=language_choices,
        # Left out (an older form still open), the patron's language stays as it is.
        required=False,
        help_text=_("The confirmation, the reminder and any change reach the patron in it."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        order = [name for name in self.fields if name != "language"]
        order.insert(order.index("channel") + 1 if "channel" in order else 0, "language")
        self.order_fields(order)


@login_required
@desk_only
@require_http_methods(["GET", "POST"])
def find_patron(request: HttpRequest) -> HttpResponse:
    # A POST, so that names and phone numbers never appear in addresses or server logs.
    form = PatronSearchForm(request.POST or None)
    patrons = None
    if form.is_valid() and form.cleaned_data["q"]:
        patrons = Patron.objects.search(form.cleaned_data["q"])[:25]
    # "Book a patron here" on the calendar: keep its staff member and week for the booking form.
    carry = urlencode(
        {
            k: v
            for k, v in request.GET.items()
            if k in ("staff", "week") and v[:10].replace("-", "").isdigit()
        }
    )
    return render(request, "desk/find.html", {"form": form, "patrons": patrons, "carry": carry})


@sensitive_post_parameters()
@login_required
@desk_only
@require_http_methods(["GET", "POST"])
def add_patron(request: HttpRequest) -> HttpResponse:
    form = DeskPatronForm(request.POST or None)
    carry = urlencode({k: v for k, v in request.GET.items() if k in ("staff", "week")})
    same = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        same = Patron.objects.matching(data["email"], data["phone"], data["card_number"])[:10]
        # A second record of someone already known would hide their limits and history.
        if not same or request.POST.get("someone_else"):
            patron = form.save()
            messages.success(request, gettext("Added %(name)s.") % {"name": patron.name})
            url = reverse("appointments:desk_book", args=[patron.pk])
            return redirect(f"{url}?{carry}" if carry else url)
    context = {"form": form, "same": same, "carry": carry}
    return render(request, "desk/add_patron.html", context)


@login_required
@desk_only
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, patron_id: int) -> HttpResponse:
    patron = get_object_or_404(Patron, pk=patron_id)
    if request.method == "GET" and "topic" not in request.GET:
        record_access(request.user, patron, AccessRecord.What.DESK_BOOKING, patron.pk)
        # The desk is working with this patron: the purge of unused records leaves them be.
        Patron.objects.filter(pk=patron.pk).update(updated_at=timezone.now())
    topics = Topic.objects.filter(is_active=True).with_translations()
    topic_id = request.GET.get("topic", "")
    topic = topics.filter(pk=topic_id).first() if topic_id.isdigit() else None
    upcoming = upcoming_count(patron)
    over_limit = upcoming >= settings.BOOKING_MAX_UPCOMING
    past = person_sessions(patron).filter(starts_at__lt=timezone.now())
    context = {
        "attended": past.filter(status=Status.ATTENDED).count(),
        "missed": past.filter(status=Status.NO_SHOW).count(),
        "pause": pause_reason(patron),
        "patron": patron,
        "topics": topics,
        "topic": topic,
        "upcoming": upcoming,
        "limit": settings.BOOKING_MAX_UPCOMING,
        "over_limit": over_limit,
    }
    if topic is None:
        return render(request, "desk/book.html", context)

    # The same length as online until the desk chooses another (an hour, where offered).
    length_param = request.GET.get("length", "")
    length = int(length_param) if length_param.isdigit() else 0
    if length not in topic.session_lengths:
        length = usual_length(topic.session_lengths)
    # A time held for this patron on the waiting list is theirs to book (and only theirs).
    holder = held_offer(patron, topic, length)
    choices = time_choices(request, topic, length, for_desk=True, holder=holder)
    need_form = DeskBookingWithLanguageForm(
        request.POST or None,
        topic=topic,
        over_limit=over_limit,
        length=length,
        initial={**(_need_of(holder, request.user) or {}), "language": patron.language},
    )
    time_form = _time_form(choices, request.POST if request.method == "POST" else None)
    if holder is not None:
        _mark_held(time_form, holder, choose=bool(request.GET.get("held")))
    if request.method == "POST":
        need_ok, time_ok = need_form.is_valid(), time_form.is_valid()
        if need_ok and time_ok:
            branch_id, staff_id, start = time_form.chosen()
            data = need_form.cleaned_data
            book_it = book_appointment if holder is None else partial(book_held_time, holder)
            try:
                appointment = book_it(
                    patron=patron,
                    topic=topic,
                    branch=get_object_or_404(Branch, pk=branch_id),
                    staff=StaffProfile.objects.filter(pk=staff_id or 0).first(),
                    starts_at=start,
                    length=data["length"],
                    skill_level=data["skill_level"],
                    learning_goal=data["learning_goal"],
                    party_size=data["party_size"],
                    channel=data["channel"],
                    booked_by=request.user,
                    limit_override_reason=data["limit_override_reason"],
                    language=data["language"] or None,
                )
            except BookingError as error:
                time_form.add_error("slot" if error.code == "taken" else None, error.message)
            else:
                return redirect("appointments:desk_booked", reference=appointment.reference)
        if not time_ok or time_form.errors:
            time_form.options = _time_form(choices).options
    context.update(
        choices,
        need_form=need_form,
        form=time_form,
        length=length,
        week_query=f"topic={topic.pk}&length={length}&",
        held=holder,
    )
    return render(request, "desk/book.html", context)


def _need_of(holder, user) -> dict | None:
    """The waiting patron's answers, for the desk to check rather than ask again. What they want
    to learn follows the privacy rule for needs: the desk sees it on the day of a session, and
    a waiting-list entry has none, so the desk asks them (managers see it)."""
    if holder is None:
        return None
    prefers_calls = holder.patron.preferred_contact == "call"
    return {
        "skill_level": holder.skill_level,
        "learning_goal": holder.learning_goal if access.is_manager(user) else "",
        "party_size": holder.party_size,
        "channel": Channel.PHONE if prefers_calls else Channel.DESK,
    }


def _mark_held(form, holder, *, choose: bool) -> None:
    """Say whose held time it is and, from the call list's "Book it", choose it (the desk still
    confirms with the button)."""
    form.held[holder.offer_branch_id, holder.offer_starts_at] = holder.patron.first_name
    if choose and not form.is_bound:
        held = Slot(
            holder.offer_starts_at,
            holder.offer_ends_at,
            holder.offer_staff_id,
            holder.offer_branch_id,
        )
        form.initial["slot"] = slot_value(held, any_staff=form.any_staff)


@login_required
@desk_only
def booked(request: HttpRequest, reference) -> HttpResponse:
    appointment = get_object_or_404(
        Appointment.objects.select_related("patron", "topic", "branch", "staff"),
        reference=reference,
    )
    return render(request, "desk/booked.html", {"appointment": appointment})


def _session_to_change(request: HttpRequest, reference) -> Appointment:
    """The session, if this user may move or cancel it (its staff member, the desk,
    managers); "not found" otherwise, as for a session that does not exist."""
    appointment = get_object_or_404(
        Appointment.objects.select_related("patron", "topic", "branch", "staff"),
        reference=reference,
    )
    if not access.may_change_appointment(request.user, appointment):
        raise Http404
    return appointment


def _session_page(appointment: Appointment) -> str:
    return reverse("appointments:session", args=[appointment.reference])


@login_required
def session(request: HttpRequest, reference) -> HttpResponse:
    """A session to prepare for: what the patron wants to learn and their skill level first,
    the date in words, and their own words as text. Read-only: changes go through Move, Cancel
    or the admin, each under its own rules."""
    appointment = get_object_or_404(
        access.visible_appointments(request.user).select_related(
            "patron", "topic", "branch", "staff"
        ),
        reference=reference,
    )
    sees_need = access.may_see_need(request.user, appointment)
    if sees_need:
        record_access(
            request.user, appointment.patron, AccessRecord.What.APPOINTMENT, appointment.pk
        )
    user = request.user
    # Kept booked over a closure or a block: nothing was sent, so staff are told here.
    closure = closures.closure_on_its_day(appointment) if appointment.is_cancellable else None
    block = closures.block_over(appointment) if appointment.is_cancellable and not closure else None
    context = {
        "appointment": appointment,
        "closed": closures.closure_reason(closure) if closure else "",
        "blocked_time": block,
        "sees_need": sees_need,
        "may_change": appointment.is_cancellable
        and access.may_change_appointment(user, appointment),
        "may_edit": user.has_perm("appointments.change_appointment"),
        "patron_page": appointment.patron is not None
        and access.may_see_patron(user, appointment.patron),
    }
    return render(request, "desk/session.html", context)


@login_required
def patron(request: HttpRequest, patron_id: int) -> HttpResponse:
    """One patron's sessions, coming and recent, to move or cancel when they ring or come in.
    Librarians reach only their own patrons, and see only their own sessions with them."""
    user = request.user
    person = get_object_or_404(access.visible_patrons(user), pk=patron_id)
    record_access(user, person, AccessRecord.What.PATRON, person.pk)
    sessions = access.visible_appointments(user).filter(patron=person)
    sessions = sessions.select_related("topic", "branch", "staff")
    now = timezone.now()
    coming = Q(starts_at__gt=now, status=Status.CONFIRMED)
    upcoming = list(sessions.filter(coming).order_by("starts_at"))
    recent = list(sessions.exclude(coming).order_by("-starts_at")[:10])
    for item in upcoming:
        item.may_change = access.may_change_appointment(user, item)
    context = {
        "patron": person,
        "upcoming": upcoming,
        "recent": recent,
        "books": access.books_for_patrons(user),
        "sees_needs": access.may_see_accessibility_needs(user, person),
    }
    return render(request, "desk/patron.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def move_session(request: HttpRequest, reference) -> HttpResponse:
    """Staff move a session to another open time: the same rules as the patron's own link,
    without the notice period, and a limit lifted only by saying why."""
    appointment = _session_to_change(request, reference)
    if not appointment.is_cancellable:
        messages.info(request, _("This session is over or cancelled: its time cannot change."))
        return redirect(_session_page(appointment))
    # A librarian moves their own session within their own schedule; the desk and managers
    # may give it to whoever is free.
    everyone = access.books_for_patrons(request.user) or access.is_manager(request.user)
    own = None if everyone else appointment.staff
    choices = without_current_time(
        time_choices(
            request,
            appointment.topic,
            appointment.minutes,
            for_desk=True,
            ignoring=appointment,
            only_staff=own,
        ),
        appointment,
    )
    posted = request.POST if request.method == "POST" else None
    move_form = MoveForm(posted)
    time_form = _time_form(choices, posted)
    if posted is not None:
        if time_form.is_valid() and move_form.is_valid():
            branch_id, staff_id, start = time_form.chosen()
            try:
                moved = reschedule_appointment(
                    appointment,
                    branch=get_object_or_404(Branch, pk=branch_id),
                    starts_at=start,
                    staff=own or StaffProfile.objects.filter(pk=staff_id or 0).first(),
                    by=request.user,
                    limit_override_reason=move_form.cleaned_data["limit_override_reason"],
                )
            except BookingError as error:
                time_form.add_error("slot" if error.code == "taken" else None, error.message)
            else:
                when = format_when(moved.local_starts_at)
                _log(request, moved, f"Moved to {when}, with {moved.staff.public_name}")
                messages.success(
                    request,
                    gettext(
                        "Moved to %(when)s, with %(staff)s; the patron is told their usual way."
                    )
                    % {"when": when, "staff": moved.staff.public_name},
                )
                if not access.may_change_appointment(request.user, moved):
                    return redirect("admin:appointments_appointment_changelist")
                return redirect(_session_page(moved))
        time_form.options = _time_form(choices).options
    context = {
        **choices,
        "appointment": appointment,
        "form": time_form,
        "move_form": move_form,
        "back": _session_page(appointment),
    }
    return render(request, "desk/move.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def cancel_session(request: HttpRequest, reference) -> HttpResponse:
    """Cancel for the patron who rang or came in, or because the library cannot hold it: the
    patron's message says which."""
    appointment = _session_to_change(request, reference)
    if not appointment.is_cancellable:
        messages.info(request, _("This session is over or cancelled already: nothing changed."))
        return redirect(_session_page(appointment))
    # "Cancel (patron asked)" on the patron's page comes with the answer chosen.
    who = request.GET.get("who")
    form = CancelForm(
        request.POST if request.method == "POST" else None,
        initial={"who": who} if who in ("patron", "library") else None,
    )
    if request.method == "POST" and form.is_valid():
        by_library = form.cleaned_data["who"] == "library"
        try:
            cancelled = cancel_appointment(appointment, by_staff=by_library, by=request.user)
        except BookingError as error:
            messages.error(request, error.message)
            return redirect(_session_page(appointment))
        if cancelled:
            who = "by the library" if by_library else "at the patron's request"
            _log(request, appointment, f"Cancelled {who}")
            messages.success(
                request, _("The session is cancelled. The patron is told their usual way.")
            )
        return redirect(_session_page(appointment))
    return render(
        request,
        "desk/cancel.html",
        {"appointment": appointment, "form": form, "back": _session_page(appointment)},
    )


def _log(request: HttpRequest, appointment: Appointment, message: str) -> None:
    """Into the session's history in the admin, beside the edits made there."""
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[appointment],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )
