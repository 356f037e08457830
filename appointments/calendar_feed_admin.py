"""The staff page's part for a staff member's published Outlook or Google calendar (busy times
that block bookings, appointments/calendar_feeds.py): pasted by its owner or by a manager for
them, never shown again in full, with the feed's health and warnings beside it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import access, calendar_feeds
from .formatting import format_when
from .models import CalendarFeed


def shortened_address(address: str) -> str:
    """A saved calendar address as it may be shown: the server only (the rest is the secret)."""
    parts = urlsplit(address)
    return f"{parts.scheme}://{parts.hostname}/…" if parts.hostname else "…"


class CalendarFeedForm(forms.ModelForm):
    """The published calendar's address, pasted once and never shown again in full: the box is
    empty on every page, and left empty it keeps the saved address."""

    address = forms.CharField(
        label=gettext_lazy("Address of the published calendar (ICS)"),
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"size": 80, "autocomplete": "off", "spellcheck": "false"}),
        help_text=gettext_lazy(
            "Outlook: Settings › Calendar › Shared calendars › Publish a calendar, “Can view "
            "when I'm busy”, then the ICS link. Google: Settings › your calendar › Secret "
            "address in iCal format. Only when you are busy is kept, never what the event is."
        ),
    )

    class Meta:
        model = CalendarFeed
        fields = ["address"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["address"] = ""
        if self.instance.pk:
            self.fields["address"].widget.attrs["placeholder"] = _(
                "Saved: %(address)s (paste a new address to replace it)"
            ) % {"address": shortened_address(self.instance.address)}

    def clean_address(self) -> str:
        address = calendar_feeds.normalise_address(self.cleaned_data["address"])
        if not address:
            if self.instance.pk:
                return self.instance.address
            raise forms.ValidationError(_("Paste the address of the published calendar."))
        try:
            calendar_feeds.check_address(address)
        except calendar_feeds.FeedError as error:
            raise forms.ValidationError(error.words) from error
        return address

    def save(self, commit=True):
        feed = super().save(commit=False)
        if "address" in self.changed_data:
            # A new address: read it at the next pass, and judge its health afresh. The busy
            # times already read stay until it is read successfully.
            feed.address_set_at = timezone.now()
            feed.last_refreshed_at = None
            feed.consecutive_failures = 0
            feed.failing_since = None
            feed.last_http_status = None
            feed.failure_code = ""
            feed.last_status = _("Waiting to be read (within a few minutes).")
            feed.content_hash = ""
            feed.data_ends_at = None
            feed.warned = {}
        if commit:
            feed.save()
        return feed


class CalendarFeedFormSet(forms.BaseInlineFormSet):
    def delete_existing(self, obj, commit=True):
        # No calendar any more: its busy times go with it.
        if commit:
            calendar_feeds.remove_feed(obj)


class CalendarFeedInline(admin.StackedInline):
    """The staff member's own Outlook or Google calendar: they paste it, or a manager does for
    them (access.may_manage_calendar_feeds); nobody else sees that there is one."""

    model = CalendarFeed
    form = CalendarFeedForm
    formset = CalendarFeedFormSet
    extra = 1
    max_num = 1
    fields = ["address", "health"]
    readonly_fields = ["health"]
    verbose_name = gettext_lazy("Outlook or Google calendar (busy times block bookings)")
    verbose_name_plural = verbose_name

    def _allowed(self, request, obj) -> bool:
        # Asked with the staff member whose page it is; without one (the inline's queryset,
        # the add page) the staff member's page has already decided.
        return obj is None or access.may_manage_calendar_feeds(request.user, obj)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)

    @admin.display(description=gettext_lazy("health"))
    def health(self, obj):
        if obj is None or obj.pk is None:
            return _("Read every few minutes once saved.")
        never = _("never")
        lines = [
            _("Last read successfully: %(when)s")
            % {
                "when": format_when(timezone.localtime(obj.last_success_at))
                if obj.last_success_at
                else never
            },
            _("Failures in a row: %(count)s") % {"count": obj.consecutive_failures},
            _("Last result: %(status)s") % {"status": obj.last_status or never},
            _("Content last changed: %(when)s")
            % {
                "when": format_when(timezone.localtime(obj.content_changed_at))
                if obj.content_changed_at
                else never
            },
        ]
        lines += [
            _("Warning: %(problem)s") % {"problem": problem.words}
            for problem in calendar_feeds.problems(obj, timezone.now())
        ]
        return format_html(
            '<ul class="calendar-feed-health">{}</ul>',
            format_html("".join("<li>{}</li>" for _line in lines), *lines),
        )
