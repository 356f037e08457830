"""Booking rules: finding open times and booking one of them.

`find_open_slots` loads what the pure slot computation needs in a fixed number of queries,
however many staff and days are involved. `book_appointment` is the one way a session gets
booked: it locks, re-checks the rules inside the transaction, inserts, and leaves the last word
to PostgreSQL's exclusion constraint, so two people clicking at once never share a slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from patrons.models import Patron

from . import messaging
from .models import (
    Appointment,
    Availability,
    Block,
    Branch,
    Channel,
    Closure,
    StaffProfile,
    Status,
    Topic,
    WaitlistEntry,
    WaitlistState,
)
from .slots import Busy, ClosedDays, Slot, WeeklyHours, open_slots


class BookingError(Exception):
    """A booking that cannot be made, with a message fit to show the person booking."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


SLOT_TAKEN = "That time was just taken. Please choose another time."
PATRON_OVERLAP = "You already have a session at that time. Please choose another time."


@dataclass(frozen=True)
class BookingWindow:
    earliest: datetime
    latest: datetime


def booking_window(
    topic: Topic | None = None, *, for_desk: bool = False, now: datetime | None = None
) -> BookingWindow:
    """When sessions may start: online needs the topic's notice; the desk can book any later
    time. Both stop at the topic's booking window."""
    now = now or timezone.now()
    notice_hours = topic.notice_hours if topic else settings.BOOKING_MIN_NOTICE_HOURS
    window_days = topic.window_days if topic else settings.BOOKING_WINDOW_DAYS
    notice = timedelta(0) if for_desk else timedelta(hours=notice_hours)
    return BookingWindow(now + notice, now + timedelta(days=window_days))


def bookable_staff(topic: Topic, branch: Branch | None = None):
    staff = StaffProfile.objects.filter(topics=topic, is_bookable=True, user__is_active=True)
    if branch is not None:
        staff = staff.filter(branches=branch)
    return staff


def find_open_slots(
    topic: Topic,
    *,
    length: int,
    first_day: date,
    last_day: date,
    branch: Branch | None = None,
    staff: StaffProfile | None = None,
    window: BookingWindow | None = None,
    ignoring: Appointment | None = None,
    holder: WaitlistEntry | None = None,
) -> list[Slot]:
    """Open times for a topic between two dates. Six queries, whatever the size of the library.

    `ignoring` leaves one booking out of the busy times: the one being moved to a new time.
    `holder` is the waiting-list entry whose held time should count as open (for them).
    """
    window = window or booking_window(topic)
    staff_ids = bookable_staff(topic, branch)
    if staff is not None:
        staff_ids = staff_ids.filter(pk=staff.pk)
    staff_ids = list(staff_ids.values_list("pk", flat=True))
    if not staff_ids:
        return []

    hours_qs = Availability.objects.filter(staff_id__in=staff_ids)
    if branch is not None:
        hours_qs = hours_qs.filter(branch=branch)
    rows = list(
        hours_qs.values_list(
            "staff_id",
            "branch_id",
            "weekday",
            "start_time",
            "end_time",
            "valid_from",
            "valid_until",
            "branch__time_zone",
        )
    )
    if not rows:
        return []
    hours = [WeeklyHours(*row[:7]) for row in rows]
    zones = {row[1]: Branch(time_zone=row[7]).tz for row in rows}

    # A generous UTC span around the local dates: zones are at most 14 hours from UTC.
    span_start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    span_end = datetime.combine(last_day, datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
    busy = [
        Busy(*row)
        for row in Block.objects.filter(
            staff_id__in=staff_ids, starts_at__lt=span_end, ends_at__gt=span_start
        ).values_list("staff_id", "starts_at", "ends_at")
    ]
    booked = Appointment.objects.active().filter(
        staff_id__in=staff_ids, occupied_from__lt=span_end, occupied_until__gt=span_start
    )
    if ignoring is not None:
        booked = booked.exclude(pk=ignoring.pk)
    # Times held for someone on the waiting list are not open to anyone else meanwhile.
    held = WaitlistEntry.objects.filter(
        state=WaitlistState.OFFERED,
        offer_expires_at__gt=timezone.now(),
        offer_staff_id__in=staff_ids,
        offer_starts_at__lt=span_end,
        offer_ends_at__gt=span_start,
    )
    if holder is not None:
        held = held.exclude(pk=holder.pk)
    busy += [
        Busy(*row) for row in held.values_list("offer_staff_id", "offer_starts_at", "offer_ends_at")
    ]
    busy += [
        Busy(*row) for row in booked.values_list("staff_id", "occupied_from", "occupied_until")
    ]
    closures = [
        ClosedDays(*row)
        for row in Closure.objects.filter(
            branch_id__in=zones.keys(), first_day__lte=last_day, last_day__gte=first_day
        ).values_list("branch_id", "first_day", "last_day")
    ]
    return open_slots(
        hours=hours,
        busy=busy,
        closures=closures,
        zones=zones,
        first_day=first_day,
        last_day=last_day,
        length=length,
        step=settings.SLOT_STEP_MINUTES,
        earliest=window.earliest,
        latest=window.latest,
        padding_before=topic.padding_before,
        padding_after=topic.padding_after,
    )


def person_sessions(patron: Patron):
    """Every session of the person behind this record, whichever of their records it is on."""
    return Appointment.objects.filter(patron__in=patron.same_person())


# The namespace of the per-person advisory locks (two-key locks never meet one-key ones).
PERSON_LOCK = 7301


def lock_person(patron: Patron) -> None:
    """Hold one person's bookings one at a time until the transaction ends.

    Row locks are not enough: two online bookings with the same email each make a new record, and
    neither can see the other's until it commits. An advisory lock per contact detail can.
    """
    with connection.cursor() as cursor:
        # In the order of the lock ids themselves, so two bookings never wait on each other.
        cursor.execute(
            "SELECT DISTINCT hashtext(key) FROM unnest(%s::text[]) AS key ORDER BY 1",
            [patron.identity_keys()],
        )
        for (lock_id,) in cursor.fetchall():
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PERSON_LOCK, lock_id])


