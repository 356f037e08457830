"""Patron records: who a session is for and how to reach them.

Patrons have no account. A record holds only what staff need to run and confirm a session.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from library_help.languages import language_choices, language_name

from .phones import format_phone, matching_digits, normalised_or_as_typed, phone_digits


class ContactMethod(models.TextChoices):
    EMAIL = "email", _("Email")
    TEXT = "text", _("Text message")
    CALL = "call", _("Phone call")


# Language names as the desk reads them ("Prefers Spanish"); Django names the others. Kept in
# our catalogue so that Spanish-speaking staff read "español", in lower case, mid-sentence.
gettext_noop("English")
gettext_noop("Spanish")


class PatronQuerySet(models.QuerySet):
    def search(self, query: str) -> "PatronQuerySet":
        """Find patrons by name, email, phone or library card number.

        A phone number is found however it is typed, whole ("(312) 555-0142", "3125550142") or
        in part ("555-0142"): four digits or more, anywhere in the stored number."""
        query = query.strip()
        if not query:
            return self.none()
        condition = Q(name__icontains=query) | Q(email__iexact=query) | Q(card_number__iexact=query)
        return self.filter(condition | phone_search_condition(query))

    def matching(self, email: str = "", phone: str = "", card_number: str = "") -> "PatronQuerySet":
        """Patrons who may be the same person as these contact details."""
        return self.filter(same_person_condition(email, phone, card_number))


def phone_search_condition(query: str, prefix: str = "") -> Q:
    """Records whose phone number has these digits (four or more) anywhere, or is this number
    however it is typed. `prefix` reaches the patron from another model ("patron__")."""
    digits = phone_digits(query)
    if len(digits) < 4:
        return Q(pk__in=[])
    return Q(**{f"{prefix}phone_digits__contains": digits}) | Q(
        **{f"{prefix}phone_digits": matching_digits(query)}
    )


def same_person_condition(email: str = "", phone: str = "", card_number: str = "") -> Q:
    condition = Q(pk__in=[])
    if email:
        condition |= Q(email__iexact=email.strip())
    if matching_digits(phone):
        condition |= Q(phone_digits=matching_digits(phone))
    if card_number:
        condition |= Q(card_number__iexact=card_number.strip())
    return condition


class Patron(models.Model):
    name = models.CharField(_("name"), max_length=120)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    phone_digits = models.CharField(max_length=30, blank=True, editable=False, db_index=True)
    preferred_contact = models.CharField(
        _("how we should reach you"),
        max_length=10,
        choices=ContactMethod.choices,
        default=ContactMethod.EMAIL,
    )
    # Every message to the patron is written in it: the language they booked in online, or
    # the one the desk chose for them.
    language = models.CharField(
        _("language for messages"),
        max_length=10,
        choices=language_choices,
        default=settings.LANGUAGE_CODE,
    )
    card_number = models.CharField(_("library card number"), max_length=30, blank=True)
    accessibility_needs = models.TextField(_("accessibility needs"), max_length=500, blank=True)
    # The desk can let a patron book online again after a pause for missed sessions.
    pause_lifted_at = models.DateTimeField(null=True, blank=True, editable=False)
    pause_lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    pause_lift_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatronQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("patron")
        verbose_name_plural = _("patrons")
        indexes = [models.Index(Lower("email"), name="patron_email_lower")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(phone=""),
                name="patron_has_email_or_phone",
                violation_error_message=_("Give an email address or a phone number."),
            ),
            models.CheckConstraint(
                condition=~Q(preferred_contact="email") | ~Q(email=""),
                name="patron_email_contact_has_email",
                violation_error_message=_("Email was chosen, so an email address is needed."),
            ),
            models.CheckConstraint(
                condition=Q(preferred_contact="email") | ~Q(phone=""),
                name="patron_phone_contact_has_phone",
                violation_error_message=_("Text or call was chosen, so a phone number is needed."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # Forms refuse a number that is not valid; code that writes a record directly gets the
        # same E.164 form when the number is valid, and keeps the text otherwise.
        self.phone = normalised_or_as_typed(self.phone)
        self.phone_digits = phone_digits(self.phone)
        if kwargs.get("update_fields") is not None and "phone" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "phone_digits"}
        super().save(*args, **kwargs)

    def same_person(self) -> PatronQuerySet:
        """This record and every other one with the same email, phone or card number.

        Nobody proves who they are online, so each online booking keeps its own record: a stranger
        who types someone's email must never reach that person's details. Limits and the pause
        for missed sessions still count across all the records of one person.
        """
        return Patron.objects.filter(
            Q(pk=self.pk) | same_person_condition(self.email, self.phone, self.card_number)
        )

    def identity_keys(self) -> list[str]:
        """The contact details that make two records one person, normalised, for locking."""
        keys = [f"email:{self.email.strip().lower()}"] if self.email else []
        if matching_digits(self.phone):
            keys.append(f"phone:{matching_digits(self.phone)}")
        if self.card_number:
            keys.append(f"card:{self.card_number.strip().lower()}")
        return sorted(keys)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""

    @property
    def short_name(self) -> str:
        """ "Rosa M.": a first name told apart from another Rosa's, in a crowded week."""
        first, *rest = self.name.split() or [""]
        return f"{first} {rest[-1][0]}." if rest else first

    @property
    def phone_display(self) -> str:
        """The number as people here write it: "(312) 555-0142"."""
        return format_phone(self.phone)

    @property
    def contact_display(self) -> str:
        """How to reach this patron, in their preferred way first."""
        if self.preferred_contact == ContactMethod.EMAIL:
            return gettext("Email %(address)s") % {"address": self.email}
        if self.preferred_contact == ContactMethod.TEXT:
            return gettext("Text %(phone)s") % {"phone": self.phone_display}
        return gettext("Call %(phone)s") % {"phone": self.phone_display}

    @property
    def prefers_other_language(self) -> bool:
        """Messages to them go in a language other than the default: the desk should know."""
        return self.language != settings.LANGUAGE_CODE

    @property
    def language_name(self) -> str:
        """Their language, named in the reader's language ("Spanish", "español")."""
        return language_name(self.language)


class AccessRecord(models.Model):
    """A staff member looked at a patron's details. Kept for ACCESS_LOG_RETENTION_DAYS."""

    class What(models.TextChoices):
        PATRON = "patron", _("Opened the patron's record")
        APPOINTMENT = "appointment", _("Opened a session's details")
        DESK_BOOKING = "desk_booking", _("Opened the patron at the desk")
        CALL_LIST = "call_list", _("Saw the patron on the call list")
        WAITLIST = "waitlist", _("Opened the patron's waiting-list entry")
        DATA_EXPORT = "export", _("Exported the patron's data")
        FORGOTTEN = "forgotten", _("Deleted the patron's data")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="patron_accesses",
    )
    patron = models.ForeignKey(
        Patron, null=True, blank=True, on_delete=models.SET_NULL, related_name="accesses"
    )
    what = models.CharField(max_length=20, choices=What.choices)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("access record")
        verbose_name_plural = _("access records")

    def __str__(self) -> str:
        return f"{self.user} – {self.get_what_display()}"


def record_access(user, patron, what: str, object_id: int | None = None) -> None:
    if patron is None or user is None or not user.is_authenticated:
        return
    AccessRecord.objects.create(user=user, patron=patron, what=what, object_id=object_id)
