"""The waiting list: when no time suits, a patron waits; when a matching time opens, the next
patron in line is offered it, held for them until the branch closes on its next open day (never
past the start of the time offered), so an offer made in the evening is not lost overnight.

Joining is confirmed the patron's way, with a private link to change the days and time of day
or to leave. For a patron who asked for calls the confirmation waits on the call list, and an
offer's call has a "Book it" button: the desk books the held time for them (`held_offer`).

Offers are made by `offer_open_times`, run by `manage.py send_notifications` every minute
(on several servers, the first to take the lock does the work). A time is never offered to two
patrons at once: the database refuses two live offers of overlapping time with one staff
member. An offer whose time was booked another way is withdrawn, and the patron goes back to
waiting.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import locks, messaging, schedule_changes
from .booking import book_appointment, bookable_staff, booking_window, find_open_slots
from .formatting import format_when
from .models import (
    Appointment,
    Availability,
    Branch,
    Closure,
    Message,
    MessageChannel,
    MessageKind,
    MessageState,
    TimeOfDay,
    WaitlistEntry,
    WaitlistState,
)
from .slots import ClosedDays, WeeklyHours, days_between

SALT = "appointments.waitlist-offer"
PLACE_SALT = "appointments.waitlist-place"
# How far ahead to look for the branch's next open day; past it, the hold ends at the session.
OPEN_DAY_SEARCH_DAYS = 31


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


def place_token(entry: WaitlistEntry) -> str:
    """The private link to change or leave one's place: it names the entry, nothing else."""
    return signing.dumps(entry.pk, salt=PLACE_SALT)


def place_url(entry: WaitlistEntry) -> str:
    path = reverse("appointments:waitlist_place", args=[place_token(entry)])
    return settings.SITE_URL.rstrip("/") + path


