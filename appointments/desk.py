"""The reference desk: book a session for a patron who is standing there or on the phone."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from patrons.forms import PatronForm
from patrons.models import AccessRecord, Patron, record_access

from .booking import BookingError, book_appointment, pause_reason, person_sessions, upcoming_count
from .forms import DeskBookingForm, PatronSearchForm
from .models import Appointment, Branch, StaffProfile, Status, Topic
from .views import _time_form, time_choices

desk_only = permission_required("appointments.book_for_patron", raise_exception=True)


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
    form = PatronForm(request.POST or None)
    form.fields["name"].label = "Patron's name"
    form.fields["preferred_contact"].label = "How does the patron want to be reached?"
    carry = urlencode({k: v for k, v in request.GET.items() if k in ("staff", "week")})
    same = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        same = Patron.objects.matching(data["email"], data["phone"], data["card_number"])[:10]
        # A second record of someone already known would hide their limits and history.
        if not same or request.POST.get("someone_else"):
            patron = form.save()
            messages.success(request, f"Added {patron.name}.")
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
    topics = Topic.objects.filter(is_active=True)
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

    length_param = request.GET.get("length", "")
    length = int(length_param) if length_param.isdigit() else topic.session_lengths[0]
    if length not in topic.session_lengths:
        length = topic.session_lengths[0]
    choices = time_choices(request, topic, length, for_desk=True)
    need_form = DeskBookingForm(
        request.POST or None, topic=topic, over_limit=over_limit, length=length
    )
    time_form = _time_form(choices, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        need_ok, time_ok = need_form.is_valid(), time_form.is_valid()
        if need_ok and time_ok:
            branch_id, staff_id, start = time_form.chosen()
            data = need_form.cleaned_data
            try:
                appointment = book_appointment(
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
    )
    return render(request, "desk/book.html", context)


@login_required
@desk_only
def booked(request: HttpRequest, reference) -> HttpResponse:
    appointment = get_object_or_404(
        Appointment.objects.select_related("patron", "topic", "branch", "staff"),
        reference=reference,
    )
    return render(request, "desk/booked.html", {"appointment": appointment})
