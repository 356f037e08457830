"""Booking rules: finding open times and booking one of them.

`find_open_slots` loads what the pure slot computation needs in a fixed number of queries,
however many staff and days are involved. `book_appointment` is the one way a session gets
booked: it locks, re-checks the rules inside the transaction, inserts, and leaves the last word
to PostgreSQL's exclusion constraint, so two people clicking at once never share a slot.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Max
from django.utils import timezone

from patrons.models import Patron

from . import locks, messaging, schedule_changes
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


def upcoming_count(patron: Patron, now: datetime | None = None, *, ignoring=None) -> int:
    sessions = person_sessions(patron).upcoming(now)
    if ignoring is not None:
        sessions = sessions.exclude(pk=ignoring.pk)
    return sessions.count()


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


def caps_reached(
    patron: Patron, starts_at: datetime, branch: Branch, *, ignoring: Appointment | None = None
) -> list[str]:
    """The limits this booking would break, in words for the desk (an empty list if none).

    `ignoring` is the session being moved: it does not count against its own new time."""
    reasons = []
    upcoming = upcoming_count(patron, ignoring=ignoring)
    if upcoming >= settings.BOOKING_MAX_UPCOMING:
        reasons.append(
            f"{upcoming} upcoming sessions (the limit is {settings.BOOKING_MAX_UPCOMING})"
        )
    local = starts_at.astimezone(branch.tz)
    day_start = datetime.combine(local.date(), datetime.min.time(), tzinfo=branch.tz)
    week_start = day_start - timedelta(days=local.weekday())
    booked = person_sessions(patron).active()
    if ignoring is not None:
        booked = booked.exclude(pk=ignoring.pk)
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


PATRON_GONE = (
    "This patron's record is no longer held: it was deleted under the privacy rules. "
    "Please add them again."
)
BUSY = "Another change to this patron's sessions was being saved. Please try again."


@contextmanager
def busy_means_try_again():
    """A lock not granted in time, or a deadlock PostgreSQL broke: a plain "please try again"
    for the person at the screen, never an error page. The transaction is rolled back."""
    try:
        yield
    except locks.LockTimeout as error:
        raise BookingError(BUSY, "busy") from error
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) in ("55P03", "40P01"):
            raise BookingError(BUSY, "busy") from error
        raise


def lock_patron(patron: Patron) -> Patron:
    """Take the person's lock, then their row: the same order everywhere (booking, moving,
    cancelling, marking, forgetting, the purge), so two of them never wait on each other."""
    locks.lock_person(patron)
    locked = Patron.objects.select_for_update(no_key=True).filter(pk=patron.pk).first()
    if locked is None:
        raise BookingError(PATRON_GONE, "patron_gone")
    if locked.identity_keys() != patron.identity_keys():
        locks.lock_person(locked)  # The desk changed their details meanwhile.
    return locked


def _lock_person_of(appointment: Appointment) -> None:
    """The person lock of a session's patron, if it still has one, taken before the session's
    row: the order booking and moving use."""
    patron = Patron.objects.filter(appointments=appointment.pk).first()
    if patron is not None:
        with busy_means_try_again():
            locks.lock_person(patron)


def check_person_rules(
    patron: Patron,
    *,
    branch: Branch,
    starts_at: datetime,
    ends_at: datetime,
    by_staff: bool,
    override_reason: str = "",
    moving: Appointment | None = None,
) -> str:
    """May this person have a session at this time? Raise BookingError if not.

    The rules about the person, whichever way the session is made or moved: no two sessions of
    one person at once, the upcoming, daily and weekly limits, and (for new online bookings) the
    pause after missed sessions. Staff may go past a limit by saying why; the reason to keep is
    returned ("" when no limit was lifted). Call it with the person locked.
    """
    if not by_staff and moving is None and pause_reason(patron):
        raise BookingError(ONLINE_REFUSAL.format(phone=settings.LIBRARY_PHONE), "paused")
    reached = caps_reached(patron, starts_at, branch, ignoring=moving)
    if reached and not by_staff:
        raise BookingError(ONLINE_REFUSAL.format(phone=settings.LIBRARY_PHONE), "limit")
    if reached and not override_reason.strip():
        raise BookingError(
            f"{patron.name} has {'; '.join(reached)}. To go ahead anyway, say why.", "limit"
        )
    others = person_sessions(patron).active().filter(starts_at__lt=ends_at, ends_at__gt=starts_at)
    if moving is not None:
        others = others.exclude(pk=moving.pk)
    if others.exists():
        raise BookingError(PATRON_OVERLAP, "patron_overlap")
    return override_reason.strip() if reached else ""


def book_appointment(**booking) -> Appointment:
    """Book a session, or raise BookingError saying why not. The one way a session is made;
    the rules are in _book."""
    with busy_means_try_again(), transaction.atomic():
        return _book(**booking)


def _book(
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
    """Online (no `booked_by`) the topic's notice applies and limits cannot be lifted; staff
    booking for a patron name themselves in `booked_by` and may lift a limit by saying why.
    With no staff member named, the first free one who helps with the topic at that branch gets
    it. Safe under concurrency: the person is locked (so their limits hold), each candidate
    staff row is locked in id order (so the re-check sees every committed booking and block),
    and the exclusion constraints refuse any overlap that slips past.
    """
    by_staff = booked_by is not None
    if channel != Channel.ONLINE and not by_staff:
        raise ValueError("A booking at the desk or by phone names the staff member making it.")
    if not topic.is_active:
        raise BookingError("This topic is not offered at the moment.", "rules")
    if length not in topic.session_lengths:
        raise BookingError("Please choose one of the session lengths offered.", "rules")
    ends_at = starts_at + timedelta(minutes=length)

    patron = lock_patron(patron)
    reason = check_person_rules(
        patron,
        branch=branch,
        starts_at=starts_at,
        ends_at=ends_at,
        by_staff=by_staff,
        override_reason=limit_override_reason,
    )
    for candidate in _free_staff(
        topic, branch, starts_at, length, staff=staff, for_desk=by_staff, holder=holder
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
            ends_at=ends_at,
            padding_before=topic.padding_before,
            padding_after=topic.padding_after,
            channel=channel,
            booked_by=booked_by,
            limit_override_reason=reason,
            limit_lifted_by=booked_by if reason else None,
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
def cancel_appointment(
    appointment: Appointment,
    *,
    by_staff: bool = False,
    by=None,
    tell_patron: bool = True,
    reason: str = "",
    staff_reason: str = "",
    other_times: list[str] | None = None,
) -> bool:
    """Cancel a confirmed session and tell those who should know. `by` is the staff member
    who recorded it, if any (a patron who rang the desk: by_staff=False, by=the desk).
    `tell_patron=False` only when the patron is being forgotten. `reason` (in words for the
    patron), `staff_reason` (for the staff member, when other words fit them) and
    `other_times` (open times offered instead) go into the messages.

    Returns False when it was no longer confirmed (then nothing changes and nobody is told).
    """
    _lock_person_of(appointment)
    now = timezone.now()
    marked = {"marked_by": by, "marked_at": now} if by is not None else {}
    updated = Appointment.objects.filter(pk=appointment.pk, status=Status.CONFIRMED).update(
        status=Status.CANCELLED,
        cancelled_at=now,
        updated_at=now,
        sequence=F("sequence") + 1,
        **marked,
    )
    if updated:
        appointment.refresh_from_db()
        schedule_changes.staff_changed([appointment.staff_id])
        messaging.booking_cancelled(
            appointment,
            by_staff=by_staff,
            tell_patron=tell_patron,
            reason=reason,
            staff_reason=staff_reason,
            other_times=other_times or [],
        )
    return bool(updated)


def reschedule_appointment(appointment: Appointment, **move) -> Appointment:
    """Move a confirmed session to another open time, or raise BookingError; the rules are in
    _reschedule."""
    with busy_means_try_again(), transaction.atomic():
        return _reschedule(appointment, **move)


def _reschedule(
    appointment: Appointment,
    *,
    branch: Branch,
    starts_at: datetime,
    staff: StaffProfile | None = None,
    by=None,
    limit_override_reason: str = "",
) -> Appointment:
    """Move a confirmed session to another open time of the same topic and length.

    The same rules as booking, for the patron through their link (`by` None) and for staff
    (`by` the staff member, who may lift a limit by saying why). The session keeps its
    reference (and so its calendar UID and private link); its sequence grows so calendar
    programs replace the old time.
    """
    by_staff = by is not None
    current = Appointment.objects.select_related("patron").get(pk=appointment.pk)
    if current.patron is not None:
        lock_patron(current.patron)
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if locked.status != Status.CONFIRMED or locked.starts_at <= timezone.now():
        raise BookingError("This session can no longer be changed.", "rules")
    if (branch.pk, starts_at) == (locked.branch_id, locked.starts_at) and staff in (
        None,
        locked.staff,
    ):
        raise BookingError("The session already has that time. Choose another time.", "same")
    length = locked.minutes
    ends_at = starts_at + timedelta(minutes=length)
    reason = ""
    if locked.patron_id is not None:
        reason = check_person_rules(
            current.patron,
            branch=branch,
            starts_at=starts_at,
            ends_at=ends_at,
            by_staff=by_staff,
            override_reason=limit_override_reason,
            moving=locked,
        )
    was = {
        "old_starts_at": locked.starts_at,
        "old_branch": locked.branch,
        "old_staff_id": locked.staff_id,
    }
    for candidate in _free_staff(
        locked.topic, branch, starts_at, length, staff=staff, for_desk=by_staff, ignoring=locked
    ):
        locked.staff, locked.branch = candidate, branch
        locked.starts_at, locked.ends_at = starts_at, ends_at
        locked.sequence += 1
        if reason:
            locked.limit_override_reason, locked.limit_lifted_by = reason, by
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError as error:
            if "appointment_no_patron_overlap" in str(error):
                raise BookingError(PATRON_OVERLAP, "patron_overlap") from error
            locked.refresh_from_db()
            continue
        # The new staff member's topics are caught by the save; the old one is free again.
        schedule_changes.staff_changed([was["old_staff_id"]])
        messaging.booking_changed(locked, **was)
        return locked
    raise BookingError(SLOT_TAKEN, "taken")


OUTCOMES = {
    "attended": Status.ATTENDED,
    "no_show": Status.NO_SHOW,
    "cancelled": Status.CANCELLED,
}


@transaction.atomic
def record_outcome(appointment: Appointment, outcome: str, *, by) -> Appointment:
    """The desk marks a session: the patron came, did not come, or cancelled (by phone or in
    person). Raise BookingError when the mark makes no sense."""
    status = OUTCOMES.get(outcome)
    if status is None:
        raise BookingError("Choose attended, did not come, or cancelled by the patron.", "rules")
    if status == Status.CANCELLED:
        # Cancelling takes its own locks, in the same order.
        if not cancel_appointment(appointment, by=by):
            raise BookingError("Only a booked session can be cancelled.", "rules")
        return Appointment.objects.get(pk=appointment.pk)
    _lock_person_of(appointment)
    locked = Appointment.objects.select_for_update().select_related("branch").get(pk=appointment.pk)
    now = timezone.now()
    if locked.status == Status.CANCELLED:
        raise BookingError("This session was cancelled, so it cannot be marked.", "rules")
    if status == Status.NO_SHOW and locked.starts_at > now:
        raise BookingError(
            "A patron can be marked as not coming only once the session has started.", "rules"
        )
    session_day = locked.starts_at.astimezone(locked.branch.tz).date()
    if status == Status.ATTENDED and session_day > now.astimezone(locked.branch.tz).date():
        raise BookingError("A patron can be checked in on the day of their session.", "rules")
    locked.status, locked.marked_by, locked.marked_at = status, by, now
    locked.save(update_fields=["status", "marked_by", "marked_at", "updated_at"])
    return locked
