"""The staff admin: topics, branches, schedules and sessions, scoped by role.

Librarians see and change only their own profile, availability, blocked time and sessions. The
desk sees every calendar and can change any session (check-in, cancel); managers change
everything. Rows a user may not see are left out of their lists, so a colleague's page is
"not found" rather than read-only.
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from library_help.languages import other_language_choices
from patrons.models import AccessRecord, phone_search_condition, record_access
from patrons.phones import NotAPhoneNumber, format_phone, normalise_phone, phone_digits

from . import access, closures, messaging, schedule_changes
from .booking import BookingError, record_outcome
from .calendar_feed_admin import CalendarFeedInline
from .calendar_view import build_calendar, week_that_matters, working_here
from .formatting import format_day, format_minutes, format_time, format_when, parse_day
from .links import calendar_feed_url
from .models import (
    Appointment,
    Availability,
    Block,
    Branch,
    CancelledBy,
    Closure,
    Feedback,
    Message,
    StaffProfile,
    Topic,
    TopicTranslation,
    WaitlistEntry,
    WaitlistState,
    WalkIn,
    Weekday,
)


class PrivateLookupsAdmin(admin.ModelAdmin):
    """No list filter or lookup on what a patron told us in confidence, unless the role may
    read it: `?learning_goal__icontains=photo` answering "3 rows" tells as much as the text."""

    def lookup_allowed(self, lookup, value, request=None):
        if request is not None and not access.may_filter_on(request.user, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)


class OwnScheduleAdmin(PrivateLookupsAdmin):
    """Rows that belong to a staff member: librarians see and change only their own."""

    owner_lookup = "staff__user"
    # Who may change a colleague's rows (besides managers).
    colleagues_changed_by_desk = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if access.sees_every_calendar(request.user):
            return queryset
        return queryset.filter(**{self.owner_lookup: request.user})

    def is_own(self, request, obj) -> bool:
        return obj.staff.user_id == request.user.pk

    def may_change(self, request, obj) -> bool:
        if obj is None or access.is_manager(request.user) or self.is_own(request, obj):
            return True
        return self.colleagues_changed_by_desk and access.sees_every_calendar(request.user)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.may_change(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "staff" and not access.is_manager(request.user):
            kwargs["queryset"] = StaffProfile.objects.filter(user=request.user)
            kwargs["initial"] = kwargs["queryset"].first()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not access.is_manager(request.user) and not self.colleagues_changed_by_desk:
            # Whatever the form said, a librarian's new rows are their own.
            own = StaffProfile.objects.filter(user=request.user).first()
            if own is not None:
                obj.staff = own
        super().save_model(request, obj, form, change)


class StrandedSessionsForm(forms.ModelForm):
    """A closure or a block that would cover booked sessions is not saved until staff have seen
    them listed and chosen what happens to them: the form is shown again with the list and the
    choice. The list travels back as the sessions' ids; if it no longer matches (a session was
    booked or cancelled meanwhile, or the page was tampered with) nothing is saved and the list
    is shown afresh."""

    decision = forms.ChoiceField(
        label=_("What should happen to them?"),
        choices=closures.decisions(2),
        widget=forms.RadioSelect,
        required=False,
    )
    sessions = forms.CharField(widget=forms.HiddenInput, required=False)

    user = None  # set by the admin's get_form
    covering_fields: tuple[str, ...] = ()

    def find_stranded(self, cleaned):
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        self.stranded = []
        if self.errors:
            return cleaned
        if self.instance.pk is not None and not set(self.covering_fields) & set(self.changed_data):
            return cleaned  # Only the reason changed: the time covered is what it was.
        self.stranded = list(self.find_stranded(cleaned))
        if not self.stranded:
            return cleaned
        count = len(self.stranded)
        self.fields["decision"].choices = closures.decisions(count)
        self.fields["decision"].label = ngettext(
            "What should happen to it?", "What should happen to them?", count
        )
        shown = self.data.get("sessions", "")
        if shown and set(shown.split(",")) != set(self.stranded_ids.split(",")):
            self.add_error(
                "decision",
                _(
                    "The booked sessions in this time have changed since the page was shown. "
                    "Check the list again and choose what should happen to them."
                ),
            )
        elif not shown or not cleaned.get("decision"):
            # Not a mistake but a question: the form stays unsaved until it is answered, and
            # the admin shows it without its "Please correct the error below" (see
            # StrandedSessionsAdmin.render_change_form).
            self.add_error(
                "decision",
                forms.ValidationError(
                    ngettext(
                        "One booked session falls in this time. Choose what should happen to "
                        "it, then save again.",
                        "%(count)s booked sessions fall in this time. Choose what should "
                        "happen to them, then save again.",
                        count,
                    )
                    % {"count": count},
                    code=self.QUESTION,
                ),
            )
        return cleaned

    QUESTION = "choose"

    @property
    def only_asking(self) -> bool:
        """Nothing is wrong: the form only waits for the choice about the booked sessions."""
        errors = self.errors.as_data()
        return list(errors) == ["decision"] and all(
            error.code == self.QUESTION for error in errors["decision"]
        )

    @property
    def stranded_ids(self) -> str:
        return ",".join(str(appointment.pk) for appointment in self.stranded)

    def stranded_rows(self) -> list[dict]:
        """The list as the user may see it: a patron's name only for those who may see the
        patron (a librarian sees only her own, and her block covers only her own sessions)."""
        rows = []
        for appointment in self.stranded:
            patron = appointment.patron
            visible = access.may_see_patron(self.user, patron)
            rows.append(
                {
                    "when": f"{format_when(appointment.local_starts_at)}–"
                    f"{format_time(appointment.local_ends_at)}",
                    "topic": appointment.topic.name,
                    "staff": appointment.staff.public_name,
                    "branch": appointment.branch.name,
                    "patron": patron.name if visible and patron else gettext("A patron"),
                    "reached_by": (
                        patron.get_preferred_contact_display().lower()
                        if visible and patron
                        else gettext("their own way")
                    ),
                }
            )
        return rows


def branch_today(branch: Branch):
    return timezone.now().astimezone(branch.tz).date()


class ClosureForm(StrandedSessionsForm):
    covering_fields = ("branch", "first_day", "last_day")

    class Meta:
        model = Closure
        fields = ["branch", "first_day", "last_day", "reason"]

    def clean(self):
        cleaned = super().clean()
        branch, last_day = cleaned.get("branch"), cleaned.get("last_day")
        dates_changed = self.instance.pk is None or {"first_day", "last_day"} & set(
            self.changed_data
        )
        if branch and last_day and dates_changed and last_day < branch_today(branch):
            self.add_error(
                "last_day",
                _(
                    "This closure would end before today. Check the dates: a closure is for "
                    "today or later."
                ),
            )
        return cleaned

    def find_stranded(self, cleaned):
        branch, first, last = (cleaned.get(f) for f in self.covering_fields)
        if not (branch and first and last) or last < first:
            return []
        return closures.booked_in_closure(branch, first, last)


class BlockForm(StrandedSessionsForm):
    covering_fields = ("staff", "starts_at", "ends_at")
    # The admin's split date and time boxes have no label of their own (axe: "critical").
    box_names = {
        "starts_at": (_("Start date"), _("Start time")),
        "ends_at": (_("End date"), _("End time")),
    }

    class Meta:
        model = Block
        fields = ["staff", "starts_at", "ends_at", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, box_names in self.box_names.items():
            widget = self.fields[name].widget
            for box, box_name in zip(getattr(widget, "widgets", ()), box_names, strict=False):
                box.attrs["aria-label"] = box_name

    def find_stranded(self, cleaned):
        staff, starts, ends = (cleaned.get(f) for f in self.covering_fields)
        if not (staff and starts and ends) or ends <= starts:
            return []
        return closures.booked_in_block(staff, starts, ends)


class StrandedSessionsAdmin(admin.ModelAdmin):
    """Saving over booked sessions: the confirmation step, then what was chosen."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        if form.is_bound and form.only_asking:
            # No red "Please correct the error below." (nor "Error:" in the title) over a
            # question: the list and the choice below say what is needed.
            context["errors"] = []
        return super().render_change_form(request, context, add, change, form_url, obj)

    def patron_reason(self, obj) -> str:
        raise NotImplementedError

    def staff_reason(self, obj) -> str:
        """Why, in words for the staff member whose session it was."""
        return self.patron_reason(obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        stranded = getattr(form, "stranded", [])
        if not stranded:
            return
        decision = form.cleaned_data.get("decision")
        if decision == closures.KEEP:
            self.message_user(
                request,
                ngettext(
                    "Kept %(count)s booked session. The patron has NOT been told: someone "
                    "must contact them. It shows as a clash on the calendar and under “Needs "
                    "attention” on the admin home until it is moved or cancelled.",
                    "Kept %(count)s booked sessions. The patrons have NOT been told: someone "
                    "must contact each of them. Each shows as a clash on the calendar and "
                    "under “Needs attention” on the admin home until it is moved or "
                    "cancelled.",
                    len(stranded),
                )
                % {"count": len(stranded)},
                "warning",
            )
            return
        reason = self.patron_reason(obj)
        cancelled, left = closures.cancel_stranded(
            stranded,
            by=request.user,
            reason=reason,
            staff_reason=self.staff_reason(obj),
            offer_times=decision == closures.CANCEL_AND_OFFER,
            cancelled_by=CancelledBy.CLOSURE if isinstance(obj, Closure) else "",
        )
        if cancelled:
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=cancelled,
                action_flag=CHANGE,
                change_message=f"Cancelled by the library: {reason}",
            )
            self.message_user(
                request,
                ngettext(
                    "Cancelled %(count)s session. The patron is told their own way "
                    "(a call-list entry if they want a call), and their staff member too.",
                    "Cancelled %(count)s sessions. Each patron is told their own way "
                    "(call-list entries for those who want a call), and their staff member too.",
                    len(cancelled),
                )
                % {"count": len(cancelled)},
            )
        if left:
            self.message_user(
                request,
                ngettext(
                    "%(count)s session could not be cancelled here and stays booked: it "
                    "shows under “Needs attention” on the admin home.",
                    "%(count)s sessions could not be cancelled here and stay booked: they "
                    "show under “Needs attention” on the admin home.",
                    len(left),
                )
                % {"count": len(left)},
                "warning",
            )