def entry_from_place_token(token: str) -> WaitlistEntry | None:
    """The entry a change-or-leave link is for, if the link is genuine and the patron is still
    waiting (or holding an offer). A patron who left or booked has no place to change."""
    try:
        pk = signing.loads(token, salt=PLACE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(pk, int):
        return None
    return (
        WaitlistEntry.objects.select_related("topic", "patron", "branch")
        .filter(pk=pk, state__in=[WaitlistState.WAITING, WaitlistState.OFFERED])
        .first()
    )


# Every week on that day, by the weekday's number (Monday is 0).
EVERY_WEEKDAY = [
    _("Mondays"),
    _("Tuesdays"),
    _("Wednesdays"),
    _("Thursdays"),
    _("Fridays"),
    _("Saturdays"),
    _("Sundays"),
]
PARTS_OF_DAY = {
    TimeOfDay.MORNING: _("mornings"),
    TimeOfDay.AFTERNOON: _("afternoons"),
    TimeOfDay.EVENING: _("evenings"),
}


def describe_wishes(entry: WaitlistEntry) -> str:
    """ "Tuesdays or Thursdays, mornings, at Central Library", in plain words, in the active
    language."""
    days = [str(EVERY_WEEKDAY[d]) for d in sorted(entry.weekdays)]
    if not days:
        when = gettext("any day")
    elif len(days) == 1:
        when = days[0]
    else:
        when = gettext("%(days)s or %(last)s") % {"days": ", ".join(days[:-1]), "last": days[-1]}
    part = str(PARTS_OF_DAY.get(entry.time_of_day, _("any time of day")))
    where = entry.branch.name if entry.branch_id else gettext("any of our libraries")
    return gettext("%(when)s, %(part)s, at %(where)s") % {
        "when": when,
        "part": part,
        "where": where,
    }


def joined_message(entry: WaitlistEntry) -> Message:
    """The confirmation of a place on the waiting list, the patron's way. A patron who asked
    for calls gets a call-list entry (the desk tells them they are on the list); the call
    carries no link, which staff must never read out or see."""
    with messaging.in_language_of(entry.patron):
        context = {
            **messaging.library_context(),
            "patron": entry.patron,
            "entry": entry,
            "wishes": describe_wishes(entry),
            "link": place_url(entry),
        }
        return messaging.patron_message(
            entry.patron,
            MessageKind.WAITLIST_JOINED,
            key=f"waitlist-joined:{entry.pk}",
            context=context,
        )


@transaction.atomic
def change_wishes(entry: WaitlistEntry, *, branch, weekdays, time_of_day: str) -> bool:
    """The patron changes where and when they could come. A time already offered stays
    theirs until it is booked or the hold ends. False if they are no longer waiting."""
    locks.lock(locks.LockSpace.WAITLIST_OFFERS)  # Not while offers are being made.
    return bool(
        WaitlistEntry.objects.filter(
            pk=entry.pk, state__in=[WaitlistState.WAITING, WaitlistState.OFFERED]
        ).update(branch=branch, weekdays=sorted(weekdays), time_of_day=time_of_day)
    )


@transaction.atomic
def leave(entry: WaitlistEntry) -> bool:
    """The patron leaves the waiting list; a time held for them is freed for the next in line.
    The lock keeps the offer run from offering them a time at the same moment."""
    locks.lock(locks.LockSpace.WAITLIST_OFFERS)
    leaving = WaitlistEntry.objects.filter(
        pk=entry.pk, state__in=[WaitlistState.WAITING, WaitlistState.OFFERED]
    )
    schedule_changes.offers_changed(leaving)
    left = leaving.update(state=WaitlistState.REMOVED, offer_expires_at=None)
    retire_offer_calls()
    return bool(left)


def offer_key(entry: WaitlistEntry) -> str:
    return f"waitlist:{entry.pk}:{entry.offers_made}"


def live_offers():
    return WaitlistEntry.objects.filter(
        state=WaitlistState.OFFERED, offer_expires_at__gt=timezone.now()
    )


def live_offer_keys() -> list[str]:
    return [offer_key(entry) for entry in live_offers().only("pk", "offers_made")]


def retire_offer_calls() -> int:
    """An offer's call leaves the call list once the offer is over (booked, expired, withdrawn,
    or the patron left the list): nobody should ring to offer a time that is gone."""
    return (
        Message.objects.filter(
            kind=MessageKind.WAITLIST_OFFER,
            channel=MessageChannel.CALL,
            state__in=messaging.CALLS_TO_MAKE,
        )
        .exclude(key__in=live_offer_keys())
        .update(state=MessageState.SKIPPED)
    )


def held_offer(patron, topic, length: int) -> WaitlistEntry | None:
    """The live offer this patron holds for this topic and length, if any: the desk may book
    its time for them, and nobody else may."""
    return (
        live_offers()
        .select_related("patron", "offer_branch", "offer_staff")
        .filter(patron=patron, topic=topic, length=length)
        .order_by("offer_starts_at")
        .first()
    )


def book_held_time(entry: WaitlistEntry, **booking) -> Appointment:
    """Book for the patron who holds this offer, through the one gate with them as the holder
    (so their held time counts as open for them, and only for them). Booking the held time
    takes the offer: it is neither withdrawn nor offered to anyone else. Raises BookingError."""
    with transaction.atomic():
        appointment = book_appointment(holder=entry, **booking)
        taken = WaitlistEntry.objects.filter(
            pk=entry.pk, state=WaitlistState.OFFERED, offer_starts_at=appointment.starts_at
        )
        schedule_changes.offers_changed(taken)
        taken.update(state=WaitlistState.BOOKED)
        retire_offer_calls()
    return appointment


def book_it_url(call: Message, offers: dict[str, WaitlistEntry] | None = None) -> str | None:
    """For an offer's call on the call list: the desk's booking page for the patron, with the
    held time chosen; None when the offer has ended or been taken. `offers`: the live offers
    by key, looked up once for a whole list."""
    if call.kind != MessageKind.WAITLIST_OFFER or call.channel != MessageChannel.CALL:
        return None
    if offers is None:
        offers = {offer_key(e): e for e in live_offers().select_related("offer_branch")}
    entry = offers.get(call.key)
    if entry is None:
        return None
    query = {
        "topic": entry.topic_id,
        "length": entry.length,
        "branch": entry.offer_branch_id,
        "staff": entry.offer_staff_id,
        "week": entry.offer_starts_at.astimezone(entry.offer_branch.tz).date().isoformat(),
        "held": 1,
    }
    return reverse("appointments:desk_book", args=[entry.patron_id]) + "?" + urlencode(query)


def closing_of_next_open_day(
    *,
    hours: list[WeeklyHours],
    closures: list[ClosedDays],
    tz: ZoneInfo,
    after: date,
    last_day: date,
) -> datetime | None:
    """When the branch closes on the first day after `after` that it is open (someone works
    there and it is not closed), or None if it opens on no day up to `last_day`. Pure."""
    for day in days_between(after + timedelta(days=1), last_day):
        if any(c.first_day <= day <= c.last_day for c in closures):
            continue
        ends = [h.end for h in hours if h.applies_on(day)]
        if ends:
            return datetime.combine(day, max(ends), tzinfo=tz)
    return None


def hold_until(branch: Branch, starts_at: datetime, now: datetime) -> datetime:
    """How long an offer made `now` is held: until the branch closes on its next open day,
    in the branch's zone, and never past the start of the time offered."""
    tz = branch.tz
    today = now.astimezone(tz).date()
    last_day = min(today + timedelta(days=OPEN_DAY_SEARCH_DAYS), starts_at.astimezone(tz).date())
    hours = [
        WeeklyHours(*row)
        for row in Availability.objects.filter(branch=branch).values_list(
            "staff_id",
            "branch_id",
            "weekday",
            "start_time",
            "end_time",
            "valid_from",
            "valid_until",
        )
    ]
    closures = [
        ClosedDays(*row)
        for row in Closure.objects.filter(
            branch=branch, first_day__lte=last_day, last_day__gt=today
        ).values_list("branch_id", "first_day", "last_day")
    ]
    closing = closing_of_next_open_day(
        hours=hours, closures=closures, tz=tz, after=today, last_day=last_day
    )
    return starts_at if closing is None else min(closing, starts_at)


def part_of_day(local: datetime) -> str:
    """Morning before noon, afternoon from noon until 5 pm, evening from 5 pm."""
    if local.hour < 12:
        return TimeOfDay.MORNING
    return TimeOfDay.AFTERNOON if local.hour < 17 else TimeOfDay.EVENING


def parts_of_day(stretches: Iterable[tuple[time, time]], length: int) -> set[str]:
    """The parts of the day in which a session of `length` minutes can start within these
    weekly stretches (start and end times on the branch's clock)."""
    parts = set()
    for start, end in stretches:
        first = start.hour * 60 + start.minute
        last = end.hour * 60 + end.minute - length
        if last < first:
            continue
        if first < 12 * 60:
            parts.add(TimeOfDay.MORNING)
        if first < 17 * 60 and last >= 12 * 60:
            parts.add(TimeOfDay.AFTERNOON)
        if last >= 17 * 60:
            parts.add(TimeOfDay.EVENING)
    return parts


def times_of_day_offered(topic, length: int, today: date | None = None) -> list[str]:
    """The times of day worth waiting for: those in which someone who takes bookings for the
    topic has weekly hours, at any branch. Nobody works evenings? Then nobody waits for one."""
    today = today or timezone.localdate()
    stretches = Availability.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=today),
        staff__in=bookable_staff(topic),
    ).values_list("start_time", "end_time")
    offered = parts_of_day(stretches, length)
    return [part for part in TimeOfDay.values if part in offered]


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
    with messaging.in_language_of(entry.patron):
        context = {
            **messaging.library_context(),
            "patron": entry.patron,
            "entry": entry,
            "when": format_when(entry.offer_starts_at.astimezone(entry.offer_branch.tz)),
            "until": format_when(entry.offer_expires_at.astimezone(entry.offer_branch.tz)),
            "link": offer_url(entry),
        }
        return messaging.patron_message(
            entry.patron,
            MessageKind.WAITLIST_OFFER,
            key=offer_key(entry),
            context=context,
        )