def upcoming_count(patron: Patron, now: datetime | None = None) -> int:
    return person_sessions(patron).upcoming(now).count()


def pause_reason(patron: Patron, now: datetime | None = None) -> str:
    """Why online booking is paused for this patron ("" if it is not). For the desk's eyes only."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.NO_SHOW_PERIOD_DAYS)
    lifted = patron.same_person().aggregate(last=Max("pause_lifted_at"))["last"]
    if lifted and lifted > since:
        since = lifted
    missed = list(
        person_sessions(patron)
        .filter(status=Status.NO_SHOW, starts_at__gte=since)
        .order_by("-starts_at")
        .values_list("starts_at", flat=True)
    )
    if len(missed) < settings.NO_SHOW_LIMIT:
        return ""
    until = missed[0] + timedelta(days=settings.NO_SHOW_PAUSE_DAYS)
    if until <= now:
        return ""
    return (
        f"{len(missed)} missed sessions since {timezone.localtime(since):%d %B %Y}; "
        f"online booking is paused until {timezone.localtime(until):%d %B %Y}."
    )


# One message for every online refusal about the person (a limit or a pause): whoever types an
# email or phone number online learns no count, no day and nothing about missed sessions.
ONLINE_REFUSAL = (
    "We cannot book another session online for these contact details just now: it would be more "
    "than we can book online. Please call us at {phone} or visit the desk, and we will gladly "
    "find you a time."
)


def caps_reached(patron: Patron, starts_at: datetime, branch: Branch) -> list[str]:
    """The limits this booking would break, in words for the desk (an empty list if none)."""
    reasons = []
    upcoming = upcoming_count(patron)
    if upcoming >= settings.BOOKING_MAX_UPCOMING:
        reasons.append(
            f"{upcoming} upcoming sessions (the limit is {settings.BOOKING_MAX_UPCOMING})"
        )
    local = starts_at.astimezone(branch.tz)
    day_start = datetime.combine(local.date(), datetime.min.time(), tzinfo=branch.tz)
    week_start = day_start - timedelta(days=local.weekday())
    booked = person_sessions(patron).active()
    on_day = booked.filter(starts_at__gte=day_start, starts_at__lt=day_start + timedelta(days=1))
    if on_day.count() >= settings.BOOKING_MAX_PER_DAY:
        reasons.append(
            f"{on_day.count()} already that day (the limit is {settings.BOOKING_MAX_PER_DAY} a day)"
        )
    in_week = booked.filter(starts_at__gte=week_start, starts_at__lt=week_start + timedelta(days=7))
    if in_week.count() >= settings.BOOKING_MAX_PER_WEEK:
        reasons.append(
            f"{in_week.count()} already that week (the limit is "
            f"{settings.BOOKING_MAX_PER_WEEK} a week)"
        )
    return reasons


def _free_staff(topic, branch, starts_at, length, *, staff=None, for_desk=False, **busy_options):
    """Lock each staff member who could take this time, in id order, and yield those for whom it
    is open. Locking first means the re-check sees every committed booking and block."""
    candidates = bookable_staff(topic, branch).order_by("pk")
    if staff is not None:
        candidates = candidates.filter(pk=staff.pk)
    window = booking_window(topic, for_desk=for_desk)
    local_day = starts_at.astimezone(branch.tz).date()
    for candidate in candidates.select_for_update(of=("self",)):
        free = find_open_slots(
            topic,
            length=length,
            first_day=local_day,
            last_day=local_day,
            branch=branch,
            staff=candidate,
            window=window,
            **busy_options,
        )
        if any(slot.start == starts_at for slot in free):
            yield candidate


@transaction.atomic
def book_appointment(
    *,
    patron: Patron,
    topic: Topic,
    branch: Branch,
    starts_at: datetime,
    length: int,
    skill_level: str,
    learning_goal: str,
    party_size: int,
    staff: StaffProfile | None = None,
    channel: str = Channel.ONLINE,
    booked_by=None,
    limit_override_reason: str = "",
    holder: WaitlistEntry | None = None,
) -> Appointment:
    """Book a session, or raise BookingError saying why not.

    With no staff member named, the first free one who helps with the topic at that branch gets
    it. Safe under concurrency: the patron row is locked (so the upcoming-sessions limit holds),
    each candidate staff row is locked in id order (so the re-check sees every committed
    booking and block), and the exclusion constraint refuses any overlap that slips past.
    """
    for_desk = channel != Channel.ONLINE
    if not topic.is_active:
        raise BookingError("This topic is not offered at the moment.", "rules")
    if length not in topic.session_lengths:
        raise BookingError("Please choose one of the session lengths offered.", "rules")

    patron = Patron.objects.select_for_update().get(pk=patron.pk)
    lock_person(patron)
    if not for_desk and pause_reason(patron):
        raise BookingError(ONLINE_REFUSAL.format(phone=settings.LIBRARY_PHONE), "paused")
    reached = caps_reached(patron, starts_at, branch)
    if reached:
        if not for_desk:
            raise BookingError(ONLINE_REFUSAL.format(phone=settings.LIBRARY_PHONE), "limit")
        if not limit_override_reason.strip():
            raise BookingError(
                f"{patron.name} has {'; '.join(reached)}. To book anyway, say why.", "limit"
            )
    else:
        limit_override_reason = ""
    if (
        person_sessions(patron)
        .active()
        .filter(starts_at__lt=starts_at + timedelta(minutes=length), ends_at__gt=starts_at)
    ):
        raise BookingError(PATRON_OVERLAP, "patron_overlap")

    for candidate in _free_staff(
        topic, branch, starts_at, length, staff=staff, for_desk=for_desk, holder=holder
    ):
        appointment = Appointment(
            patron=patron,
            staff=candidate,
            branch=branch,
            topic=topic,
            skill_level=skill_level,
            learning_goal=learning_goal,
            party_size=party_size,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=length),
            padding_before=topic.padding_before,
            padding_after=topic.padding_after,
            channel=channel,
            booked_by=booked_by,
            limit_override_reason=limit_override_reason.strip(),
        )
        try:
            with transaction.atomic():
                appointment.save()
        except IntegrityError as error:
            if "appointment_no_patron_overlap" in str(error):
                raise BookingError(PATRON_OVERLAP, "patron_overlap") from error
            continue
        messaging.booking_made(appointment)
        return appointment
    raise BookingError(SLOT_TAKEN, "taken")


@transaction.atomic
def cancel_appointment(appointment: Appointment, *, by_staff: bool = False) -> bool:
    """Cancel a confirmed session and tell those who should know.

    Returns False when it was no longer confirmed (then nothing changes and nobody is told).
    """
    updated = Appointment.objects.filter(pk=appointment.pk, status=Status.CONFIRMED).update(
        status=Status.CANCELLED,
        cancelled_at=timezone.now(),
        updated_at=timezone.now(),
        sequence=F("sequence") + 1,
    )
    if updated:
        appointment.refresh_from_db()
        messaging.booking_cancelled(appointment, by_staff=by_staff)
    return bool(updated)


@transaction.atomic
def reschedule_appointment(
    appointment: Appointment,
    *,
    branch: Branch,
    starts_at: datetime,
    staff: StaffProfile | None = None,
    for_desk: bool = False,
) -> Appointment:
    """Move a confirmed session to another open time of the same topic and length.

    The session keeps its reference (and so its calendar UID and private link); its sequence
    grows so calendar programs replace the old time.
    """
    # Same lock order as book_appointment (patron, then staff) so the two never deadlock.
    Patron.objects.select_for_update().filter(pk=appointment.patron_id).first()
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if locked.status != Status.CONFIRMED or locked.starts_at <= timezone.now():
        raise BookingError("This session can no longer be changed online.", "rules")
    length = locked.minutes
    for candidate in _free_staff(
        locked.topic, branch, starts_at, length, staff=staff, for_desk=for_desk, ignoring=locked
    ):
        locked.staff, locked.branch = candidate, branch
        locked.starts_at, locked.ends_at = starts_at, starts_at + timedelta(minutes=length)
        locked.sequence += 1
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            locked.refresh_from_db()
            continue
        messaging.booking_changed(locked)
        return locked
    raise BookingError(SLOT_TAKEN, "taken")
