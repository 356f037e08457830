"""Keeping the privacy promise: forget a patron on request, and purge what is kept too long.

What statistics need (date, branch, topic, staff, skill level, party size, status, channel)
stays; the patron link, contact details and every piece of free text go.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from patrons.models import AccessRecord, Patron, record_access

from . import locks
from .booking import BookingError, busy_means_try_again, cancel_appointment, lock_patron
from .models import (
    Appointment,
    Feedback,
    Message,
    MessageState,
    Status,
    WaitlistEntry,
    WaitlistState,
)
from .reports import keep_waitlist_counts


def _anonymise(appointments) -> int:
    """Keep a session's figures, nothing that points to the person: their language too (in a
    small branch, "the one who booked in Spanish" can be enough)."""
    gone = {
        "patron": None,
        "learning_goal": "",
        "limit_override_reason": "",
        "language": settings.LANGUAGE_CODE,
    }
    return appointments.exclude(**gone).update(**gone)


@transaction.atomic
def forget_patron(patron: Patron, *, by_user=None) -> dict[str, int]:
    """Delete everything that identifies a patron. Upcoming sessions are cancelled (the staff
    member is told); past sessions keep only their statistics."""
    # The same locks as booking: a booking and the forgetting of one patron take turns.
    try:
        with busy_means_try_again():
            lock_patron(patron)
    except BookingError as error:
        if error.code != "patron_gone":
            raise
        return {"cancelled": 0, "sessions": 0, "messages": 0}
    if by_user is not None:
        record_access(by_user, patron, AccessRecord.What.FORGOTTEN, patron.pk)
    cancelled = 0
    upcoming = patron.appointments.filter(status=Status.CONFIRMED, starts_at__gt=timezone.now())
    for appointment in upcoming.select_related("staff__user", "branch", "topic"):
        cancelled += cancel_appointment(appointment, tell_patron=False)
    Feedback.objects.filter(appointment__patron=patron).update(comment="")
    sessions = _anonymise(patron.appointments.all())
    messages, _ = Message.objects.filter(patron=patron).delete()
    keep_waitlist_counts(patron.waitlist_entries.all())
    patron.delete()
    return {"cancelled": cancelled, "sessions": sessions, "messages": messages}


def _delete_unused_patrons(cutoff) -> tuple[int, int]:
    """Delete the records of patrons with no session and no waiting-list entry, untouched since
    `cutoff`. Each under the person's lock, re-checked once it is held: a booking for that person
    either finished first (the record now has a session and stays) or waits and is then told
    the record is gone. Returns (deleted, skipped because busy)."""
    unused = {"appointments__isnull": True, "waitlist_entries__isnull": True}
    deleted = skipped = 0
    candidates = Patron.objects.filter(updated_at__lt=cutoff, **unused).only(
        "email", "phone", "card_number"
    )
    for patron in candidates:
        try:
            with transaction.atomic():
                locks.lock_person(patron)
                count, _ = Patron.objects.filter(
                    pk=patron.pk, updated_at__lt=cutoff, **unused
                ).delete()
                deleted += count
        except locks.LockTimeout:
            skipped += 1  # Busy booking right now: the next run will see.
    return deleted, skipped


def purge(now=None) -> dict[str, int]:
    """Remove patron data past its retention period. Safe to run at once on several servers:
    the first takes the lock and does the work; the others find it taken and return {}."""
    now = now or timezone.now()
    days = timedelta(days=1)
    with transaction.atomic():
        if not locks.try_lock(locks.LockSpace.PURGE):
            return {}
        patron_cutoff = now - settings.PATRON_DATA_RETENTION_DAYS * days
        old_sessions = Appointment.objects.filter(ends_at__lt=patron_cutoff).exclude(
            status=Status.CONFIRMED, starts_at__gt=now
        )
        old_feedback = Feedback.objects.filter(
            appointment__in=old_sessions, comment__gt=""
        ) | Feedback.objects.filter(
            created_at__lt=now - settings.FEEDBACK_COMMENT_RETENTION_DAYS * days, comment__gt=""
        )
        counts = {"feedback comments": old_feedback.update(comment="")}
        counts["sessions"] = _anonymise(old_sessions)
        # Waiting-list entries hold contact details and free text too.
        old_entries = WaitlistEntry.objects.filter(created_at__lt=patron_cutoff).exclude(
            state=WaitlistState.OFFERED
        )
        keep_waitlist_counts(old_entries)
        counts["waiting-list entries"], _ = old_entries.delete()
        counts["messages"], _ = (
            Message.objects.filter(created_at__lt=now - settings.MESSAGE_RETENTION_DAYS * days)
            .exclude(state__in=[MessageState.PENDING, MessageState.TO_CALL])
            .delete()
        )
        counts["access records"], _ = AccessRecord.objects.filter(
            at__lt=now - settings.ACCESS_LOG_RETENTION_DAYS * days
        ).delete()
        # Unfinished bookings keep what the patron typed in their session: drop expired ones.
        counts["expired browser sessions"], _ = Session.objects.filter(expire_date__lt=now).delete()
    # One short transaction per patron, after the rest has committed: a person's lock is held
    # only while their record is checked and deleted.
    counts["patrons"], busy = _delete_unused_patrons(patron_cutoff)
    if busy:
        counts["patrons left for the next run (busy)"] = busy
    return counts