def _matches(entry: WaitlistEntry, slot, zones) -> bool:
    """Does this open time suit the patron: their branch, their days, their time of day (all
    on the branch's clock)?"""
    if entry.branch_id and slot.branch_id != entry.branch_id:
        return False
    local = slot.start.astimezone(zones[slot.branch_id])
    if entry.weekdays and local.weekday() not in entry.weekdays:
        return False
    return not entry.time_of_day or part_of_day(local) == entry.time_of_day


def offer_open_times(now: datetime | None = None) -> dict[str, int]:
    """Expire and withdraw stale offers, then offer open times to the next patrons in line."""
    now = now or timezone.now()
    counts = {"expired": 0, "withdrawn": 0, "offered": 0}
    with transaction.atomic():
        if not locks.try_lock(locks.LockSpace.WAITLIST_OFFERS):
            return counts  # Another server is making the offers right now.
        offered = WaitlistEntry.objects.filter(state=WaitlistState.OFFERED)
        # Not taken in time: back in line, behind those who have had fewer offers.
        expired = offered.filter(offer_expires_at__lte=now)
        schedule_changes.offers_changed(expired)
        counts["expired"] = expired.update(state=WaitlistState.WAITING, offer_expires_at=None)
        for entry in offered.select_related("topic", "offer_branch", "offer_staff"):
            if not _still_open(entry):
                # Only if still offered: the desk may have just booked it for the holder.
                withdrawn = WaitlistEntry.objects.filter(pk=entry.pk, state=WaitlistState.OFFERED)
                schedule_changes.offers_changed(withdrawn)
                withdrawn.update(state=WaitlistState.WAITING, offer_expires_at=None)
                counts["withdrawn"] += 1
        waiting = (
            WaitlistEntry.objects.filter(state=WaitlistState.WAITING, topic__is_active=True)
            .select_related("topic", "patron")
            .order_by("offers_made", "created_at")
        )
        slots_for: dict[tuple[int, int], list] = {}
        branches = {branch.pk: branch for branch in Branch.objects.all()}
        zones = {pk: branch.tz for pk, branch in branches.items()}
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
            # Held no later than the patron's own link can still book it (the topic's notice).
            entry.offer_expires_at = min(
                hold_until(branches[slot.branch_id], slot.start, now),
                slot.start - timedelta(hours=entry.topic.notice_hours),
            )
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
        retire_offer_calls()  # Offers that expired or were withdrawn just now.
    return counts
