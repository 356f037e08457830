"""Messages to patrons and staff: written to an outbox, sent by the worker, never by a request.

Each change that a patron or staff member should hear about writes Message rows in the same
transaction (so a rolled-back booking tells nobody) and wakes the worker with a PostgreSQL
NOTIFY, which is delivered only if that transaction commits. A web request never talks to a
mail server or a text provider: a booking answers as fast with a dead mail server as with a
healthy one.

The worker (`manage.py send_notifications --loop`, appointments/worker.py) claims one row at a
time (`SELECT ... FOR UPDATE SKIP LOCKED`, committed at once with a lease), sends it with no
transaction open, then marks it sent. Delivery is at least once: if the worker dies (or the
database goes away) after the mail server accepted a message but before the row is marked,
that one message is sent again once its lease ends (about a minute), so a crash can cause at
most one duplicate, of the one message in flight.
A failed send is retried with growing pauses and, after MESSAGE_MAX_ATTEMPTS tries, shown to
staff as failed (on the desk's call list, for patrons). When its channel works again, a failed
message that never reached it and is still worth reading gets one more try (see "Failed
messages" below).

A patron is reached by the channel they chose. Text messages carry only the date, time, branch
and a link: never what the patron asked for help with. Phone calls are not sent: they wait on
the staff call list until someone marks them done or not reached.

A patron is written to in the language on their record: everything they read (subject, body,
calendar file, the call script the desk reads to them) is put into words under
`translation.override(their language)`, never in the language of the request that happened to
cause it. Staff messages are written in the default language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from library_help.languages import supported
from patrons.models import ContactMethod

from .calendar import appointment_ics
from .formatting import format_time, format_when
from .links import feedback_url, private_url
from .models import (
    Appointment,
    Branch,
    Message,
    MessageChannel,
    MessageKind,
    MessageState,
    StaffProfile,
    Status,
    WaitlistEntry,
    WaitlistState,
)
from .texting import get_text_backend

logger = logging.getLogger(__name__)

CALENDAR_KINDS = {MessageKind.CONFIRMATION, MessageKind.CHANGE, MessageKind.CANCELLATION}
SUBJECTS = {
    MessageKind.CONFIRMATION: _("Your library help session is booked"),
    MessageKind.CHANGE: _("Your library help session has a new time"),
    MessageKind.CANCELLATION: _("Your library help session is cancelled"),
    MessageKind.REMINDER: _("Reminder: your library help session"),
    MessageKind.FOLLOW_UP: _("Did your library help session help?"),
    MessageKind.STAFF_NEW_BOOKING: _("New session booked"),
    MessageKind.STAFF_CANCELLATION: _("Session cancelled"),
    MessageKind.STAFF_MOVED: _("Session moved"),
    MessageKind.WAITLIST_OFFER: _("A time has opened for your library help session"),
    MessageKind.WAITLIST_JOINED: _("You are on the waiting list for a library help session"),
}
# A session moved from one staff member to another: what the one it left reads.
MOVED_AWAY_SUBJECT = _("Session moved to another staff member")
# The worker LISTENs here; a NOTIFY wakes it as soon as new messages are committed.
OUTBOX_CHANNEL = "library_help_outbox"


def message_language(patron) -> str:
    """The language of everything written to this patron: the one on their record."""
    return supported(getattr(patron, "language", None))


def in_language_of(patron):
    """Write for this patron: `with in_language_of(patron): ...` around building a message's
    words (its dates, reasons and topic name as well as its template)."""
    return translation.override(message_language(patron))


def _resolved(context: dict) -> dict:
    """Lazy texts (a closure's reason, open times in words) made into text in the active
    language, so that the templates' filters see plain strings."""

    def resolve(value):
        if isinstance(value, Promise):
            return str(value)
        if isinstance(value, list):
            return [resolve(item) for item in value]
        return value

    return {key: resolve(value) for key, value in context.items()}


def library_context() -> dict:
    return {
        "library_name": settings.LIBRARY_NAME,
        "library_phone": settings.LIBRARY_PHONE,
        "site_url": settings.SITE_URL.rstrip("/"),
    }


def _context(appointment: Appointment) -> dict:
    return {
        **library_context(),
        "appointment": appointment,
        "patron": appointment.patron,
        "when": format_when(appointment.local_starts_at),
        "until": format_time(appointment.local_ends_at),
        "link": private_url(appointment),
    }


def patron_channel(patron) -> str:
    """The message channel for the way this patron asked to be reached."""
    return {
        ContactMethod.EMAIL: MessageChannel.EMAIL,
        ContactMethod.TEXT: MessageChannel.TEXT,
        ContactMethod.CALL: MessageChannel.CALL,
    }[patron.preferred_contact]


def patron_message(
    patron,
    kind: str,
    *,
    key: str,
    context: dict,
    appointment: Appointment | None = None,
    send_after: datetime | None = None,
) -> Message:
    """The one way a message to a patron is written: by their channel, from the template
    messages/<channel>/<kind>.txt, to their address for that channel, in their language.
    Build `context` inside `in_language_of(patron)` too when it holds words (dates, reasons)."""
    channel = patron_channel(patron)
    language = message_language(patron)
    with translation.override(language):
        context = _resolved(context)
        body = render_to_string(f"messages/{channel}/{kind}.txt", context).strip() + "\n"
        subject = str(SUBJECTS[kind]) if channel == MessageChannel.EMAIL else ""
    return Message(
        kind=kind,
        channel=channel,
        appointment=appointment,
        patron=patron,
        to=patron.email if channel == MessageChannel.EMAIL else patron.phone,
        subject=subject,
        body=body,
        language=language,
        state=MessageState.TO_CALL if channel == MessageChannel.CALL else MessageState.PENDING,
        key=key,
        send_after=send_after or timezone.now(),
    )


def _patron_message(
    appointment: Appointment,
    kind: str,
    *,
    key: str,
    send_after: datetime | None = None,
    extra: dict | None = None,
) -> Message | None:
    if appointment.patron is None:
        return None
    with in_language_of(appointment.patron):
        context = {**_context(appointment), **_resolved(extra or {})}
        if kind == MessageKind.FOLLOW_UP:
            context["feedback_link"] = feedback_url(appointment)
        return patron_message(
            appointment.patron,
            kind,
            key=key,
            context=context,
            appointment=appointment,
            send_after=send_after,
        )


def _staff_message(
    appointment: Appointment,
    kind: str,
    *,
    key: str,
    extra: dict | None = None,
    user=None,
    template: str = "",
    subject: Promise | None = None,
    subject_when: datetime | None = None,
) -> Message | None:
    """A message to the session's staff member (or `user`, one it left), from
    messages/staff/<template or kind>.txt; its subject (the kind's, unless given) ends with
    `subject_when`, the session's time unless given."""
    user = user or appointment.staff.user
    if not user.email:
        return None
    # Staff keep no language preference: the default one, whatever the request's.
    with translation.override(settings.LANGUAGE_CODE):
        context = {**_context(appointment), **_resolved(extra or {})}
        body = render_to_string(f"messages/staff/{template or kind}.txt", context).strip() + "\n"
        when = subject_when or appointment.local_starts_at
        subject = f"{subject or SUBJECTS[kind]}: {format_when(when)}"
    return Message(
        kind=kind,
        channel=MessageChannel.EMAIL,
        appointment=appointment,
        staff_user=user,
        to=user.email,
        subject=subject,
        body=body,
        state=MessageState.PENDING,
        key=key,
        send_after=timezone.now(),
    )


def save_new(messages: list[Message | None]) -> None:
    """Insert, skipping any already written (their unique key makes enqueueing idempotent),
    and wake the worker when the transaction commits."""
    messages = [m for m in messages if m is not None]
    if not messages:
        return
    Message.objects.bulk_create(messages, ignore_conflicts=True)
    if any(m.state == MessageState.PENDING for m in messages):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [OUTBOX_CHANNEL])


