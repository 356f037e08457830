"""A staff member's private calendar feed, to subscribe to in Outlook or Google Calendar.

The address holds a random key (StaffProfile.calendar_key); anyone with it can read the feed,
so events carry only what a calendar needs: topic, skill level, party size, branch, and a link
to the session in the staff admin. Patron names and needs stay in the library's own system.
"""

from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from icalendar import Calendar, Event

from .calendar import appointment_uid
from .models import Appointment, StaffProfile, Status


def staff_calendar(request: HttpRequest, key) -> HttpResponse:
    try:
        staff = StaffProfile.objects.get(calendar_key=key, user__is_active=True)
    except StaffProfile.DoesNotExist as error:
        raise Http404("No such calendar") from error
    since = timezone.now() - timedelta(days=30)
    sessions = (
        Appointment.objects.filter(staff=staff, ends_at__gte=since)
        .select_related("topic", "branch")
        .order_by("starts_at")
    )
    calendar = Calendar()
    calendar.add("prodid", "-//Library Help//Staff calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Help sessions: {staff.public_name}")
    site = settings.SITE_URL.rstrip("/")
    for session in sessions:
        event = Event()
        event.add("uid", appointment_uid(session))
        event.add("sequence", session.sequence)
        event.add("dtstamp", session.updated_at)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add(
            "summary",
            f"{session.topic.name} ({session.get_skill_level_display().lower()}, "
            f"{session.party_size} {'person' if session.party_size == 1 else 'people'})",
        )
        event.add("location", session.branch.name)
        event.add(
            "description",
            f"Details: {site}/admin/appointments/appointment/{session.pk}/change/",
        )
        event.add("status", "CANCELLED" if session.status == Status.CANCELLED else "CONFIRMED")
        calendar.add_component(event)
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
