"""Calendar files (.ics) for a session.

Each session keeps one UID for life, and its SEQUENCE grows with each change, so a calendar
program updates or removes the event it already has instead of adding another.
"""

from __future__ import annotations

from django.utils import timezone
from icalendar import Calendar, Event

from .links import private_url
from .models import Appointment, Status


def appointment_uid(appointment: Appointment) -> str:
    return f"{appointment.reference}@library-help"


def appointment_ics(appointment: Appointment) -> bytes:
    cancelled = appointment.status == Status.CANCELLED
    calendar = Calendar()
    calendar.add("prodid", "-//Library Help//Help sessions//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("sequence", appointment.sequence)
    event.add("dtstamp", timezone.now())
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    event.add("summary", f"Library help: {appointment.topic.name}")
    event.add("location", f"{appointment.branch.name}, {appointment.branch.address}")
    event.add(
        "description",
        f"A one-on-one help session with {appointment.staff.public_name}.\n"
        f"To see, change or cancel it: {private_url(appointment)}",
    )
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()
