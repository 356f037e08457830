"""Calendar files (.ics) for a session.

Each session keeps one UID for life, and its SEQUENCE grows with each change, so a calendar
program updates or removes the event it already has instead of adding another.
"""

from __future__ import annotations

from django.utils import timezone, translation
from django.utils.translation import gettext
from icalendar import Calendar, Event

from library_help.languages import supported

from .links import private_url
from .models import Appointment, Status
from .templatetags.library_help import full_stop


def appointment_uid(appointment: Appointment) -> str:
    return f"{appointment.reference}@library-help"


def appointment_ics(appointment: Appointment, *, language: str | None = None) -> bytes:
    """The session as a calendar file, in `language`: by default the patron's (or, once they
    are forgotten, the one the session was booked in), never the request's."""
    if language is None:
        patron = appointment.patron
        language = patron.language if patron is not None else appointment.language
    with translation.override(supported(language)):
        return _calendar(appointment)


def _calendar(appointment: Appointment) -> bytes:
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
    event.add(
        "summary",
        gettext("Library help: %(topic)s") % {"topic": appointment.topic.translated_name},
    )
    event.add("location", f"{appointment.branch.name}, {appointment.branch.address}")
    event.add(
        "description",
        # The name ends the sentence: "with Ben O." takes no second full stop.
        gettext("A one-on-one help session with %(staff)s\nTo see, change or cancel it: %(link)s")
        % {"staff": full_stop(appointment.staff.public_name), "link": private_url(appointment)},
    )
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()
