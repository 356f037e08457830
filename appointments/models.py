"""Branches, topics, staff schedules and appointments.

Times are stored in UTC. Weekly availability is kept in the branch's local wall-clock time, so
"Tuesdays 10:00 to 12:00" stays 10:00 to 12:00 on both sides of a daylight-saving change.
"""

import uuid
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Func, Prefetch, Q
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from library_help.languages import language_choices, other_language_choices, supported
from patrons.models import ContactMethod
from patrons.phones import format_phone

from .formatting import format_lengths


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(
            _('"%(value)s" is not a time zone. Use a name such as America/Chicago.'),
            params={"value": value},
        ) from error


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Branch(models.Model):
    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(max_length=250)
    phone = models.CharField(max_length=30, blank=True)
    time_zone = models.CharField(
        max_length=60,
        validators=[validate_time_zone],
        help_text=_("For example America/Chicago. Open times are shown in this zone."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("branch")
        verbose_name_plural = _("branches")

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


def default_session_lengths() -> list[int]:
    return [60]


class TopicQuerySet(models.QuerySet):
    def with_translations(self, language: str | None = None) -> "TopicQuerySet":
        """Topics with their texts in `language` (the active language by default) fetched in
        one extra query, for `translated_name` and `translated_description`; no query at all
        when that language is the default."""
        return self.prefetch_related(*topic_texts(language=language))


def topic_texts(through: str = "", *, language: str | None = None) -> list[Prefetch]:
    """The prefetch of topics' texts in `language` (the active one by default), for any
    queryset that reaches topics: `through="topic"` from sessions. Empty for the default
    language, whose texts are the topic's own."""
    language = supported(language or translation.get_language())
    if language == settings.LANGUAGE_CODE:
        return []
    return [
        Prefetch(
            f"{through}__translations" if through else "translations",
            queryset=TopicTranslation.objects.filter(language=language),
            to_attr=_translations_attr(language),
        )
    ]


def _translations_attr(language: str) -> str:
    return "translations_" + language.replace("-", "_")


class Topic(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(
        _("description"),
        help_text=_("In plain words, what a patron can get help with."),
        max_length=1000,
    )
    session_lengths = ArrayField(
        models.PositiveSmallIntegerField(),
        default=default_session_lengths,
        help_text=_("Minutes, separated by commas, for example 30,60."),
    )
    padding_before = models.PositiveSmallIntegerField(
        _("minutes kept free before"), default=0, help_text=_("Preparation time, 0 to 60 minutes.")
    )
    padding_after = models.PositiveSmallIntegerField(
        _("minutes kept free after"), default=0, help_text=_("Wrap-up time, 0 to 60 minutes.")
    )
    min_notice_hours = models.PositiveSmallIntegerField(
        _("minimum notice (hours)"),
        null=True,
        blank=True,
        help_text=_("How long before a session patrons must book. Empty: the library's default."),
    )
    booking_window_days = models.PositiveSmallIntegerField(
        _("book up to (days ahead)"),
        null=True,
        blank=True,
        help_text=_("How far ahead patrons may book. Empty: the library's default."),
    )
    cancel_cutoff_hours = models.PositiveSmallIntegerField(
        _("online cancellation closes (hours before)"),
        null=True,
        blank=True,
        help_text=_("Later than this, patrons must call to cancel. Empty: the library's default."),
    )
    is_active = models.BooleanField(_("offered to patrons"), default=True)

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        constraints = [
            models.CheckConstraint(
                condition=Q(session_lengths__len__gt=0), name="topic_has_a_session_length"
            ),
            models.CheckConstraint(
                condition=Q(padding_before__lte=60, padding_after__lte=60),
                name="topic_padding_at_most_an_hour",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        lengths = self.session_lengths or []
        if not lengths:
            raise ValidationError({"session_lengths": _("Give at least one session length.")})
        if any(not 15 <= length <= 240 for length in lengths):
            raise ValidationError(
                {"session_lengths": _("Session lengths must be between 15 and 240 minutes.")}
            )
        self.session_lengths = sorted(set(lengths))

    @property
    def notice_hours(self) -> int:
        if self.min_notice_hours is None:
            return settings.BOOKING_MIN_NOTICE_HOURS
        return self.min_notice_hours

    @property
    def window_days(self) -> int:
        if self.booking_window_days is None:
            return settings.BOOKING_WINDOW_DAYS
        return self.booking_window_days

    @property
    def cutoff_hours(self) -> int:
        if self.cancel_cutoff_hours is None:
            return settings.CANCEL_CUTOFF_HOURS
        return self.cancel_cutoff_hours

    @property
    def lengths_display(self) -> str:
        return format_lengths(self.session_lengths)

    def translation(self, language: str | None = None) -> "TopicTranslation | None":
        """The staff's texts for this topic in `language` (the active language by default), if
        any: from `Topic.objects.with_translations()` when prefetched, else one query, kept."""
        language = supported(language or translation.get_language())
        if language == settings.LANGUAGE_CODE:
            return None
        attr = _translations_attr(language)
        if not hasattr(self, attr):
            setattr(self, attr, list(self.translations.filter(language=language)))
        return next(iter(getattr(self, attr)), None)

    def in_language(self, language: str | None = None) -> tuple[str, str]:
        """Name and description in `language`, each falling back to the default language's
        text when it has not been given (never an empty string)."""
        given = self.translation(language)
        if given is None:
            return self.name, self.description
        return given.name.strip() or self.name, given.description.strip() or self.description

    def languages_shown(self, language: str | None = None) -> tuple[str, str]:
        """The language each of `in_language`'s texts is actually in: the default language's
        for a text that fell back, so a page can mark it with `lang`."""
        language = supported(language or translation.get_language())
        given = self.translation(language)
        default = settings.LANGUAGE_CODE
        if given is None:
            return default, default
        return (
            language if given.name.strip() else default,
            language if given.description.strip() else default,
        )

    @property
    def translated_name(self) -> str:
        """The name in the active language (for templates: `{{ topic.translated_name }}`)."""
        return self.in_language()[0]

    @property
    def translated_description(self) -> str:
        """The description in the active language, or the default language's."""
        return self.in_language()[1]

    @property
    def translated_name_language(self) -> str:
        """The language of `translated_name` (for `{{ ...|lang_attr }}`)."""
        return self.languages_shown()[0]

    @property
    def translated_description_language(self) -> str:
        return self.languages_shown()[1]


class TopicTranslation(models.Model):
    """A topic's name and description in a language other than the default, given by staff.
    Either may be left empty: the default language's text is shown instead."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(_("language"), max_length=10, choices=other_language_choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    description = models.TextField(_("description"), max_length=1000, blank=True)

    class Meta:
        ordering = ["language"]
        verbose_name = _("topic in another language")
        verbose_name_plural = _("topic in other languages")
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "language"],
                name="topic_translation_one_per_language",
                violation_error_message=_("This topic already has texts in that language."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} ({self.language})"


class StaffProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    public_name = models.CharField(
        max_length=60, help_text=_('How patrons see this person, for example "Ana P.".')
    )
    introduction = models.CharField(
        max_length=300, blank=True, help_text=_("A sentence or two shown to patrons.")
    )
    branches = models.ManyToManyField(Branch, related_name="staff")
    topics = models.ManyToManyField(Topic, related_name="staff", blank=True)
    is_bookable = models.BooleanField(_("takes bookings"), default=True)
    # The secret in this person's calendar feed address; change it to revoke old subscriptions.
    calendar_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        ordering = ["public_name"]
        verbose_name = _("staff member")

    def __str__(self) -> str:
        return self.public_name

    def replace_calendar_key(self) -> None:
        """A new secret for the feed address: the old address answers "not found" from now on."""
        self.calendar_key = uuid.uuid4()
        self.save(update_fields=["calendar_key"])


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Availability(models.Model):
    """A weekly stretch of time in which a staff member takes sessions at a branch."""

    staff = models.ForeignKey(StaffProfile, on_delete=models.CASCADE, related_name="availability")
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="availability")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField(help_text=_("Branch local time."))
    end_time = models.TimeField(help_text=_("Branch local time."))
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["staff", "weekday", "start_time"]
        verbose_name = _("weekly availability")
        verbose_name_plural = _("weekly availability")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")),
                name="availability_ends_after_start",
                violation_error_message=_("The end time must be after the start time."),
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="availability_valid_range",
                violation_error_message=_('"Valid until" must not be before "valid from".'),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M} "
            f"at {self.branch}"
        )


class Block(models.Model):
    """Time a staff member keeps for other work: no sessions then, at any branch."""

    staff = models.ForeignKey(StaffProfile, on_delete=models.CASCADE, related_name="blocks")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("blocked time")
        verbose_name_plural = _("blocked time")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="block_ends_after_start",
                violation_error_message=_("The end must be after the start."),
            )
        ]
        indexes = [models.Index(fields=["staff", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.staff}: {self.reason}"


class Closure(models.Model):
    """Days a branch is closed (holidays, renovation): no sessions there."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="closures")
    first_day = models.DateField()
    last_day = models.DateField()
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["first_day"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        constraints = [
            models.CheckConstraint(
                condition=Q(last_day__gte=F("first_day")),
                name="closure_last_day_not_before_first",
                violation_error_message=_("The last day must not be before the first day."),
            )
        ]

    def __str__(self) -> str:
        return gettext("%(branch)s closed: %(reason)s") % {
            "branch": self.branch,
            "reason": self.reason,
        }


class SkillLevel(models.TextChoices):
    NEW = "new", _("New to this")
    SOME = "some", _("Some experience")
    CONFIDENT = "confident", _("Confident")


class Status(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("Did not come")


class Channel(models.TextChoices):
    ONLINE = "online", _("Online")
    DESK = "desk", _("At the desk")
    PHONE = "phone", _("By phone")


class CancelledBy(models.TextChoices):
    """Who called a session off, kept for the reports after the patron's details are gone."""

    PATRON = "patron", _("The patron")
    LIBRARY = "library", _("The library")
    CLOSURE = "closure", _("A branch closure")


class AppointmentQuerySet(models.QuerySet):
    def active(self):
        return self.exclude(status=Status.CANCELLED)

    def upcoming(self, now=None):
        from django.utils import timezone

        return self.filter(status=Status.CONFIRMED, starts_at__gt=now or timezone.now())

    def with_topic_texts(self, language: str | None = None):
        """Each session's topic with its texts in the active language: one extra query, or
        none in the default language."""
        return self.prefetch_related(*topic_texts("topic", language=language))


class Appointment(models.Model):
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patron = models.ForeignKey(
        "patrons.Patron",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appointments",
    )
    staff = models.ForeignKey(StaffProfile, on_delete=models.PROTECT, related_name="appointments")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="appointments")
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="appointments")
    skill_level = models.CharField(max_length=10, choices=SkillLevel.choices)
    learning_goal = models.TextField(_("what they want to learn"), max_length=1000)
    party_size = models.PositiveSmallIntegerField(_("people coming"), default=1)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # Padding is copied from the topic at booking, so later changes to the topic leave it alone.
    padding_before = models.PositiveSmallIntegerField(default=0, editable=False)
    padding_after = models.PositiveSmallIntegerField(default=0, editable=False)
    # The staff member's time this session takes, padding included. The overlap rule is on this.
    occupied_from = models.DateTimeField(editable=False)
    occupied_until = models.DateTimeField(editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.ONLINE)
    # The language the session was booked in (online) or chosen by the desk; the patron's
    # messages follow the language on their record, which the booking sets to this.
    language = models.CharField(
        _("language for messages"),
        max_length=10,
        choices=language_choices,
        default=settings.LANGUAGE_CODE,
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The staff member who booked it for the patron."),
    )
    limit_override_reason = models.CharField(
        _("why the limit was lifted"), max_length=200, blank=True
    )
    limit_lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The staff member who booked or moved it past the patron's limits."),
    )
    sequence = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Who checked the patron in, or marked them absent."),
    )
    marked_at = models.DateTimeField(null=True, blank=True)
    # For the reports, kept after a purge; none of them says who the patron was.
    first_booking = models.BooleanField(
        null=True, editable=False, help_text=_("The patron had no earlier session still booked.")
    )
    contact_method = models.CharField(
        max_length=10, choices=ContactMethod.choices, blank=True, editable=False
    )
    cancelled_by = models.CharField(
        max_length=10, choices=CancelledBy.choices, blank=True, editable=False
    )

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        permissions = [
            ("book_for_patron", "Can book sessions for patrons at the desk"),
            ("view_all_calendars", "Can see every staff member's calendar"),
            ("manage_all_schedules", "Can change every staff member's schedule"),
        ]
        indexes = [
            models.Index(fields=["staff", "occupied_until"]),
            models.Index(fields=["starts_at"]),
        ]
        constraints = [
            ExclusionConstraint(
                name="appointment_no_staff_overlap",
                expressions=[
                    (TsTzRange("occupied_from", "occupied_until"), RangeOperators.OVERLAPS),
                    ("staff", RangeOperators.EQUAL),
                ],
                condition=~Q(status="cancelled"),
                violation_error_message=_("That staff member already has a session at that time."),
            ),
            ExclusionConstraint(
                name="appointment_no_patron_overlap",
                expressions=[
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                    ("patron", RangeOperators.EQUAL),
                ],
                condition=~Q(status="cancelled"),
                violation_error_message=_("This patron already has a session at that time."),
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="appointment_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(occupied_from__lte=F("starts_at"), occupied_until__gte=F("ends_at")),
                name="appointment_occupies_its_session",
            ),
            models.CheckConstraint(
                condition=Q(party_size__gte=1, party_size__lte=3),
                name="appointment_party_of_one_to_three",
                violation_error_message=_("A session is for one to three people."),
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(topic)s with %(staff)s") % {"topic": self.topic, "staff": self.staff}

    def save(self, *args, **kwargs):
        self.occupied_from = self.starts_at - timedelta(minutes=self.padding_before)
        self.occupied_until = self.ends_at + timedelta(minutes=self.padding_after)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "occupied_from", "occupied_until"}
        super().save(*args, **kwargs)

    @property
    def local_starts_at(self):
        return self.starts_at.astimezone(self.branch.tz)

    @property
    def local_ends_at(self):
        return self.ends_at.astimezone(self.branch.tz)

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def can_change_online(self) -> bool:
        """Patrons may cancel or move a session through their link until the topic's cutoff."""
        from django.utils import timezone

        cutoff = self.starts_at - timedelta(hours=self.topic.cutoff_hours)
        return self.is_cancellable and timezone.now() < cutoff

    @property
    def is_cancellable(self) -> bool:
        from django.utils import timezone

        return self.status == Status.CONFIRMED and self.starts_at > timezone.now()


class MessageKind(models.TextChoices):
    CONFIRMATION = "confirmation", _("Booking confirmed")
    CHANGE = "change", _("Booking changed")
    CANCELLATION = "cancellation", _("Booking cancelled")
    REMINDER = "reminder", _("Reminder")
    FOLLOW_UP = "follow_up", _("Follow-up after the session")
    STAFF_NEW_BOOKING = "staff_new", _("New booking (to staff)")
    STAFF_CANCELLATION = "staff_cancel", _("Cancellation (to staff)")
    STAFF_MOVED = "staff_moved", _("Session moved (to staff)")
    WAITLIST_OFFER = "waitlist_offer", _("A time for someone on the waiting list")
    WAITLIST_JOINED = "waitlist_joined", _("Joined the waiting list")
    CALENDAR_FEED = "calendar_feed", _("A staff calendar feed needs attention")


class MessageChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    TEXT = "text", _("Text message")
    CALL = "call", _("Phone call")


class MessageState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Could not be sent")
    TO_CALL = "to_call", _("To call")
    CALLED = "called", _("Called")
    NOT_REACHED = "not_reached", _("Not reached")
    SKIPPED = "skipped", _("No longer needed")


class Message(models.Model):
    """One message to a patron or staff member: the outbox and the record of what was sent.

    Messages are written in the same transaction as the change they report, and sent by
    `manage.py send_notifications` (and right after the change, when it can). Phone calls are
    not sent: they wait on the staff call list until someone marks them.
    """

    kind = models.CharField(max_length=20, choices=MessageKind.choices)
    channel = models.CharField(max_length=10, choices=MessageChannel.choices)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    patron = models.ForeignKey(
        "patrons.Patron", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="library_messages",
    )
    to = models.CharField(_("sent to"), max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    # The language the body was written in, so that what is attached when it is sent (a
    # calendar file) matches it, even if the patron's language changed in between.
    language = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=12, choices=MessageState.choices)
    # Makes "enqueue" idempotent: one reminder per session time, one confirmation per booking.
    key = models.CharField(max_length=120, unique=True)
    send_after = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(
                fields=["send_after"],
                name="message_due",
                condition=Q(state="pending"),
            ),
            models.Index(fields=["state", "channel"]),
        ]

    def __str__(self) -> str:
        to = format_phone(self.to)  # an email address is shown as it is
        return gettext("%(kind)s by %(channel)s to %(to)s") % {
            "kind": self.get_kind_display(),
            "channel": self.get_channel_display().lower(),
            "to": to,
        }


# The follow-up's answers to "Did the session help?", as the patron reads them and the reports
# count them.
HELPFUL_ANSWERS = {
    5: _("5 – It helped a lot"),
    4: pgettext_lazy("follow-up answer", "4"),
    3: _("3 – It helped a little"),
    2: pgettext_lazy("follow-up answer", "2"),
    1: _("1 – It did not help"),
}


class Feedback(models.Model):
    """A patron's answer to the follow-up: did the session help, and anything else."""

    appointment = models.OneToOneField(
        Appointment, on_delete=models.CASCADE, related_name="feedback"
    )
    helpful = models.PositiveSmallIntegerField("did it help (1 to 5)")
    comment = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.CheckConstraint(
                condition=Q(helpful__gte=1, helpful__lte=5), name="feedback_helpful_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return gettext("Feedback on %(session)s: %(helpful)s/5") % {
            "session": self.appointment,
            "helpful": self.helpful,
        }


class WalkIn(models.Model):
    """Help the desk gave without a booking, recorded in seconds so it counts in statistics."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="walk_ins")
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="walk_ins")
    minutes = models.PositiveSmallIntegerField()
    skill_level = models.CharField(max_length=10, choices=SkillLevel.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("walk-in help")
        verbose_name_plural = _("walk-in help")
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gte=1, minutes__lte=240), name="walk_in_minutes_1_to_240"
            )
        ]

    def __str__(self) -> str:
        return gettext("%(topic)s, %(minutes)s minutes") % {
            "topic": self.topic,
            "minutes": self.minutes,
        }


class WaitlistState(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Offered a time")
    BOOKED = "booked", _("Booked")
    REMOVED = "removed", _("Removed")


class TimeOfDay(models.TextChoices):
    """Parts of the day, on the branch's clock: morning before noon, afternoon until 5 pm,
    evening from 5 pm."""

    ANY = "", _("Any time of day")
    MORNING = "morning", _("Mornings (before noon)")
    AFTERNOON = "afternoon", _("Afternoons (noon to 5 pm)")
    EVENING = "evening", _("Evenings (from 5 pm)")


class WaitlistEntry(models.Model):
    """A patron waiting for a time to open for a topic (at a branch, on some weekdays, at a
    time of day).

    When a matching time opens, the first patron waiting is offered it, held for them until
    the branch closes on its next open day (see appointments/waitlist.py); the database refuses
    a second live offer of an overlapping time with the same staff member.
    """

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="waitlist")
    branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.CASCADE, related_name="waitlist"
    )
    weekdays = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    time_of_day = models.CharField(
        max_length=10, choices=TimeOfDay.choices, default=TimeOfDay.ANY, blank=True
    )
    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    skill_level = models.CharField(max_length=10, choices=SkillLevel.choices)
    learning_goal = models.TextField(_("what they want to learn"), max_length=1000)
    party_size = models.PositiveSmallIntegerField(default=1)
    length = models.PositiveSmallIntegerField()
    state = models.CharField(
        max_length=10, choices=WaitlistState.choices, default=WaitlistState.WAITING
    )
    offer_staff = models.ForeignKey(
        StaffProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer_branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer_starts_at = models.DateTimeField(null=True, blank=True)
    offer_ends_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    offers_made = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("waiting list entry")
        verbose_name_plural = _("waiting list")
        constraints = [
            ExclusionConstraint(
                name="waitlist_one_live_offer_per_time",
                expressions=[
                    (TsTzRange("offer_starts_at", "offer_ends_at"), RangeOperators.OVERLAPS),
                    ("offer_staff", RangeOperators.EQUAL),
                ],
                condition=Q(state="offered"),
            ),
            models.CheckConstraint(
                condition=~Q(state="offered")
                | Q(offer_staff__isnull=False, offer_starts_at__isnull=False),
                name="waitlist_offer_has_a_time",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(patron)s waiting for %(topic)s") % {
            "patron": self.patron,
            "topic": self.topic,
        }


class WaitlistTally(models.Model):
    """What the reports need of waiting-list entries the purge deletes: counts per day joined,
    topic and branch, with nobody in them."""

    day = models.DateField()
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    joined = models.PositiveIntegerField(default=0)
    offered = models.PositiveIntegerField(default=0)
    offers = models.PositiveIntegerField(default=0)
    taken = models.PositiveIntegerField(default=0)
    left = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("waiting-list count")

    def __str__(self) -> str:
        return f"{self.topic} on the waiting list, {self.day}: {self.joined} joined"


class CalendarFeed(models.Model):
    """The address of a staff member's published Outlook or Google calendar, and its health.

    The address is a secret (anyone holding it reads the whole calendar): once saved it is never
    shown in full, logged or put in a message. See appointments/calendar_feeds.py.
    """

    staff = models.OneToOneField(
        StaffProfile, on_delete=models.CASCADE, related_name="busy_calendar"
    )
    address = models.CharField(max_length=2000)
    # When this address was pasted: a feed never read successfully is stale two hours later.
    address_set_at = models.DateTimeField(default=timezone.now)
    # Health: the last attempt, the last success, and what went wrong since, in words.
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=300, blank=True)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # What kind of failure the last one was, when it is warned of at once ("empty": a calendar
    # that had events came back with none); blank for the others.
    failure_code = models.CharField(max_length=20, blank=True)
    # The busy times stored from it (to skip rewriting them when nothing changed), and the
    # events that decide busy times, however far ahead (to tell when the content last changed).
    busy_hash = models.CharField(max_length=64, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    content_changed_at = models.DateTimeField(null=True, blank=True)
    # The end of its last event, when that comes before the booking window's end.
    data_ends_at = models.DateTimeField(null=True, blank=True)
    # The problems the staff member and managers were emailed about, and since when (Unix
    # microseconds): each problem is mailed once while it lasts.
    warned = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("Outlook or Google calendar")

    def __str__(self) -> str:
        return f"Calendar of {self.staff}"


class BusyTime(models.Model):
    """A time a staff member's published calendar says they are busy: nothing else of the event
    (no title, attendees or place) is kept. Rewritten by each refresh that changes it."""

    staff = models.ForeignKey(StaffProfile, on_delete=models.CASCADE, related_name="busy_times")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="busy_time_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["staff", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.staff} busy"
