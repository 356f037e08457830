"""The desk's day at a branch: every session in time order, one-click check-in, walk-ins."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from patrons.models import AccessRecord, Patron

from . import access
from .booking import BookingError, pause_reason, record_outcome
from .formatting import parse_day
from .models import Appointment, Branch, SkillLevel, Topic, WalkIn, topic_texts

desk_only = permission_required("appointments.book_for_patron", raise_exception=True)


class WalkInForm(forms.ModelForm):
    class Meta:
        model = WalkIn
        fields = ["topic", "minutes", "skill_level"]
        labels = {"minutes": _("Minutes spent"), "skill_level": _("Their skill level")}
        widgets = {"minutes": forms.NumberInput(attrs={"min": 1, "max": 240})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = Topic.objects.filter(is_active=True).with_translations()
        self.fields["topic"].label_from_instance = lambda topic: topic.translated_name
        self.fields["topic"].empty_label = _("Choose a topic")
        self.fields["skill_level"].choices = [("", _("Choose a level")), *SkillLevel.choices]

    def clean_minutes(self):
        minutes = self.cleaned_data["minutes"]
        if not 1 <= minutes <= 240:
            raise forms.ValidationError(_("Give the minutes spent, from 1 to 240."))
        return minutes


def _day_and_branch(request: HttpRequest) -> tuple[Branch | None, date]:
    branches = Branch.objects.all()
    branch = (
        branches.filter(pk=request.GET.get("branch") or 0).first()
        if request.GET.get("branch", "").isdigit()
        else None
    )
    branch = branch or branches.first()
    today = timezone.now().astimezone(branch.tz).date() if branch else timezone.localdate()
    return branch, parse_day(request.GET.get("date", ""), today)


@login_required
@desk_only
def today(request: HttpRequest) -> HttpResponse:
    branch, day = _day_and_branch(request)
    sessions = []
    if branch is not None:
        start = datetime.combine(day, datetime.min.time(), tzinfo=branch.tz)
        sessions = list(
            Appointment.objects.filter(
                branch=branch, starts_at__gte=start, starts_at__lt=start + timedelta(days=1)
            )
            .select_related("patron", "topic", "staff", "branch", "marked_by")
            .with_topic_texts()
            .order_by("starts_at", "staff__public_name")
        )
        for s in sessions:
            # The desk greets them today: what they came for; other days stay private.
            s.sees_need = access.may_see_need(request.user, s)
        AccessRecord.objects.bulk_create(
            AccessRecord(
                user=request.user,
                patron_id=s.patron_id,
                what=AccessRecord.What.APPOINTMENT,
                object_id=s.pk,
            )
            for s in sessions
            if s.patron_id
        )
    walk_ins = (
        (
            WalkIn.objects.filter(branch=branch, at__date=day)
            .select_related("topic")
            .prefetch_related(*topic_texts("topic"))
        )
        if branch
        else []
    )
    return render(
        request,
        "desk/today.html",
        {
            "branch": branch,
            "branches": Branch.objects.all(),
            "day": day,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "is_today": branch is not None and day == timezone.now().astimezone(branch.tz).date(),
            "sessions": sessions,
            "walk_in_form": WalkInForm(),
            "walk_ins": walk_ins,
        },
    )


def _back_to_today(appointment: Appointment) -> str:
    day = appointment.local_starts_at.date().isoformat()
    return reverse("appointments:today") + f"?branch={appointment.branch_id}&date={day}"


@login_required
@desk_only
@require_POST
def mark(request: HttpRequest, reference) -> HttpResponse:
    """Check a patron in, or mark them absent, or record that they cancelled."""
    appointment = get_object_or_404(
        Appointment.objects.select_related("branch"), reference=reference
    )
    try:
        appointment = record_outcome(appointment, request.POST.get("outcome", ""), by=request.user)
    except BookingError as error:
        messages.error(request, error.message)
    else:
        name = appointment.patron.first_name if appointment.patron else gettext("The patron")
        messages.success(request, f"{name}: {appointment.get_status_display().lower()}.")
    return redirect(_back_to_today(appointment))


@login_required
@desk_only
@require_POST
def walk_in(request: HttpRequest) -> HttpResponse:
    branch, day = _day_and_branch(request)
    form = WalkInForm(request.POST)
    if branch is not None and form.is_valid():
        walk = form.save(commit=False)
        walk.branch = branch
        walk.recorded_by = request.user
        walk.save()
        messages.success(
            request,
            gettext("Walk-in help recorded: %(topic)s, %(minutes)s minutes.")
            % {"topic": walk.topic.translated_name, "minutes": walk.minutes},
        )
    else:
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        messages.error(
            request, gettext("The walk-in was not recorded: %(errors)s") % {"errors": errors}
        )
    return redirect(reverse("appointments:today") + f"?branch={branch.pk if branch else ''}")


@login_required
@desk_only
@require_POST
def lift_pause(request: HttpRequest, patron_id: int) -> HttpResponse:
    patron = get_object_or_404(Patron, pk=patron_id)
    reason = request.POST.get("reason", "").strip()[:200]
    if not reason:
        messages.error(request, _("Say why you are letting this patron book online again."))
    elif pause_reason(patron):
        Patron.objects.filter(pk=patron.pk).update(
            pause_lifted_at=timezone.now(), pause_lifted_by=request.user, pause_lift_reason=reason
        )
        messages.success(
            request, gettext("%(name)s can book online again.") % {"name": patron.name}
        )
    return redirect("appointments:desk_book", patron_id=patron.pk)