def _version(appointment: Appointment) -> str:
    return f"{appointment.reference}:{appointment.sequence}"


# A call still to make: not made yet, or tried without reaching the patron.
CALLS_TO_MAKE = [MessageState.TO_CALL, MessageState.NOT_REACHED]
# Written and not yet done with: waiting to be sent, or a call still to make.
UNFINISHED = [MessageState.PENDING, *CALLS_TO_MAKE]


def _skip_pending(appointment: Appointment, kinds) -> None:
    """The session changed: what was written about it before is stale. Those not sent yet are
    marked no longer needed. Those that could not be sent stay failed: they are the desk's
    evidence (on the call list) and monitoring's (/healthz), and `still_worth_sending` never
    lets a message about an old version of the session go out."""
    appointment.messages.filter(kind__in=kinds, state__in=UNFINISHED).update(
        state=MessageState.SKIPPED
    )


def booking_made(appointment: Appointment) -> None:
    messages = [
        _staff_message(
            appointment, MessageKind.STAFF_NEW_BOOKING, key=f"staff-new:{_version(appointment)}"
        )
    ]
    patron = appointment.patron
    told_in_person = appointment.channel != "online"
    # A patron who booked with the desk in person or on the phone and prefers calls was just
    # told the time; a call to confirm would only repeat it.
    if patron and not (told_in_person and patron.preferred_contact == ContactMethod.CALL):
        messages.append(
            _patron_message(
                appointment, MessageKind.CONFIRMATION, key=f"confirm:{_version(appointment)}"
            )
        )
    save_new(messages)


