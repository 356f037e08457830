"""Patron records in the staff admin.

Librarians see only the patrons they have sessions with. Every opening of a patron's record is
written to the access log, shown on the record itself. "Forget this patron" deletes everything
that identifies them, after a confirmation page.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from appointments import access
from appointments.admin import PrivateLookupsAdmin
from appointments.models import Appointment

from .forms import PatronForm, PhoneNumberField
from .models import AccessRecord, Patron, phone_search_condition, record_access


class AppointmentInline(admin.TabularInline):
    model = Appointment
    fields = ["starts_at", "topic", "staff", "skill_level", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # A librarian sees only their own sessions with this patron.
        return access.visible_appointments(request.user, super().get_queryset(request))


class PatronAdminForm(forms.ModelForm):
    """Staff editing a record: the phone number is checked and stored as on the booking forms."""

    class Meta:
        model = Patron
        fields = [*PatronForm.Meta.fields, "language"]
        field_classes = {"phone": PhoneNumberField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left out of a submission, the language the record has stays as it is.
        if "language" in self.fields:  # not for those who may only look
            self.fields["language"].required = False

    def clean_language(self) -> str:
        return self.cleaned_data["language"] or self.instance.language


class PhoneToCheckFilter(admin.SimpleListFilter):
    """Numbers kept as typed because they could not be read (saved before numbers were
    checked): staff can find them and ask the patron."""

    title = _("phone number")
    parameter_name = "phone_number"

    def lookups(self, request, model_admin):
        return [("to_check", _("To check (could not be read)"))]

    def queryset(self, request, queryset):
        if self.value() == "to_check":
            return queryset.exclude(phone="").exclude(phone__startswith="+")
        return queryset


@admin.register(Patron)
class PatronAdmin(PrivateLookupsAdmin):
    form = PatronAdminForm
    list_display = ["name", "email", "phone_number", "preferred_contact", "language", "card_number"]
    list_filter = ["preferred_contact", "language", PhoneToCheckFilter]
    search_fields = ["name", "email", "phone", "phone_digits", "card_number"]
    inlines = [AppointmentInline]
    readonly_fields = ["who_has_looked"]

    def get_queryset(self, request):
        return access.visible_patrons(request.user, super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        # A whole number typed any way ("(312) 555-0142"), which the word-by-word search
        # splits apart.
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return found | queryset.filter(phone_search_condition(search_term)), may_have_duplicates

    @admin.display(description=_("phone"), ordering="phone")
    def phone_number(self, obj):
        return obj.phone_display

    def has_delete_permission(self, request, obj=None):
        # Deleting the row would leave upcoming sessions booked for nobody: "Forget this
        # patron" cancels them, tells the staff and keeps the statistics.
        return False

    def get_fields(self, request, obj=None):
        fields = [
            "name",
            "email",
            "phone",
            "preferred_contact",
            "language",
            "card_number",
            "accessibility_needs",
        ]
        if obj is not None and not self.sees_needs(request, obj):
            fields.remove("accessibility_needs")
        return [*fields, "who_has_looked"] if obj is not None else fields

    def sees_needs(self, request, patron) -> bool:
        return access.may_see_accessibility_needs(request.user, patron)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        patron = self.get_object(request, object_id)
        if patron is not None:
            record_access(request.user, patron, AccessRecord.What.PATRON, patron.pk)
        extra_context = {
            **(extra_context or {}),
            "can_forget": self.can_forget(request),
            "other_records": self.other_records(request, patron),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def other_records(self, request, patron):
        """Other records of the same email, phone or card that this user may open.

        Each online booking makes its own record, since nobody proves who they are online; staff
        can tell here when several are one person.
        """
        if patron is None:
            return []
        return list(
            self.get_queryset(request)
            .filter(pk__in=patron.same_person().exclude(pk=patron.pk).values("pk"))
            .order_by("pk")
        )

    @admin.display(description=_("who has looked at this record"))
    def who_has_looked(self, obj):
        records = obj.accesses.select_related("user")[:20]
        if not records:
            return _("Nobody yet.")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} – {} ({})</li>",
                (
                    (
                        timezone.localtime(r.at).strftime("%d %b %Y %H:%M"),
                        r.user,
                        r.get_what_display(),
                    )
                    for r in records
                ),
            ),
        )

    def can_forget(self, request) -> bool:
        return request.user.has_perm("patrons.delete_patron")

    def get_urls(self):
        return [
            path(
                "<int:pk>/forget/",
                self.admin_site.admin_view(self.forget_view),
                name="patrons_patron_forget",
            ),
            *super().get_urls(),
        ]

    def forget_view(self, request, pk):
        if not self.can_forget(request):
            raise PermissionDenied
        patron = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method == "POST":
            from appointments.booking import BookingError
            from appointments.privacy import forget_patron

            try:
                counts = forget_patron(patron, by_user=request.user)
            except BookingError as error:
                messages.error(request, error.message)
                return redirect("admin:patrons_patron_change", patron.pk)
            messages.success(
                request,
                ngettext(
                    "The patron's details are deleted. %(count)s upcoming session "
                    "cancelled; past sessions keep only their statistics.",
                    "The patron's details are deleted. %(count)s upcoming sessions "
                    "cancelled; past sessions keep only their statistics.",
                    counts["cancelled"],
                )
                % {"count": counts["cancelled"]},
            )
            return redirect("admin:patrons_patron_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Forget this patron?"),
            "patron": patron,
            "upcoming": patron.appointments.upcoming().count(),
            "opts": self.model._meta,
            "back": reverse("admin:patrons_patron_change", args=[patron.pk]),
        }
        return TemplateResponse(request, "admin/patrons/patron/forget.html", context)


@admin.register(AccessRecord)
class AccessRecordAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "patron", "what"]
    list_filter = ["what", ("at", admin.DateFieldListFilter), "user"]
    search_fields = ["user__username", "patron__name", "patron__email", "patron__phone"]
    list_select_related = ["user", "patron"]
    readonly_fields = ["at", "user", "patron", "what", "object_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
