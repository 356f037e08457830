"""Booked sessions that a closure or a block would strand, and what staff do with them.

A closure or a block saved over confirmed upcoming sessions never leaves them silently: the
admin lists them and staff choose to cancel them (each patron told their own way, with the
reason in plain words and the nearest free times) or to keep them, and then the calendar and
the admin home show each clash until someone sorts it out. Cancelling goes through
`booking.cancel_appointment`, like every other cancellation.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import DateField, Exists, F, Func, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from . import access
from .booking import BookingError, cancel_appointment, find_open_slots
from .formatting import format_day, format_when
from .models import Appointment, Block, Branch, BusyTime, Closure, StaffProfile

CANCEL_AND_OFFER, CANCEL, KEEP = "cancel_and_offer", "cancel", "keep"


def decisions(count: int) -> list[tuple[str, str]]:
    """What staff may do with `count` booked sessions, in words that fit one or several. Keeping
    them sends nothing, and says so: someone must reach each patron."""
    return [
        (
            CANCEL_AND_OFFER,
            ngettext_lazy(
                "Cancel it, tell the patron their own way, and offer the nearest free times",
                "Cancel them, tell each patron their own way, and offer the nearest free times",
                count,
            ),
        ),
        (
            CANCEL,
            ngettext_lazy(
                "Cancel it and tell the patron their own way",
                "Cancel them and tell each patron their own way",
                count,
            ),
        ),
        (
            KEEP,
            ngettext_lazy(
                "Keep it booked. The patron is NOT told: someone must contact them. The "
                "calendar and the admin home show the clash until it is moved or cancelled.",
                "Keep them booked. The patrons are NOT told: someone must contact each of "
                "them. The calendar and the admin home show each clash until it is moved or "
                "cancelled.",
                count,
            ),
        ),
    ]


CLOSED_CLASH = _("Booked, but the branch is closed")
BLOCKED_CLASH = _("Booked inside blocked time")
BUSY_CLASH = _("Booked inside a busy time in Outlook/Google")

# Reasons and open times go to several patrons, each in their own language: they are lazy,
# put into words when each message is written (see messaging.patron_message).
_day = lazy(format_day, str)
_when = lazy(format_when, str)


def _local_day():
    """A session's start as a date on its branch's clock, computed by PostgreSQL."""
    local = Func(F("branch__time_zone"), F("starts_at"), function="timezone")
    return Cast(local, DateField())


def booked_in_closure(
    branch: Branch, first_day: date, last_day: date, now: datetime | None = None
) -> QuerySet:
    """Confirmed upcoming sessions at the branch on the closed days (the branch's own dates)."""
    return (
        Appointment.objects.upcoming(now)
        .filter(branch=branch)
        .annotate(local_day=_local_day())
        .filter(local_day__gte=first_day, local_day__lte=last_day)
        .select_related("patron", "topic", "staff", "branch")
        .order_by("starts_at", "pk")
    )


def booked_in_block(
    staff: StaffProfile, starts_at: datetime, ends_at: datetime, now: datetime | None = None
) -> QuerySet:
    """Confirmed upcoming sessions of the staff member that overlap the blocked time."""
    return (
        Appointment.objects.upcoming(now)
        .filter(staff=staff, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .select_related("patron", "topic", "staff", "branch")
        .order_by("starts_at", "pk")
    )


def clashes(user, now: datetime | None = None) -> list[Appointment]:
    """Confirmed upcoming sessions this user may see that sit inside a closure, a block or a
    busy time from the staff member's own calendar, each with `clash` saying which (one query)."""
    closed = Exists(
        Closure.objects.filter(
            branch=OuterRef("branch"),
            first_day__lte=OuterRef("local_day"),
            last_day__gte=OuterRef("local_day"),
        )
    )
    blocked = Exists(
        Block.objects.filter(
            staff=OuterRef("staff"),
            starts_at__lt=OuterRef("ends_at"),
            ends_at__gt=OuterRef("starts_at"),
        )
    )
    busy = Exists(
        BusyTime.objects.filter(
            staff=OuterRef("staff"),
            starts_at__lt=OuterRef("ends_at"),
            ends_at__gt=OuterRef("starts_at"),
        )
    )
    found = (
        access.visible_appointments(user, Appointment.objects.upcoming(now))
        .annotate(local_day=_local_day())
        .annotate(closed=closed, blocked=blocked, busy=busy)
        .filter(Q(closed=True) | Q(blocked=True) | Q(busy=True))
        .select_related("topic", "staff", "branch")
        .order_by("starts_at")
    )
    result = list(found)
    for appointment in result:
        appointment.clash = (
            CLOSED_CLASH
            if appointment.closed
            else BLOCKED_CLASH
            if appointment.blocked
            else BUSY_CLASH
        )
    return result


def closure_on_its_day(appointment: Appointment) -> Closure | None:
    """The closure of the session's branch on the session's day (the branch's own date), if
    any: a session kept booked there cannot happen as booked."""
    day = appointment.local_starts_at.date()
    return (
        Closure.objects.filter(
            branch_id=appointment.branch_id, first_day__lte=day, last_day__gte=day
        )
        .select_related("branch")
        .first()
    )


def block_over(appointment: Appointment) -> Block | None:
    """A block in the staff member's schedule over the session's time, if any."""
    return (
        Block.objects.filter(
            staff_id=appointment.staff_id,
            starts_at__lt=appointment.ends_at,
            ends_at__gt=appointment.starts_at,
        )
        .select_related("staff", "created_by")
        .first()
    )


def closure_reason(closure: Closure) -> str:
    """Why the library cancelled, in words for the patron (lazy: in each patron's language).
    The closure's own reason is shown as staff typed it."""
    name = closure.branch.name
    if closure.first_day == closure.last_day:
        closed = format_lazy(_("{branch} is closed that day"), branch=name)
    else:
        closed = format_lazy(
            _("{branch} is closed from {first_day} to {last_day}"),
            branch=name,
            first_day=_day(closure.first_day),
            last_day=_day(closure.last_day),
        )
    if closure.reason.strip():
        return format_lazy(_("{closed} ({reason})."), closed=closed, reason=closure.reason.strip())
    return format_lazy(_("{closed}."), closed=closed)


def block_reason(block: Block) -> str:
    """A block's own reason is the staff member's business (a dentist, a meeting): the patron
    hears only that the person who was to help them is not free then."""
    return format_lazy(
        _("{staff}, who was to help you, is no longer free at that time."),
        staff=block.staff.public_name,
    )


def block_reason_for_staff(block: Block) -> str:
    """Why, for the staff member whose session the block cancelled: their own block, or one
    someone else put in their schedule, with its reason."""
    by = block.created_by
    if by is None or by.pk == block.staff.user_id:
        blocked = _("you blocked this time")
    else:
        blocked = format_lazy(
            _("{person} blocked this time for you"),
            person=by.get_full_name() or by.get_username(),
        )
    reason = block.reason.strip()
    if reason:
        return format_lazy(_("{closed} ({reason})."), closed=blocked, reason=reason)
    return format_lazy(_("{closed}."), closed=blocked)


def nearest_open_times(appointment: Appointment, count: int = 3, days: int = 14) -> list[str]:
    """The `count` open times of the same topic and length nearest the cancelled one, at any
    branch, in words ("Tuesday 3 March, 2:30 pm, at Central Library"), soonest first. Found by
    the same code that offers times online, so the closure or block already counts."""
    today = timezone.localdate()
    wanted = appointment.local_starts_at.date()
    first_day = max(today, wanted - timedelta(days=days // 2))
    slots = find_open_slots(
        appointment.topic,
        length=appointment.minutes,
        first_day=first_day,
        last_day=max(first_day, wanted) + timedelta(days=days),
    )
    nearest = sorted(slots, key=lambda slot: abs(slot.start - appointment.starts_at))
    chosen, seen = [], set()
    for slot in nearest:
        if (slot.start, slot.branch_id) not in seen:
            seen.add((slot.start, slot.branch_id))
            chosen.append(slot)
        if len(chosen) == count:
            break
    branches = {b.pk: b for b in Branch.objects.filter(pk__in={s.branch_id for s in chosen})}
    return [
        format_lazy(
            _("{when}, at {branch}"),
            when=_when(slot.start.astimezone(branches[slot.branch_id].tz)),
            branch=branches[slot.branch_id].name,
        )
        for slot in sorted(chosen)
    ]


def cancel_stranded(
    appointments,
    *,
    by,
    reason: str,
    offer_times: bool,
    staff_reason: str = "",
    cancelled_by: str = "",
) -> tuple[list[Appointment], list[Appointment]]:
    """Cancel each session the user may change, telling patron and staff member why (the staff
    member in `staff_reason`'s words, when they differ). Returns the sessions cancelled and
    those left alone (not the user's to change, no longer booked, or busy with another change
    just then)."""
    cancelled, left = [], []
    for appointment in appointments:
        if not access.may_change_appointment(by, appointment):
            left.append(appointment)
            continue
        times = nearest_open_times(appointment) if offer_times else []
        try:
            done = cancel_appointment(
                appointment,
                by_staff=True,
                by=by,
                reason=reason,
                staff_reason=staff_reason,
                other_times=times,
                cancelled_by=cancelled_by,
            )
        except BookingError:
            done = False
        (cancelled if done else left).append(appointment)
    return cancelled, left
