"""The waiting list: when no time suits, a patron waits; when a matching time opens, the next
patron in line is offered it, held for them for WAITLIST_HOLD_HOURS.

Offers are made by `offer_open_times`, run by `manage.py send_notifications` every minute
(on several servers, the first to take the lock does the work). A time is never offered to two
patrons at once: the database refuses two live offers of overlapping time with one staff
member. An offer whose time was booked another way is withdrawn, and the patron goes back to
waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from . import locks, messaging
from .booking import booking_window, find_open_slots
from .formatting import format_when
from .models import (
    Branch,
    Message,
    MessageKind,
    WaitlistEntry,
    WaitlistState,
)

SALT = "appointments.waitlist-offer"


def offer_token(entry: WaitlistEntry) -> str:
    return signing.dumps([entry.pk, entry.offers_made], salt=SALT)


def offer_url(entry: WaitlistEntry) -> str:
    path = reverse("appointments:waitlist_offer", args=[offer_token(entry)])
    return settings.SITE_URL.rstrip("/") + path


def entry_from_token(token: str) -> WaitlistEntry | None:
    """The entry an offer link is for, if the link is genuine and still the latest offer."""
    try:
        pk, offers_made = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return (
        WaitlistEntry.objects.select_related("topic", "patron", "offer_branch", "offer_staff")
        .filter(pk=pk, offers_made=offers_made)
        .first()
    )


def _still_open(entry: WaitlistEntry) -> bool:
    tz = entry.offer_branch.tz
    day = entry.offer_starts_at.astimezone(tz).date()
    slots = find_open_slots(
        entry.topic,
        length=entry.length,
        first_day=day,
        last_day=day,
        branch=entry.offer_branch,
        staff=entry.offer_staff,
        window=booking_window(entry.topic, for_desk=True),
        holder=entry,
    )
    return any(slot.start == entry.offer_starts_at for slot in slots)


def _offer_message(entry: WaitlistEntry) -> Message:
    context = {
        **messaging.library_context(),
        "patron": entry.patron,
        "entry": entry,
        "when": format_when(entry.offer_starts_at.astimezone(entry.offer_branch.tz)),
        "until": format_when(timezone.localtime(entry.offer_expires_at)),
        "link": offer_url(entry),
    }
    return messaging.patron_message(
        entry.patron,
        MessageKind.WAITLIST_OFFER,
        key=f"waitlist:{entry.pk}:{entry.offers_made}",
        context=context,
    )


def _matches(entry: WaitlistEntry, slot, zones) -> bool:
    if entry.branch_id and slot.branch_id != entry.branch_id:
        return False
    return not entry.weekdays or slot.start.astimezone(zones[slot.branch_id]).weekday() in (
        entry.weekdays
    )


def offer_open_times(now: datetime | None = None) -> dict[str, int]:
    """Expire and withdraw stale offers, then offer open times to the next patrons in line."""
    now = now or timezone.now()
    counts = {"expired": 0, "withdrawn": 0, "offered": 0}
    with transaction.atomic():
        if not locks.try_lock(locks.LockSpace.WAITLIST_OFFERS):
            return counts  # Another server is making the offers right now.
        offered = WaitlistEntry.objects.filter(state=WaitlistState.OFFERED)
        # Not taken in time: back in line, behind those who have had fewer offers.
        counts["expired"] = offered.filter(offer_expires_at__lte=now).update(
            state=WaitlistState.WAITING, offer_expires_at=None
        )
        for entry in offered.select_related("topic", "offer_branch", "offer_staff"):
            if not _still_open(entry):
                WaitlistEntry.objects.filter(pk=entry.pk).update(
                    state=WaitlistState.WAITING, offer_expires_at=None
                )
                counts["withdrawn"] += 1
        waiting = (
            WaitlistEntry.objects.filter(state=WaitlistState.WAITING, topic__is_active=True)
            .select_related("topic", "patron")
            .order_by("offers_made", "created_at")
        )
        slots_for: dict[tuple[int, int], list] = {}
        zones = {branch.pk: branch.tz for branch in Branch.objects.all()}
        hold = timedelta(hours=settings.WAITLIST_HOLD_HOURS)
        for entry in waiting:
            key = (entry.topic_id, entry.length)
            if key not in slots_for:
                window = booking_window(entry.topic)
                slots_for[key] = find_open_slots(
                    entry.topic,
                    length=entry.length,
                    first_day=timezone.localdate(window.earliest),
                    last_day=timezone.localdate(window.latest),
                    window=window,
                )
            slot = next((s for s in slots_for[key] if _matches(entry, s, zones)), None)
            if slot is None:
                continue
            entry.state = WaitlistState.OFFERED
            entry.offer_staff_id, entry.offer_branch_id = slot.staff_id, slot.branch_id
            entry.offer_starts_at, entry.offer_ends_at = slot.start, slot.end
            entry.offer_expires_at = min(now + hold, slot.start)
            entry.offers_made += 1
            try:
                with transaction.atomic():
                    entry.save()
                    messaging.save_new([_offer_message(entry)])
            except IntegrityError:
                continue
            # Nobody else is offered an overlapping time with that staff member.
            slots_for = {
                k: [
                    s
                    for s in v
                    if not (
                        s.staff_id == slot.staff_id and s.start < slot.end and s.end > slot.start
                    )
                ]
                for k, v in slots_for.items()
            }
            counts["offered"] += 1
    return counts