def booking_changed(
    appointment: Appointment, *, old_starts_at: datetime, old_branch: Branch, old_staff_id: int
) -> None:
    """The session moved from `old_starts_at` at `old_branch`, with the staff member
    `old_staff_id`. Its staff member hears of the move, old time and new; one it was given
    to by the move hears of it as a new session, and the one it left hears that it is no
    longer theirs (the patron's details stay with the session's page, as for a
    cancellation)."""
    _skip_pending(appointment, [MessageKind.REMINDER, MessageKind.CONFIRMATION])
    to_staff = []
    if appointment.staff_id == old_staff_id:
        to_staff.append(
            _staff_message(
                appointment,
                MessageKind.STAFF_MOVED,
                key=f"staff-moved:{_version(appointment)}",
                extra={
                    "moved_from": _moved_from(old_starts_at, old_branch, appointment),
                    "old_branch": old_branch if old_branch.pk != appointment.branch_id else None,
                },
            )
        )
    else:
        to_staff.append(
            _staff_message(
                appointment, MessageKind.STAFF_NEW_BOOKING, key=f"staff-new:{_version(appointment)}"
            )
        )
        to_staff.append(_moved_away(appointment, old_starts_at, old_branch, old_staff_id))
    save_new(
        [
            _patron_message(appointment, MessageKind.CHANGE, key=f"change:{_version(appointment)}"),
            *to_staff,
        ]
    )


def _moved_away(
    appointment: Appointment, old_starts_at: datetime, old_branch: Branch, old_staff_id: int
) -> Message | None:
    """For the staff member a session left: its old time and place, and who has it now."""
    old_staff = StaffProfile.objects.select_related("user").get(pk=old_staff_id)
    old_local = old_starts_at.astimezone(old_branch.tz)
    with translation.override(settings.LANGUAGE_CODE):
        old_when = format_when(old_local)
    return _staff_message(
        appointment,
        MessageKind.STAFF_MOVED,
        key=f"staff-moved-away:{_version(appointment)}",
        user=old_staff.user,
        template="staff_moved_away",
        subject=MOVED_AWAY_SUBJECT,
        subject_when=old_local,
        extra={
            "old_when": old_when,
            "old_branch": old_branch,
            "now_with": appointment.staff.public_name,
        },
    )


def _moved_from(old_starts_at: datetime, old_branch: Branch, appointment: Appointment) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        when = format_when(old_starts_at.astimezone(old_branch.tz))
        if old_branch.pk == appointment.branch_id:
            return when
        return gettext("%(when)s at %(branch)s") % {"when": when, "branch": old_branch.name}


def booking_cancelled(
    appointment: Appointment,
    *,
    by_staff: bool = False,
    tell_patron: bool = True,
    reason: str = "",
    staff_reason: str = "",
    other_times: list[str] | None = None,
) -> None:
    """`tell_patron=False` when the patron is being forgotten: a message to them would only
    be deleted with the rest of their record (and must never go out after it). `reason` says
    why the library cancelled, in words for the patron, and `staff_reason` in words for the
    staff member when those differ (a block: "you blocked this time"); `other_times` are open
    times offered instead (all empty for an ordinary cancellation)."""
    _skip_pending(appointment, [MessageKind.REMINDER, MessageKind.CONFIRMATION, MessageKind.CHANGE])
    extra = {
        "reason": reason,
        "other_times": other_times or [],
        "book_link": settings.SITE_URL.rstrip("/")
        + reverse("appointments:need", args=[appointment.topic.slug]),
    }
    messages = [
        _staff_message(
            appointment,
            MessageKind.STAFF_CANCELLATION,
            key=f"staff-cancel:{_version(appointment)}",
            extra={**extra, "reason": staff_reason or reason},
        )
    ]
    patron = appointment.patron
    # A patron who cancelled themselves gets a note for their records (and their calendar),
    # but no phone call; one whose session the library cancelled is told their own way.
    if tell_patron and patron and (by_staff or patron.preferred_contact != ContactMethod.CALL):
        messages.append(
            _patron_message(
                appointment,
                MessageKind.CANCELLATION,
                key=f"cancel:{_version(appointment)}",
                extra=extra,
            )
        )
    save_new(messages)