class AvailabilityInline(admin.TabularInline):
    model = Availability
    extra = 1
    fields = ["branch", "weekday", "start_time", "end_time", "valid_from", "valid_until"]


@admin.register(StaffProfile)
class StaffProfileAdmin(OwnScheduleAdmin):
    owner_lookup = "user"
    list_display = ["public_name", "user", "branch_names", "is_bookable"]
    list_filter = ["branches", "topics", "is_bookable"]
    search_fields = ["public_name", "user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["branches", "topics"]
    inlines = [AvailabilityInline, CalendarFeedInline]
    readonly_fields = ["calendar_feed"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("branches")

    def is_own(self, request, obj) -> bool:
        return obj.user_id == request.user.pk

    def get_readonly_fields(self, request, obj=None):
        if access.is_manager(request.user):
            return self.readonly_fields
        # What one teaches and where decides which patrons one sees: managers set it.
        return [*self.readonly_fields, "user", "is_bookable", "branches", "topics"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The feed's address is a secret of the staff member's own.
        if obj is None or obj.user_id != request.user.pk:
            fields = [f for f in fields if f != "calendar_feed"]
        return fields

    @admin.display(description=_("branches"))
    def branch_names(self, obj):
        return ", ".join(branch.name for branch in obj.branches.all())

    def get_urls(self):
        return [
            path(
                "<path:object_id>/new-calendar-address/",
                self.admin_site.admin_view(require_POST(self.replace_calendar_feed_view)),
                name="appointments_staffprofile_replace_calendar_feed",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        staff = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "may_replace_calendar_feed": (
                staff is not None and access.may_manage_calendar_feeds(request.user, staff)
            ),
            "own_profile": staff is not None and staff.user_id == request.user.pk,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def replace_calendar_feed_view(self, request, object_id):
        """A new feed address, for when the old one leaked; the old one stops working."""
        staff = self.get_object(request, object_id)
        if staff is None:
            raise Http404("No such staff member.")
        if not access.may_manage_calendar_feeds(request.user, staff):
            raise PermissionDenied
        staff.replace_calendar_key()
        self.log_change(request, staff, "Replaced the calendar feed address.")
        if staff.user_id == request.user.pk:
            message = _(
                "Your calendar feed has a new address, shown below. The old address no longer "
                "works: subscribe again in your calendar with the new one."
            )
        else:
            message = gettext(
                "%(name)s's calendar feed has a new address. The old one no longer works; "
                "they will find the new one on their staff page and need to subscribe again."
            ) % {"name": staff.public_name}
        self.message_user(request, message)
        return redirect("admin:appointments_staffprofile_change", staff.pk)

    @admin.display(description=_("calendar feed (keep it private)"))
    def calendar_feed(self, obj):
        if obj.pk is None:
            return _("Shown once this staff member is saved.")
        url = calendar_feed_url(obj)
        return format_html(
            "<code>{}</code><br>{}",
            url,
            _(
                "Subscribe to this address in Outlook or Google Calendar. It lists your "
                "sessions without patron names. If the address is ever shared by mistake, "
                "replace it with the button at the bottom of this page."
            ),
        )


@admin.register(Availability)
class AvailabilityAdmin(OwnScheduleAdmin):
    list_display = [
        "staff",
        "branch",
        "weekday",
        "start_time",
        "end_time",
        "valid_from",
        "valid_until",
    ]
    list_filter = ["branch", "weekday", "staff"]


@admin.register(Block)
class BlockAdmin(StrandedSessionsAdmin, OwnScheduleAdmin):
    form = BlockForm
    list_display = ["staff", "starts_at", "ends_at", "reason"]
    list_filter = ["staff", ("starts_at", admin.DateFieldListFilter)]
    search_fields = ["reason", "staff__public_name"]
    fields = ["staff", "starts_at", "ends_at", "reason"]

    def patron_reason(self, obj) -> str:
        return closures.block_reason(obj)

    def staff_reason(self, obj) -> str:
        return closures.block_reason_for_staff(obj)

    def response_add(self, request, obj, post_url_continue=None):
        """Started from the calendar's "Block this time": back to that calendar."""
        back = calendar_return_url(request.GET.get("calendar", ""))
        if back and "_continue" not in request.POST and "_addanother" not in request.POST:
            super().response_add(request, obj, post_url_continue)  # its "added" message
            return redirect(back)
        return super().response_add(request, obj, post_url_continue)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_changeform_initial_data(self, request):
        """ "Block this time" on the calendar opens this form with the staff and time filled in."""
        initial = super().get_changeform_initial_data(request)
        for name, param in (("starts_at", "starts"), ("ends_at", "ends")):
            initial.pop(param, None)
            with suppress(ValueError):
                initial[name] = datetime.fromisoformat(request.GET.get(param, ""))
        return initial


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "phone", "time_zone"]
    search_fields = ["name", "address"]


@admin.register(Closure)
class ClosureAdmin(StrandedSessionsAdmin):
    form = ClosureForm
    list_display = ["branch", "first_day", "last_day", "reason"]
    list_filter = ["branch"]
    fields = ["branch", "first_day", "last_day", "reason"]

    def patron_reason(self, obj) -> str:
        return closures.closure_reason(obj)


def calendar_return_url(query: str) -> str:
    """The calendar page a "Block this time" link came from, rebuilt from known parameters
    only (never an address taken from the request)."""
    params = QueryDict(query)
    kept = {}
    if params.get("view") in ("day", "week"):
        kept["view"] = params["view"]
    for name in ("staff", "branch"):
        if params.get(name, "").isdigit():
            kept[name] = params[name]
    with suppress(ValueError):
        kept["date"] = datetime.strptime(params.get("date", ""), "%Y-%m-%d").date().isoformat()
    if not kept:
        return ""
    return reverse("admin:appointments_calendar") + "?" + urlencode(kept)


class TopicTranslationInline(admin.StackedInline):
    """The topic's name and description in another language. Either may stay empty: patrons
    then read the default language's text."""

    model = TopicTranslation
    extra = 0
    fields = ["language", "name", "description"]
    verbose_name = _("text in another language")
    verbose_name_plural = _("texts in other languages")

    def get_max_num(self, request, obj=None, **kwargs):
        return len(other_language_choices())


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "lengths_display", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "description", "translations__name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TopicTranslationInline]


class AppointmentForm(forms.ModelForm):
    """What staff may edit on a session's page. Time, staff, branch, topic, patron and status
    change only through the booking service: Move, Cancel and the check-in actions."""

    class Meta:
        model = Appointment
        fields = ["skill_level", "learning_goal", "party_size"]


class WhenFilter(admin.SimpleListFilter):
    """Sessions from today on unless asked otherwise: that is what staff come here for.
    A search looks at every date, so a patron's past sessions are found too."""

    title = _("when")
    parameter_name = "when"

    def __init__(self, request, params, model, model_admin):
        # A search or a date picked in the date bar looks at every date.
        self.searching = bool(request.GET.get("q")) or any(
            key.startswith("starts_at__") for key in request.GET
        )
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [
            ("today", _("Today")),
            ("upcoming", _("From today on")),
            ("week", _("The next 7 days")),
            ("past", _("Past")),
            ("all", _("Any date")),
        ]

    def value(self):
        return super().value() or ("all" if self.searching else "upcoming")

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        today = datetime.combine(
            timezone.localdate(), datetime.min.time(), timezone.get_current_timezone()
        )
        spans = {
            "today": (today, today + timedelta(days=1)),
            "upcoming": (today, None),
            "week": (today, today + timedelta(days=7)),
            "past": (None, today),
        }
        since, until = spans.get(self.value(), (None, None))
        if since:
            queryset = queryset.filter(starts_at__gte=since)
        if until:
            queryset = queryset.filter(starts_at__lt=until)
        return queryset


@admin.register(Appointment)
class AppointmentAdmin(OwnScheduleAdmin):
    form = AppointmentForm
    colleagues_changed_by_desk = True
    list_display = [
        "when",
        "topic",
        "staff",
        "branch",
        "patron",
        "skill_level",
        "party_size",
        "status",
        "channel",
    ]
    list_filter = [WhenFilter, "status", "staff", "topic", "branch", "channel"]
    date_hierarchy = "starts_at"
    actions = ["mark_attended", "mark_no_show"]

    def get_ordering(self, request):
        # The past is read from the latest back; everything else from the soonest on.
        return ["-starts_at"] if request.GET.get("when") == "past" else ["starts_at"]

    search_fields = [
        "patron__name",
        "patron__email",
        "patron__phone",
        "patron__phone_digits",
        "patron__card_number",
    ]
    list_select_related = ["topic", "staff", "branch", "patron"]

    def get_search_results(self, request, queryset, search_term):
        # A patron's whole number typed any way ("(312) 555-0142"), which the word-by-word
        # search splits apart.
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        phone = phone_search_condition(search_term, prefix="patron__")
        return found | queryset.filter(phone), may_have_duplicates

    readonly_fields = [
        "patron",
        "patron_contact",
        "accessibility_needs",
        "change_session",
        "topic",
        "staff",
        "branch",
        "when",
        "length",
        "status",
        "channel",
        "language",
        "booked_by",
        "limit_override_reason",
        "limit_lifted_by",
        "marked_by",
        "marked_at",
        "created_at",
        "updated_at",
        "cancelled_at",
    ]
    fieldsets = [
        (
            _("What the patron needs"),
            {
                "fields": [
                    "patron",
                    "patron_contact",
                    "skill_level",
                    "learning_goal",
                    "party_size",
                    "accessibility_needs",
                ]
            },
        ),
        (
            _("When and where"),
            {"fields": ["change_session", "topic", "staff", "branch", "when", "length"]},
        ),
        (
            _("Booking"),
            {
                "fields": [
                    "status",
                    "channel",
                    "language",
                    "booked_by",
                    "limit_override_reason",
                    "limit_lifted_by",
                    "marked_by",
                    "marked_at",
                    "created_at",
                    "updated_at",
                    "cancelled_at",
                ]
            },
        ),
    ]

    def get_urls(self):
        return [
            path(
                "calendar/",
                self.admin_site.admin_view(self.calendar_view),
                name="appointments_calendar",
            ),
            *super().get_urls(),
        ]

    def calendar_view(self, request):
        """Week or day, for one staff member or a branch. Librarians see only their own."""
        user = request.user
        everyone = access.sees_every_calendar(user)
        own = StaffProfile.objects.filter(user=user).first()
        if not everyone and own is None:
            raise Http404("Only staff members with a profile have a calendar.")
        staff_qs = StaffProfile.objects.filter(user__is_active=True).order_by("public_name")
        branches = Branch.objects.all()
        params = request.GET
        branch = None
        if everyone and params.get("branch", "").isdigit():
            branch = branches.filter(pk=params["branch"]).first()
        person = None
        if everyone and params.get("staff", "").isdigit():
            person = staff_qs.filter(pk=params["staff"]).first()
        # The desk's own profile (one that takes no bookings) has no week worth opening on.
        opens_own = own is not None and (own.is_bookable or not everyone)
        if not everyone or (person is None and branch is None and opens_own):
            person = own
        if person is None and branch is None:
            branch = (own.branches.first() if own else None) or branches.first()
        if person is None and branch is None:
            raise Http404("Add a branch and staff first.")
        view = "day" if params.get("view") == "day" else "week"
        if branch is None:
            branch = person.branches.first() or branches.first()
        today = timezone.now().astimezone(branch.tz).date()
        opening = week_that_matters(timezone.now().astimezone(branch.tz))
        chosen = parse_day(params.get("date", ""), opening if view == "week" else today)
        first = chosen - timedelta(days=chosen.weekday()) if view == "week" else chosen
        days = [first + timedelta(days=n) for n in range(7 if view == "week" else 1)]
        staff = [person] if person else list(working_here(staff_qs, branch, days))
        base_query = (
            {"staff": person.pk} if params.get("staff") and everyone and person else {}
        ) or {"branch": branch.pk}
        tables = (
            build_calendar(
                staff=staff,
                branch=branch,
                days=days,
                today=today,
                can_block=lambda p: access.is_manager(user) or p.user_id == user.pk,
                can_book=user.has_perm("appointments.book_for_patron"),
                back=urlencode({**base_query, "view": view, "date": days[0].isoformat()}),
            )
            if staff
            else []
        )
        step = timedelta(days=7 if view == "week" else 1)
        base = {"view": view}
        if params.get("staff") and everyone and person:
            base["staff"] = person.pk
        else:
            base["branch"] = branch.pk
        context = {
            **self.admin_site.each_context(request),
            "title": (
                f"{'Week' if view == 'week' else 'Day'} of {format_day(days[0])}: "
                f"{person.public_name if person else branch.name}"
            ),
            "opts": self.model._meta,
            "tables": tables,
            "person": person,
            "branch": branch,
            "view": view,
            "everyone": everyone,
            "staff_choices": staff_qs if everyone else [],
            "branch_choices": branches if everyone else [],
            "date": days[0],
            "previous": urlencode({**base, "date": (days[0] - step).isoformat()}),
            "next": urlencode({**base, "date": (days[0] + step).isoformat()}),
            "today_link": urlencode(base),
            "other_view": urlencode(
                {**base, "view": "day" if view == "week" else "week", "date": chosen.isoformat()}
            ),
        }
        return TemplateResponse(request, "admin/appointments/calendar.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        """Sessions are booked at the desk page, under the same rules as everywhere."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        return redirect("appointments:desk")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and access.books_for_patrons(request.user)

    def has_delete_permission(self, request, obj=None):
        # A session is cancelled, never deleted: statistics and the patron's messages need it.
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        appointment = self.get_object(request, object_id)
        if appointment is not None:
            record_access(
                request.user, appointment.patron, AccessRecord.What.APPOINTMENT, appointment.pk
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def sees_the_need(self, request, obj) -> bool:
        return access.may_see_need(request.user, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.sees_the_need(request, obj):
            return fieldsets
        hidden = {"learning_goal", "accessibility_needs"}
        first_title, first = fieldsets[0]
        fields = [f for f in first["fields"] if f not in hidden] + ["need_hidden"]
        return [(first_title, {**first, "fields": fields}), *fieldsets[1:]]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not self.sees_the_need(request, obj):
            fields.append("need_hidden")
        return fields

    @admin.display(description=_("what they want to learn"))
    def need_hidden(self, obj):
        return _("Shown to the desk on the day of the session, to keep it private until then.")

    @admin.display(description=_("when"), ordering="starts_at")
    def when(self, obj):
        return format_when(obj.local_starts_at)

    @admin.display(description=_("length"))
    def length(self, obj):
        return format_minutes(obj.minutes)

    @admin.display(description=_("change the time or cancel"))
    def change_session(self, obj):
        if obj.pk is None or not obj.is_cancellable:
            return _("This session is over or cancelled: its time cannot change.")
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("appointments:session_move", args=[obj.reference]),
            _("Move to another time"),
            reverse("appointments:session_cancel", args=[obj.reference]),
            _("Cancel this session"),
        )

    @admin.display(description=_("how to reach them"))
    def patron_contact(self, obj):
        return obj.patron.contact_display if obj.patron else "–"

    @admin.display(description=_("accessibility needs"))
    def accessibility_needs(self, obj):
        return (obj.patron.accessibility_needs if obj.patron else "") or gettext("None given")

    def save_model(self, request, obj, form, change):
        # Only the fields of the form: a move, cancel or check-in saved meanwhile stays.
        if change:
            obj.save(update_fields=[*form.changed_data, "updated_at"])
        else:
            super().save_model(request, obj, form, change)

    def _mark(self, request, queryset, outcome: str) -> None:
        marked = 0
        for appointment in queryset:
            if not access.may_change_appointment(request.user, appointment):
                continue
            try:
                record_outcome(appointment, outcome, by=request.user)
            except BookingError as error:
                self.message_user(request, f"{self.when(appointment)}: {error.message}", "error")
            else:
                marked += 1
        if marked:
            self.message_user(
                request,
                ngettext("Marked %(count)s session.", "Marked %(count)s sessions.", marked)
                % {"count": marked},
            )

    @admin.action(description=_("Mark: the patron came"), permissions=["change"])
    def mark_attended(self, request, queryset):
        self._mark(request, queryset, "attended")

    @admin.action(description=_("Mark: the patron did not come"), permissions=["change"])
    def mark_no_show(self, request, queryset):
        self._mark(request, queryset, "no_show")


class RecipientFilter(admin.SimpleListFilter):
    title = _("to")
    parameter_name = "recipient"

    def lookups(self, request, model_admin):
        return [("patron", _("Patrons")), ("staff", _("Staff"))]

    def queryset(self, request, queryset):
        if self.value() == "patron":
            return queryset.filter(patron__isnull=False)
        if self.value() == "staff":
            return queryset.filter(patron__isnull=True)
        return queryset


@admin.register(Message)
class MessageAdmin(PrivateLookupsAdmin):
    """The message log. Bodies are shown with every private link taken out: a link lets whoever
    holds it act as the patron, so no staff role ever sees one. Managers may send failed
    messages again, those still worth sending (messaging.still_worth_sending)."""

    list_display = ["created_at", "kind", "channel", "recipient", "state", "attempts", "sent_at"]
    list_filter = ["state", RecipientFilter, "channel", "kind"]
    search_fields = ["to"]
    actions = ["send_again"]

    def has_send_again_permission(self, request) -> bool:
        return access.is_manager(request.user)

    @admin.action(description=_("Send again"), permissions=["send_again"])
    def send_again(self, request, queryset):
        queued, left = messaging.send_again(
            queryset.select_related("appointment__feedback").order_by("created_at", "pk")
        )
        if queued:
            self.message_user(
                request,
                ngettext(
                    "%(count)s message will be sent again in a moment.",
                    "%(count)s messages will be sent again in a moment.",
                    len(queued),
                )
                % {"count": len(queued)},
            )
        if left:
            self.message_user(
                request,
                ngettext(
                    "%(count)s message was not sent again: only a message that could not be "
                    "sent, written in the last day, about a session that has not begun and has "
                    "not changed since, is sent again. Reach the patron another way: %(which)s.",
                    "%(count)s messages were not sent again: only a message that could not be "
                    "sent, written in the last day, about a session that has not begun and has "
                    "not changed since, is sent again. Reach the patrons another way: %(which)s.",
                    len(left),
                )
                % {"count": len(left), "which": "; ".join(str(m) for m in left[:10])},
                "warning",
            )

    def get_search_results(self, request, queryset, search_term):
        # A number typed any way ("(312) 555-0142") finds texts and calls sent to it in E.164.
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        with suppress(NotAPhoneNumber):
            if number := normalise_phone(search_term):
                return found | queryset.filter(to=number), may_have_duplicates
        # Part of a number ("555-0142"), as the desk's patron search allows.
        if (
            re.fullmatch(r"[\d\s().\-+]+", search_term)
            and len(digits := phone_digits(search_term)) >= 4
        ):
            found = found | queryset.filter(to__contains=digits)
        return found, may_have_duplicates

    fields = [
        "kind",
        "channel",
        "recipient",
        "subject",
        "text_sent",
        "state",
        "send_after",
        "attempts",
        "last_error",
        "sent_at",
        "handled_by",
        "handled_at",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("to"), ordering="to")
    def recipient(self, obj):
        return format_phone(obj.to)

    @admin.display(description=_("message"))
    def text_sent(self, obj):
        """The body as sent, marked with the patron's language (a Spanish message on an
        English page is read out in Spanish by a screen reader)."""
        text = linebreaksbr(access.hide_private_links(obj.body))
        if obj.patron is None:
            return text
        return format_html('<div lang="{}">{}</div>', obj.patron.language, text)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Feedback)
class FeedbackAdmin(PrivateLookupsAdmin):
    list_display = ["created_at", "appointment", "helpful"]
    list_filter = ["helpful"]
    readonly_fields = ["appointment", "helpful", "comment", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(PrivateLookupsAdmin):
    """The waiting list per topic: staff see who is waiting, can contact or remove them.
    Librarians see only those waiting for topics they teach, at branches where they work."""

    list_display = [
        "created_at",
        "topic",
        "patron",
        "how_to_reach",
        "branch",
        "days",
        "time_of_day",
        "state",
    ]
    list_filter = ["topic", "state", "branch"]
    search_fields = ["patron__name", "patron__email", "patron__phone"]
    list_select_related = ["topic", "patron", "branch"]
    # The state changes through the waiting-list run, an offer's link and the remove action.
    readonly_fields = [
        "topic",
        "patron",
        "how_to_reach",
        "state",
        "offer_staff",
        "offer_branch",
        "offer_starts_at",
        "offer_expires_at",
        "offers_made",
        "created_at",
    ]
    fields = [
        "topic",
        "patron",
        "how_to_reach",
        "branch",
        "weekdays",
        "time_of_day",
        "skill_level",
        "learning_goal",
        "party_size",
        "length",
        "state",
        "offer_staff",
        "offer_branch",
        "offer_starts_at",
        "offer_expires_at",
        "offers_made",
        "created_at",
    ]
    actions = ["remove_from_list"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return access.visible_waitlist(request.user, super().get_queryset(request))

    def get_fields(self, request, obj=None):
        # What a waiting patron wants to learn is for managers (and, once booked, the staff
        # member who helps them), not for everyone who can see the list; who is waiting, and
        # how to reach them, is for the desk and managers, who make the offers.
        if access.is_manager(request.user):
            return self.fields
        hidden = {"learning_goal"} | self._who(request)
        return [f for f in self.fields if f not in hidden]

    def _who(self, request) -> set[str]:
        return set() if access.sees_every_calendar(request.user) else {"patron", "how_to_reach"}

    def get_list_display(self, request):
        return [f for f in self.list_display if f not in self._who(request)]

    def get_search_fields(self, request):
        return [] if self._who(request) else self.search_fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        entry = self.get_object(request, object_id)
        if entry is not None:
            record_access(request.user, entry.patron, AccessRecord.What.WAITLIST, entry.pk)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("how to reach them"))
    def how_to_reach(self, obj):
        return obj.patron.contact_display

    @admin.display(description=_("days"))
    def days(self, obj):
        names = dict(Weekday.choices)
        return ", ".join(str(names[d]) for d in obj.weekdays) or gettext("Any day")

    @admin.action(description=_("Remove from the waiting list"), permissions=["change"])
    def remove_from_list(self, request, queryset):
        removing = queryset.exclude(state=WaitlistState.BOOKED)
        schedule_changes.offers_changed(removing)
        removed = removing.update(state=WaitlistState.REMOVED, offer_expires_at=None)
        self.message_user(
            request,
            ngettext(
                "Removed %(count)s patron from the waiting list.",
                "Removed %(count)s patrons from the waiting list.",
                removed,
            )
            % {"count": removed},
        )


@admin.register(WalkIn)
class WalkInAdmin(admin.ModelAdmin):
    list_display = ["at", "branch", "topic", "minutes", "skill_level", "recorded_by"]
    list_filter = ["branch", "topic", ("at", admin.DateFieldListFilter)]
