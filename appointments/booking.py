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
from django.contrib.postgres.expressions import ArraySubquery
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Greatest
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from library_help.languages import active_language, supported
from patrons.models import Patron

from . import locks, messaging, schedule_changes
from .models import (
    Appointment,
    Availability,
    Block,
    Branch,
    BusyTime,
    CancelledBy,
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


SLOT_TAKEN = _("That time was just taken. Please choose another time.")
PATRON_OVERLAP = _("You already have a session at that time. Please choose another time.")


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
    """Open times for a topic between two dates. Two queries, whatever the size of the library:
    the weekly hours of those who could help (with their branches' closures), then everything
    that keeps them busy.

    `ignoring` leaves one booking out of the busy times: the one being moved to a new time.
    `holder` is the waiting-list entry whose held time should count as open (for them).
    """
    slots, _ = _open_slots_and_staff(
        topic,
        length=length,
        first_day=first_day,
        last_day=last_day,
        branch=branch,
        staff=staff,
        window=window,
        ignoring=ignoring,
        holder=holder,
    )
    return slots


def _open_slots_and_staff(
    topic: Topic,
    *,
    length: int,
    first_day: date,
    last_day: date,
    branch: Branch | None,
    staff: StaffProfile | None,
    window: BookingWindow | None,
    ignoring: Appointment | None,
    holder: WaitlistEntry | None,
    lock_staff: bool = False,
) -> tuple[list[Slot], dict[int, StaffProfile]]:
    """find_open_slots, and the staff members with hours here by id. `lock_staff` locks each
    of them (in id order, until the transaction ends) before their busy times are read:
    booking does, so its re-check sees every committed booking and block."""
    window = window or booking_window(topic)
    candidates = bookable_staff(topic, branch)
    if staff is not None:
        candidates = candidates.filter(pk=staff.pk)
    hours_qs = Availability.objects.filter(staff__in=candidates).select_related("branch")
    if branch is not None:
        hours_qs = hours_qs.filter(branch=branch)
    if lock_staff:
        hours_qs = hours_qs.select_related("staff__user").select_for_update(of=("staff",))
    closures = Closure.objects.filter(
        branch=OuterRef("branch"), first_day__lte=last_day, last_day__gte=first_day
    ).order_by("first_day")
    rows = list(
        hours_qs.annotate(
            closed_from=ArraySubquery(closures.values("first_day")),
            closed_until=ArraySubquery(closures.values("last_day")),
        ).order_by("staff_id", "pk")
    )
    if not rows:
        return [], {}
    hours = [WeeklyHours.of(row) for row in rows]
    zones = {row.branch_id: row.branch.tz for row in rows}
    closed = {
        (row.branch_id, first, last): ClosedDays(row.branch_id, first, last)
        for row in rows
        for first, last in zip(row.closed_from, row.closed_until, strict=True)
    }
    staff_by_id = {row.staff_id: row.staff for row in rows} if lock_staff else {}
    staff_ids = sorted({row.staff_id for row in rows})

    # A generous UTC span around the local dates: zones are at most 14 hours from UTC.
    span_start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    span_end = datetime.combine(last_day, datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
    blocks = Block.objects.filter(
        staff_id__in=staff_ids, starts_at__lt=span_end, ends_at__gt=span_start
    ).values_list("staff_id", "starts_at", "ends_at")
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
    # Busy in the staff member's own Outlook or Google calendar (calendar_feeds): as a block.
    from_feeds = BusyTime.objects.filter(
        staff_id__in=staff_ids, starts_at__lt=span_end, ends_at__gt=span_start
    )
    busy = [
        Busy(*row)
        for row in blocks.order_by().union(
            held.order_by().values_list("offer_staff_id", "offer_starts_at", "offer_ends_at"),
            booked.order_by().values_list("staff_id", "occupied_from", "occupied_until"),
            from_feeds.order_by().values_list("staff_id", "starts_at", "ends_at"),
            all=True,
        )
    ]
    slots = open_slots(
        hours=hours,
        busy=busy,
        closures=list(closed.values()),
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
    return slots, staff_by_id


def person_sessions(patron: Patron):
    """Every session of the person behind this record, whichever of their records it is on."""
    return Appointment.objects.filter(patron__in=patron.same_person())


def upcoming_count(patron: Patron, now: datetime | None = None, *, ignoring=None) -> int:
    sessions = person_sessions(patron).upcoming(now)
    if ignoring is not None:
        sessions = sessions.exclude(pk=ignoring.pk)
    return sessions.count()


def _paused_until(missed: int, last_missed: datetime | None, now: datetime) -> datetime | None:
    """The end of the pause after missed sessions, or None if online booking is not paused."""
    if missed < settings.NO_SHOW_LIMIT or last_missed is None:
        return None
    until = last_missed + timedelta(days=settings.NO_SHOW_PAUSE_DAYS)
    return until if until > now else None


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
    until = _paused_until(len(missed), missed[0] if missed else None, now)
    if until is None:
        return ""
    return ngettext(
        "%(count)s missed session since %(since)s; online booking is paused until %(until)s.",
        "%(count)s missed sessions since %(since)s; online booking is paused until %(until)s.",
        len(missed),
    ) % {
        "count": len(missed),
        "since": formats.date_format(timezone.localtime(since), "j F Y"),
        "until": formats.date_format(timezone.localtime(until), "j F Y"),
    }


# One message for every online refusal about the person (a limit or a pause): whoever types an
# email or phone number online learns no count, no day and nothing about missed sessions.
ONLINE_REFUSAL = _(
    "We cannot book another session online for these contact details just now: it would be more "
    "than we can book online. Please call us at {phone} or visit the desk, and we will gladly "
    "find you a time."
)


def _person_counts(
    patron: Patron,
    *,
    branch: Branch,
    starts_at: datetime,
    ends_at: datetime,
    ignoring: Appointment | None = None,
) -> dict:
    """Everything the rules about a person count, in one query: upcoming sessions, sessions
    that local day and week, sessions overlapping this time, and missed sessions since the
    pause period began (or the desk last lifted a pause)."""
    now = timezone.now()
    local = starts_at.astimezone(branch.tz)
    day_start = datetime.combine(local.date(), datetime.min.time(), tzinfo=branch.tz)
    week_start = day_start - timedelta(days=local.weekday())
    sessions = person_sessions(patron)
    if ignoring is not None:
        sessions = sessions.exclude(pk=ignoring.pk)
    active = ~Q(status=Status.CANCELLED)
    lifted = (
        patron.same_person()
        .exclude(pause_lifted_at=None)
        .order_by("-pause_lifted_at")
        .values("pause_lifted_at")[:1]
    )
    # GREATEST skips a NULL: with no pause ever lifted, the period alone counts.
    missed = Q(
        status=Status.NO_SHOW,
        starts_at__gte=Greatest(
            Value(now - timedelta(days=settings.NO_SHOW_PERIOD_DAYS)), Subquery(lifted)
        ),
    )
    return sessions.aggregate(
        upcoming=Count("pk", filter=Q(status=Status.CONFIRMED, starts_at__gt=now)),
        on_day=Count(
            "pk",
            filter=active
            & Q(starts_at__gte=day_start, starts_at__lt=day_start + timedelta(days=1)),
        ),
        in_week=Count(
            "pk",
            filter=active
            & Q(starts_at__gte=week_start, starts_at__lt=week_start + timedelta(days=7)),
        ),
        overlapping=Count("pk", filter=active & Q(starts_at__lt=ends_at, ends_at__gt=starts_at)),
        kept=Count("pk", filter=active),
        missed=Count("pk", filter=missed),
        last_missed=Max("starts_at", filter=missed),
    )


def _caps(counts: dict) -> list[str]:
    reasons = []
    if counts["upcoming"] >= settings.BOOKING_MAX_UPCOMING:
        reasons.append(
            gettext("%(count)s upcoming sessions (the limit is %(limit)s)")
            % {"count": counts["upcoming"], "limit": settings.BOOKING_MAX_UPCOMING}
        )
    if counts["on_day"] >= settings.BOOKING_MAX_PER_DAY:
        reasons.append(
            gettext("%(count)s already that day (the limit is %(limit)s a day)")
            % {"count": counts["on_day"], "limit": settings.BOOKING_MAX_PER_DAY}
        )
    if counts["in_week"] >= settings.BOOKING_MAX_PER_WEEK:
        reasons.append(
            gettext("%(count)s already that week (the limit is %(limit)s a week)")
            % {"count": counts["in_week"], "limit": settings.BOOKING_MAX_PER_WEEK}
        )
    return reasons


def _free_staff(
    topic, branch, starts_at, length, *, staff=None, for_desk=False, ignoring=None, holder=None
) -> list[StaffProfile]:
    """Those who could take this time and for whom it is open, in id order. Each of them is
    locked before their busy times are read, so the re-check sees every committed booking and
    block."""
    day = starts_at.astimezone(branch.tz).date()
    free, people = _open_slots_and_staff(
        topic,
        length=length,
        first_day=day,
        last_day=day,
        branch=branch,
        staff=staff,
        window=booking_window(topic, for_desk=for_desk),
        lock_staff=True,
        ignoring=ignoring,
        holder=holder,
    )
    return [
        people[pk] for pk in sorted({slot.staff_id for slot in free if slot.start == starts_at})
    ]


PATRON_GONE = _(
    "This patron's record is no longer held: it was deleted under the privacy rules. "
    "Please add them again."
)
BUSY = _("Another change to this patron's sessions was being saved. Please try again.")


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
) -> tuple[str, bool]:
    """May this person have a session at this time? Raise BookingError if not.

    The rules about the person, whichever way the session is made or moved: no two sessions of
    one person at once, the upcoming, daily and weekly limits, and (for new online bookings) the
    pause after missed sessions. Staff may go past a limit by saying why; the reason to keep is
    returned ("" when no limit was lifted), with whether the person has any other session not
    cancelled (for the reports' first bookings). Call it with the person locked.
    """
    counts = _person_counts(
        patron, branch=branch, starts_at=starts_at, ends_at=ends_at, ignoring=moving
    )
    paused = _paused_until(counts["missed"], counts["last_missed"], timezone.now())
    if not by_staff and moving is None and paused:
        raise BookingError(ONLINE_REFUSAL.format(phone=settings.LIBRARY_PHONE), "paused")
    reached = _caps(counts)
    if reached and not by_staff:
        raise BookingError(ONLINE_REFUSAL.format(phone=settings.LIBRARY_PHONE), "limit")
    if reached and not override_reason.strip():
        raise BookingError(
            gettext("%(name)s has %(reached)s. To go ahead anyway, say why.")
            % {"name": patron.name, "reached": "; ".join(reached)},
            "limit",
        )
    if counts["overlapping"]:
        raise BookingError(PATRON_OVERLAP, "patron_overlap")
    return (override_reason.strip() if reached else ""), counts["kept"] > 0


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
    language: str | None = None,
) -> Appointment:
    """Online (no `booked_by`) the topic's notice applies and limits cannot be lifted; staff
    booking for a patron name themselves in `booked_by` and may lift a limit by saying why.
    `language` is the one the patron's messages go in: online, the language of the page they
    booked on; at the desk, the one staff chose (None leaves the patron's as it was).
    With no staff member named, the first free one who helps with the topic at that branch gets
    it. Safe under concurrency: the person is locked (so their limits hold), each candidate
    staff row is locked in id order (so the re-check sees every committed booking and block),
    and the exclusion constraints refuse any overlap that slips past.
    """
    by_staff = booked_by is not None
    if channel != Channel.ONLINE and not by_staff:
        raise ValueError("A booking at the desk or by phone names the staff member making it.")
    if not topic.is_active:
        raise BookingError(_("This topic is not offered at the moment."), "rules")
    if length not in topic.session_lengths:
        raise BookingError(_("Please choose one of the session lengths offered."), "rules")
    ends_at = starts_at + timedelta(minutes=length)
    if language is None and not by_staff:
        language = active_language()

    if patron.pk is None:
        # A record made for this booking (online): refused, it is rolled back with the rest.
        # Nobody else can see it yet, so the person's lock is all it needs.
        if language is not None:
            patron.language = supported(language)
        patron.save()
        locks.lock_person(patron)
    else:
        patron = lock_patron(patron)
        if language is not None and patron.language != supported(language):
            patron.language = supported(language)
            Patron.objects.filter(pk=patron.pk).update(language=patron.language)
    reason, booked_before = check_person_rules(
        patron,
        branch=branch,
        starts_at=starts_at,
        ends_at=ends_at,
        by_staff=by_staff,
        override_reason=limit_override_reason,
    )
    free = _free_staff(
        topic, branch, starts_at, length, staff=staff, for_desk=by_staff, holder=holder
    )
    if not free:
        raise BookingError(SLOT_TAKEN, "taken")
    appointment = Appointment(
        patron=patron,
        staff=free[0],
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
        language=patron.language,
        booked_by=booked_by,
        limit_override_reason=reason,
        limit_lifted_by=booked_by if reason else None,
        first_booking=not booked_before,  # for the reports, which keep no patron
        contact_method=patron.preferred_contact,
    )
    try:
        appointment.save()
    except IntegrityError as error:
        # Only a write that skipped the locks gets here; no savepoint to go on after it, so
        # the refusal rolls the whole booking back.
        if "appointment_no_patron_overlap" in str(error):
            raise BookingError(PATRON_OVERLAP, "patron_overlap") from error
        raise BookingError(SLOT_TAKEN, "taken") from error
    messaging.booking_made(appointment)
    return appointment


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
    cancelled_by: str = "",
) -> bool:
    """Cancel a confirmed session and tell those who should know. `by` is the staff member
    who recorded it, if any (a patron who rang the desk: by_staff=False, by=the desk).
    `tell_patron=False` only when the patron is being forgotten. `reason` (in words for the
    patron), `staff_reason` (for the staff member, when other words fit them) and
    `other_times` (open times offered instead) go into the messages. `cancelled_by` says who
    called it off, for the reports (by default the library when `by_staff`, else the patron).

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
        cancelled_by=cancelled_by or (CancelledBy.LIBRARY if by_staff else CancelledBy.PATRON),
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
        raise BookingError(_("This session can no longer be changed."), "rules")
    if (branch.pk, starts_at) == (locked.branch_id, locked.starts_at) and staff in (
        None,
        locked.staff,
    ):
        raise BookingError(_("The session already has that time. Choose another time."), "same")
    length = locked.minutes
    ends_at = starts_at + timedelta(minutes=length)
    reason = ""
    if locked.patron_id is not None:
        reason, _booked_before = check_person_rules(
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
        raise BookingError(_("Choose attended, did not come, or cancelled by the patron."), "rules")
    if status == Status.CANCELLED:
        # Cancelling takes its own locks, in the same order.
        if not cancel_appointment(appointment, by=by):
            raise BookingError(_("Only a booked session can be cancelled."), "rules")
        return Appointment.objects.get(pk=appointment.pk)
    _lock_person_of(appointment)
    locked = Appointment.objects.select_for_update().select_related("branch").get(pk=appointment.pk)
    now = timezone.now()
    if locked.status == Status.CANCELLED:
        raise BookingError(_("This session was cancelled, so it cannot be marked."), "rules")
    if status == Status.NO_SHOW and locked.starts_at > now:
        raise BookingError(
            _("A patron can be marked as not coming only once the session has started."), "rules"
        )
    session_day = locked.starts_at.astimezone(locked.branch.tz).date()
    if status == Status.ATTENDED and session_day > now.astimezone(locked.branch.tz).date():
        raise BookingError(_("A patron can be checked in on the day of their session."), "rules")
    locked.status, locked.marked_by, locked.marked_at = status, by, now
    locked.save(update_fields=["status", "marked_by", "marked_at", "updated_at"])
    return locked