def retire_stale_calls(now: datetime | None = None) -> int:
    """Calls about a session that has started, or that was cancelled, no longer matter: they
    are marked skipped, so they leave the call list and the purge can delete them. A call to
    tell a patron of a cancellation stays until someone makes it, and so does a follow-up."""
    now = now or timezone.now()
    over = Q(appointment__starts_at__lte=now) | Q(appointment__status=Status.CANCELLED)
    return (
        Message.objects.filter(
            over,
            channel=MessageChannel.CALL,
            state__in=CALLS_TO_MAKE,
            appointment__isnull=False,
        )
        .exclude(kind__in=[MessageKind.CANCELLATION, MessageKind.FOLLOW_UP])
        .update(state=MessageState.SKIPPED)
    )


def enqueue_reminders(now: datetime | None = None) -> int:
    """Write a reminder for each confirmed session starting within REMINDER_HOURS_BEFORE.

    Sessions booked inside that window already had their confirmation, so they get none.
    One reminder per session time: a rescheduled session is reminded of its new time.
    """
    now = now or timezone.now()
    ahead = timedelta(hours=settings.REMINDER_HOURS_BEFORE)
    due = Appointment.objects.filter(
        status=Status.CONFIRMED,
        patron__isnull=False,
        starts_at__gt=now,
        starts_at__lte=now + ahead,
    ).select_related("patron", "branch", "staff", "topic")
    messages = [
        _patron_message(
            appointment,
            MessageKind.REMINDER,
            key=f"reminder:{appointment.reference}:{int(appointment.starts_at.timestamp())}",
        )
        for appointment in due
        if appointment.created_at <= appointment.starts_at - ahead
    ]
    before = Message.objects.filter(kind=MessageKind.REMINDER).count()
    save_new(messages)
    return Message.objects.filter(kind=MessageKind.REMINDER).count() - before


def enqueue_follow_ups(now: datetime | None = None) -> int:
    """Write the follow-up for attended sessions that ended FOLLOW_UP_HOURS_AFTER ago.

    Sessions more than a week past are left alone: a late "did it help?" is just noise.
    """
    now = now or timezone.now()
    after = timedelta(hours=settings.FOLLOW_UP_HOURS_AFTER)
    due = Appointment.objects.filter(
        status=Status.ATTENDED,
        patron__isnull=False,
        feedback__isnull=True,
        ends_at__lte=now - after,
        ends_at__gt=now - after - timedelta(days=7),
    ).select_related("patron", "branch", "staff", "topic")
    messages = [
        _patron_message(a, MessageKind.FOLLOW_UP, key=f"follow-up:{a.reference}") for a in due
    ]
    before = Message.objects.filter(kind=MessageKind.FOLLOW_UP).count()
    save_new(messages)
    return Message.objects.filter(kind=MessageKind.FOLLOW_UP).count() - before


def _deliver(message: Message) -> None:
    if message.channel == MessageChannel.TEXT:
        get_text_backend().send(message.to, message.body)
        return
    email = EmailMessage(subject=message.subject, body=message.body, to=[message.to])
    if message.patron_id and message.kind in CALENDAR_KINDS and message.appointment_id:
        language = message.language or message_language(message.patron)
        ics = appointment_ics(message.appointment, language=language)
        email.attach("session.ics", ics, "text/calendar")
    email.send(fail_silently=False)


def retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=2**attempts)


# After this many failures in a row on one channel, a pass leaves that channel for the next one:
# a mail server that is down would otherwise cost EMAIL_TIMEOUT for every waiting message.
FAILURES_BEFORE_PAUSE = 3


