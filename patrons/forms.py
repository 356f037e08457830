"""Patron details forms, shared by online booking and the desk."""

from functools import partial

from django import forms
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from .models import ContactMethod, Patron
from .phones import NotAPhoneNumber, invalid_message, normalise_phone


class PhoneNumberField(forms.CharField):
    """A phone number as typed, cleaned to E.164 ("+13125550142"); a number that is not valid
    for the library's region (or, with a +, for its country) is refused in plain words."""

    def to_python(self, value):
        typed = super().to_python(value)
        try:
            return normalise_phone(typed)
        except NotAPhoneNumber:
            raise forms.ValidationError(invalid_message(), code="invalid") from None


# Every patron form's messages for what Django would otherwise say in its own words: a text too
# long ("Ensure this value has at most 500 characters"), an invisible NUL character (pasted, or
# sent by a forged form), an answer that is not one of those shown.
TOO_LONG = _("Please keep this to %(limit_value)d characters or fewer (it has %(show_value)d).")
INVISIBLE_CHARACTER = _(
    "Please type this again: it holds an invisible character that we cannot keep."
)
NOT_ONE_OF_THE_ANSWERS = _("Please choose one of the answers shown.")


def plain_errors(**more) -> dict:
    """A text field's error_messages: the plain words above, with the field's own `more`."""
    return {"max_length": TOO_LONG, "null_characters_not_allowed": INVISIBLE_CHARACTER, **more}


def paste_friendly(field: forms.Field) -> None:
    """A long answer's limit is said in its hint and checked when the form is sent, not kept by
    the browser: its maxlength cuts a pasted text short without a word, so the staff member
    would read half a sentence and the patron never know. Sent whole, a text too long comes
    back in the box with a message saying how long it is, for the patron to shorten."""
    field.widget.attrs.pop("maxlength", None)


# The ways to be reached, as the patron chooses them (ContactMethod's, in the page's language).
CONTACT_CHOICES = [
    (ContactMethod.EMAIL, pgettext_lazy("patron's answer", "Email")),
    (ContactMethod.TEXT, pgettext_lazy("patron's answer", "Text message")),
    (ContactMethod.CALL, pgettext_lazy("patron's answer", "Phone call")),
]


class PatronForm(forms.ModelForm):
    """Who the session is for and how to reach them. Email or phone, at least one."""

    class Meta:
        model = Patron
        fields = [
            "name",
            "email",
            "phone",
            "preferred_contact",
            "card_number",
            "accessibility_needs",
        ]
        field_classes = {"phone": PhoneNumberField}
        labels = {
            "name": _("Your name"),
            "email": _("Email address (optional if you give a phone number)"),
            "phone": _("Phone number (optional if you give an email address)"),
            "preferred_contact": _("How should we reach you?"),
            "card_number": _("Library card number (optional)"),
            "accessibility_needs": _("Anything that would help you during the session? (optional)"),
        }
        help_texts = {
            "name": _("So the staff member can greet you."),
            "email": _("We send your confirmation and a reminder here."),
            "phone": _("For a text message or a call, if you prefer that to email."),
            "card_number": _("Only if you want us to link the session to your library card."),
            "accessibility_needs": _(
                "For example: large print, a hearing loop, a wheelchair-accessible desk. "
                "At most 500 characters."
            ),
        }
        error_messages = {
            "name": plain_errors(required=_("Please tell us your name.")),
            "email": plain_errors(
                invalid=_("Please check the email address, for example name@example.org.")
            ),
            "phone": plain_errors(),
            "preferred_contact": {
                "required": _("Please choose how we should reach you."),
                "invalid_choice": NOT_ONE_OF_THE_ANSWERS,
            },
            "card_number": plain_errors(),
            "accessibility_needs": plain_errors(),
        }
        widgets = {
            "preferred_contact": forms.RadioSelect,
            "accessibility_needs": forms.Textarea(attrs={"rows": 3}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
            "name": forms.TextInput(attrs={"autocomplete": "name"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preferred_contact"].choices = CONTACT_CHOICES
        paste_friendly(self.fields["accessibility_needs"])
        if self.instance.pk is None and "preferred_contact" not in (kwargs.get("initial") or {}):
            # Nothing chosen for them: a patron with only a phone must not be told "you chose
            # email" about a choice they never made.
            self.initial.pop("preferred_contact", None)
            self.fields["preferred_contact"].initial = None

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(gettext("Please tell us your name."))
        return name

    def clean(self):
        data = super().clean()
        email, phone = data.get("email"), data.get("phone")
        preferred = data.get("preferred_contact")
        if "email" in self.errors or "phone" in self.errors:
            return data
        if not email and not phone:
            self.add_error("email", gettext("Please give an email address or a phone number."))
        elif preferred == ContactMethod.EMAIL and not email:
            self.add_error("email", gettext("You chose email, so please give an email address."))
        elif preferred in (ContactMethod.TEXT, ContactMethod.CALL) and not phone:
            self.add_error(
                "phone", gettext("You chose a text or a call, so please give a phone number.")
            )
        return data

    def validate_constraints(self, exclude=None):
        # The form's own messages above already say what the database constraints would.
        pass

    def _post_clean(self):
        # Model.full_clean would also check each constraint, with a query apiece: clean()
        # above already says the same in words.
        self.instance.full_clean = partial(
            type(self.instance).full_clean, self.instance, validate_constraints=False
        )
        try:
            super()._post_clean()
        finally:
            del self.instance.full_clean


class DeskPatronForm(PatronForm):
    """The same details, asked by the desk: every question speaks about the patron, not to them."""

    LABELS = {
        "name": _("Patron's name"),
        "email": _("Patron's email address (optional if you give a phone number)"),
        "phone": _("Patron's phone number (optional if you give an email address)"),
        "preferred_contact": _("How does the patron want to be reached?"),
        "card_number": _("Patron's library card number (optional)"),
        "accessibility_needs": _(
            "Anything that would help the patron during the session? (optional)"
        ),
    }
    HELP_TEXTS = {
        "name": _("So the staff member can greet them."),
        "email": _("Their confirmation and reminder go here if they choose email."),
        "phone": _("For a text message or a call."),
        "card_number": _("Only if they want the session linked to their library card."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in self.LABELS.items():
            self.fields[name].label = label
        for name, text in self.HELP_TEXTS.items():
            self.fields[name].help_text = text
