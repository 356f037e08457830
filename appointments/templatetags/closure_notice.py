"""The notice on a patron's private page when their branch is closed on the day of a session
that staff kept booked: the patron would otherwise travel to a closed branch."""

from django import template

from appointments import closures

register = template.Library()


@register.simple_tag
def closed_on_the_day(appointment):
    """The closure's reason in words for the patron, or "" (one query, only for a session still
    to come)."""
    if not appointment.is_cancellable:
        return ""
    closure = closures.closure_on_its_day(appointment)
    return closures.closure_reason(closure) if closure else ""