def _claim(working: list[str], now: datetime) -> Message | None:
    """Take the next due message for this sender: count the try and move its time on by a
    lease, so that if this process dies mid-send the message is tried again after the lease.
    Committed at once: no row stays locked while a mail server takes its time."""
    lease = timedelta(seconds=max(settings.EMAIL_TIMEOUT, settings.TEXT_TIMEOUT_SECONDS) + 60)
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(
                "appointment__topic", "appointment__branch", "appointment__staff", "patron"
            )
            .filter(state=MessageState.PENDING, send_after__lte=now, channel__in=working)
            .order_by("send_after", "pk")
            .first()
        )
        if message is not None:
            message.attempts += 1
            Message.objects.filter(pk=message.pk).update(
                attempts=message.attempts, send_after=timezone.now() + lease
            )
        return message


def send_due(
    *,
    now: datetime | None = None,
    max_messages: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, int]:
    """Send waiting email and text messages that are due, one at a time. Called by the
    worker, never by a web request.

    Each message is claimed first (see `_claim`), then sent with no transaction open, then
    recorded, but only if it is still as claimed: a session cancelled meanwhile has skipped
    it, a forgotten patron's message is gone, and neither waited for the mail server.

    The first message a pass sends on a channel puts that channel's recent failures that never
    reached it (the mail server was down and is back) and that are still worth sending back in
    the queue, each once only, and they go out in the same pass. A channel with failures and
    nothing else to send is tried with one of them every PROBE_EVERY, so that a return is
    noticed on a quiet evening too."""
    now = now or timezone.now()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    channels = {MessageChannel.EMAIL: 0, MessageChannel.TEXT: 0}  # failures in a row
    probed: set[str] = set()
    back: set[str] = set()
    while max_messages is None or sum(counts.values()) < max_messages:
        working = [c for c, failures in channels.items() if failures < FAILURES_BEFORE_PAUSE]
        if not working or should_stop():
            break
        message = _claim(working, now)
        if message is None:
            if not _probe([c for c in working if c not in probed], now, probed):
                break
            continue
        try:
            _deliver(message)
        except Exception as error:
            channels[message.channel] += 1
            outcome = {"last_error": f"{type(error).__name__}: {error}"[:500]}
            if message.attempts >= settings.MESSAGE_MAX_ATTEMPTS:
                # A failed message's send_after says when it was last tried.
                outcome |= {"state": MessageState.FAILED, "send_after": now}
                counts["failed"] += 1
                logger.warning(
                    "Message %s failed for good after %s tries", message.pk, message.attempts
                )
            else:
                outcome["send_after"] = now + retry_delay(message.attempts)
                counts["retry"] += 1
        else:
            channels[message.channel] = 0
            outcome = {"state": MessageState.SENT, "sent_at": timezone.now()}
            counts["sent"] += 1
        Message.objects.filter(
            pk=message.pk, state=MessageState.PENDING, attempts=message.attempts
        ).update(**outcome)
        if outcome.get("state") == MessageState.SENT and message.channel not in back:
            back.add(message.channel)
            queued = send_again_after_outage(message.channel, now)
            if queued:
                logger.info(
                    "%s sends again: %s failed messages queued again.", message.channel, queued
                )
    return counts


# --- Failed messages ---------------------------------------------------------------------------
# A failed message is sent again, when its channel works again or a manager asks, only while it
# is still worth reading: written in the last RESEND_WITHIN, about a session that has not begun
# (and is still as the message tells it), to the patron's address of today by the way they
# still want to hear from us. Anything else stays failed, for the desk to handle.
RESEND_WITHIN = timedelta(days=1)
# A channel whose failures wait with nothing else to send is tried again this often.
PROBE_EVERY = timedelta(minutes=5)
# Failures that are the address's fault, not the channel's: the mail server answered.
ADDRESS_REFUSED = ("SMTPRecipientsRefused",)
# Errors that mean the message never reached the mail server: it was down or unreachable, and
# sending it again once mail works is safe and useful. Anything else (the server refused the
# message, its sender or its address, or an error of our own) would only fail again.
EMAIL_NEVER_ARRIVED = (
    "ConnectionRefusedError",
    "ConnectionResetError",
    "gaierror",
    "SMTPConnectError",
    "SMTPServerDisconnected",
    "TimeoutError",
    "timeout",
)
# A text's error is the provider library's, in words: only those saying that no connection was
# made. Never a timeout: the provider may have taken the text before the answer was lost, and
# sending it again would text the patron twice.
TEXT_NEVER_ARRIVED = (
    "Connection refused",
    "Connection reset",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "NameResolutionError",
    "Name or service not known",
    "Temporary failure in name resolution",
    "gaierror",
)
TEXT_MAYBE_ARRIVED = ("timed out", "Timeout", "timeout")
# Kinds about no session (or none that can change under them): worth sending while recent.
_NO_SESSION_NEEDED = {
    MessageKind.WAITLIST_JOINED,
    MessageKind.WAITLIST_OFFER,
    MessageKind.CALENDAR_FEED,
}


