"""Schedules that need a manager's attention before patrons find nothing to book, and messages
that could not be sent."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from . import closures
from .booking import find_open_slots
from .formatting import format_when
from .models import Message, MessageState, StaffProfile, Topic


def topics_without_open_time(days: int = 14) -> list[Topic]:
    today = timezone.localdate()
    return [
        topic
        for topic in Topic.objects.filter(is_active=True)
        if not find_open_slots(
            topic,
            length=min(topic.session_lengths),
            first_day=today,
            last_day=today + timedelta(days=days),
        )
    ]


def staff_without_hours() -> list[StaffProfile]:
    today = timezone.localdate()
    current = Q(availability__valid_until__isnull=True) | Q(availability__valid_until__gte=today)
    with_hours = StaffProfile.objects.filter(current, availability__isnull=False).values("pk")
    return list(
        StaffProfile.objects.filter(is_bookable=True, user__is_active=True).exclude(
            pk__in=with_hours
        )
    )


def booked_clashes(user) -> list:
    """Confirmed upcoming sessions (that this user may see) inside a closure or blocked time:
    kept on purpose or booked meanwhile, they need someone to move or cancel them."""
    found = closures.clashes(user)
    for appointment in found:
        appointment.when = format_when(appointment.local_starts_at)
    return found


# Failed messages older than this are no longer counted here, nor shown on the desk's call list.
FAILED_MESSAGES_SHOWN_FOR = timedelta(days=7)


def failed_messages_to_handle(**narrower) -> int:
    """Messages of the last FAILED_MESSAGES_SHOWN_FOR that could not be sent and that nobody
    has marked handled (`narrower`: filters, such as those to staff only): the desk's call list
    shows the same ones (patrons' and staff's)."""
    return Message.objects.filter(
        state=MessageState.FAILED,
        handled_at__isnull=True,
        created_at__gte=timezone.now() - FAILED_MESSAGES_SHOWN_FOR,
        **narrower,
    ).count()
