"""Statistics for managers: sessions by topic, branch and month, with attendance.

Built only from what a purge keeps, so the figures are the same before and after one.
"""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth

from .models import Appointment, Status, WalkIn


def _grouped(*fields, **extra):
    return list(
        Appointment.objects.annotate(**extra)
        .values(*fields)
        .annotate(
            sessions=Count("pk"),
            attended=Count("pk", filter=Q(status=Status.ATTENDED)),
            no_shows=Count("pk", filter=Q(status=Status.NO_SHOW)),
            cancelled=Count("pk", filter=Q(status=Status.CANCELLED)),
            people_helped=Sum("party_size", filter=Q(status=Status.ATTENDED), default=0),
        )
        .order_by(*fields)
    )


def session_statistics() -> dict[str, list[dict]]:
    return {
        "by_topic": _grouped("topic__name"),
        "by_branch": _grouped("branch__name"),
        "by_month": _grouped("month", month=TruncMonth("starts_at")),
        "by_skill_level": _grouped("skill_level"),
        "by_channel": _grouped("channel"),
    }


def walk_in_statistics() -> list[dict]:
    """Help given without a booking, by topic: how many times and how many minutes."""
    return list(
        WalkIn.objects.values("topic__name")
        .annotate(times=Count("pk"), minutes=Sum("minutes"))
        .order_by("topic__name")
    )