def address_refused(message: Message) -> bool:
    return message.last_error.startswith(ADDRESS_REFUSED)


def never_arrived(message: Message) -> bool:
    """Did this message fail because its channel could not be reached at all (so that it
    surely never arrived)?"""
    error = message.last_error
    if message.channel == MessageChannel.EMAIL:
        return error.startswith(EMAIL_NEVER_ARRIVED)
    if message.channel == MessageChannel.TEXT:
        return any(words in error for words in TEXT_NEVER_ARRIVED) and not any(
            words in error for words in TEXT_MAYBE_ARRIVED
        )
    return False


def _never_arrived_q(channel: str) -> Q:
    """`never_arrived` as a database filter, for one channel."""
    found = Q(pk__in=[])
    if channel == MessageChannel.EMAIL:
        for error in EMAIL_NEVER_ARRIVED:
            found |= Q(last_error__startswith=error)
        return found
    for words in TEXT_NEVER_ARRIVED:
        found |= Q(last_error__contains=words)
    for words in TEXT_MAYBE_ARRIVED:
        found &= ~Q(last_error__contains=words)
    return found


def still_to_the_patron(message: Message) -> bool:
    """Is a message to a patron still addressed as they want to hear from us: by the same way,
    at the same address? The desk may have corrected a mistyped email, or the patron asked for a
    call instead; the message then stays failed, for the desk. Staff messages: always."""
    patron = message.patron
    if patron is None:
        # A message to staff; one to a patron since forgotten goes nowhere.
        return message.staff_user_id is not None
    current = patron.email if message.channel == MessageChannel.EMAIL else patron.phone
    return patron_channel(patron) == message.channel and message.to == current


def still_worth_sending(
    message: Message, now: datetime | None = None, *, offer_keys: list[str] | None = None
) -> bool:
    """May this failed message go out now? Not when it is older than RESEND_WITHIN, nor to a
    patron's address or by a way no longer theirs, nor about a session that has begun, been
    cancelled (a cancellation notice: that has passed) or changed since it was written (the
    rule that skips stale messages on a change), nor a waiting-list offer no longer held
    (`offer_keys`: the live offers' message keys, when known), nor "you are on the waiting
    list" once the patron has booked or left it."""
    now = now or timezone.now()
    if message.state != MessageState.FAILED or message.created_at < now - RESEND_WITHIN:
        return False
    if not still_to_the_patron(message):
        return False
    if message.kind == MessageKind.WAITLIST_OFFER:
        if offer_keys is None:
            from .waitlist import live_offer_keys

            offer_keys = live_offer_keys()
        return message.key in offer_keys
    if message.kind == MessageKind.WAITLIST_JOINED:
        entry = message.key.removeprefix("waitlist-joined:")
        return entry.isdigit() and (
            WaitlistEntry.objects.filter(
                pk=int(entry), state__in=[WaitlistState.WAITING, WaitlistState.OFFERED]
            ).exists()
        )
    if message.kind in _NO_SESSION_NEEDED:
        return True
    session = message.appointment
    if session is None:
        return False
    if message.kind == MessageKind.FOLLOW_UP:
        return session.status == Status.ATTENDED and not hasattr(session, "feedback")
    if session.starts_at <= now:
        return False
    if message.kind == MessageKind.REMINDER:
        current = f"{session.reference}:{int(session.starts_at.timestamp())}"
    else:
        current = _version(session)
    cancelled = message.kind in (MessageKind.CANCELLATION, MessageKind.STAFF_CANCELLATION)
    wanted = Status.CANCELLED if cancelled else Status.CONFIRMED
    return session.status == wanted and message.key.endswith(f":{current}")


def will_go_out_by_itself(message: Message, now: datetime | None = None, **known) -> bool:
    """Will the worker send this failed message by itself when its channel works again? Only
    one that never reached the channel, has not had its one more try, and is worth sending."""
    return (
        never_arrived(message)
        and message.attempts <= settings.MESSAGE_MAX_ATTEMPTS
        and still_worth_sending(message, now, **known)
    )


def _queue_again(messages, now: datetime, *, attempts: int) -> tuple[list[Message], list[Message]]:
    """Put these failed messages, those still worth sending, back in the queue with `attempts`
    tries counted; returns (queued, left failed). Only writes rows: the worker sends them
    (woken when the transaction commits)."""
    queued, left = [], []
    for message in messages:
        if still_worth_sending(message, now) and Message.objects.filter(
            pk=message.pk, state=MessageState.FAILED, attempts=message.attempts
        ).update(state=MessageState.PENDING, attempts=attempts, send_after=now):
            queued.append(message)
        else:
            left.append(message)
    if queued:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [OUTBOX_CHANNEL])
    return queued, left


def send_again(messages, now: datetime | None = None) -> tuple[list[Message], list[Message]]:
    """A manager asks: these failed messages, those still worth sending, go back in the queue
    with their tries counted afresh (a full set). Returns (queued, left failed)."""
    return _queue_again(messages, now or timezone.now(), attempts=0)


def _failed_to_send_again(channel: str, now: datetime):
    """Recent failures on this channel that never reached it and nobody has handled another
    way, and that have not had their one more try since, oldest first."""
    return (
        Message.objects.filter(
            _never_arrived_q(channel),
            state=MessageState.FAILED,
            channel=channel,
            handled_at__isnull=True,
            created_at__gte=now - RESEND_WITHIN,
            attempts__lte=settings.MESSAGE_MAX_ATTEMPTS,
        )
        .select_related("appointment__feedback", "patron")
        .order_by("created_at", "pk")
    )


def send_again_after_outage(channel: str, now: datetime | None = None) -> int:
    """A message just went out on this channel: its recent failures that never reached it go
    out again, each with one more try, once.

    Their tries are not counted afresh but set one past the limit's last: the worker counts the
    one more try (MESSAGE_MAX_ATTEMPTS + 1), a message that fails it is failed for good again,
    and one with more tries than the limit is never queued again by itself. So a message that
    fails whatever we do costs one try per outage at most, not a full set after every send.
    A manager's "Send again" still counts them afresh."""
    now = now or timezone.now()
    failed = _failed_to_send_again(channel, now)
    queued, _left = _queue_again(failed, now, attempts=settings.MESSAGE_MAX_ATTEMPTS)
    return len(queued)


def _probe(channels: list[str], now: datetime, probed: set[str]) -> bool:
    """Of these channels, with nothing due, the first whose last try was over PROBE_EVERY ago
    and which has failures that never reached it: one of them is queued again, with one try
    left, to learn whether the channel works again. False when none was.

    A probe that fails leaves the message's tries as they were (the limit): the channel was
    still down, so that try does not use up its one more try after the outage."""
    for channel in channels:
        probed.add(channel)
        tried_lately = Message.objects.filter(channel=channel).filter(
            Q(state=MessageState.PENDING)
            | Q(state=MessageState.FAILED, send_after__gt=now - PROBE_EVERY)
        )
        if tried_lately.exists():
            continue
        for message in _failed_to_send_again(channel, now):
            queued, _left = _queue_again([message], now, attempts=settings.MESSAGE_MAX_ATTEMPTS - 1)
            if queued:
                return True
    return False


def failure_reason(message: Message) -> str:
    """Why a message could not be sent, in plain words for the desk (the technical reason stays
    in the admin)."""
    error = message.last_error
    if address_refused(message):
        return gettext("The address was refused.")
    if error.startswith("SMTPAuthenticationError"):
        return gettext("The mail server refused the library's sign-in.")
    if error.startswith(("SMTPSenderRefused", "SMTPDataError")):
        return gettext("The mail server refused the message.")
    if message.channel == MessageChannel.TEXT:
        return gettext("The text message service could not be reached or refused it.")
    # Those that never reached it, and any other network failure.
    if error.startswith((*EMAIL_NEVER_ARRIVED, "OSError")):
        return gettext("The mail server could not be reached.")
    return gettext("The message could not be sent.")
