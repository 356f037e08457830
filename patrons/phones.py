"""Patron phone numbers: read as typed, stored in E.164, shown the way people write them.

"+1 (312) 555-0142", "312-555-0142" and "3125550142" are one number. Stored as "+13125550142"
(E.164, what text-message providers want), they are one person to the booking limits and the
pause for missed sessions, and one number to the desk's search. A number without a country code
is read as one of the library's own region (the PHONE_REGION setting).
"""

import re

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext

# The example in the error message: a number from the library's own area reads friendlier than
# the placeholder the phonenumbers library offers (for the US, 201-555-0123).
EXAMPLES = {"US": "312-555-0142"}

# What people type around the digits: spaces, dashes, dots, slashes, brackets and a leading +.
# Anything else (letters, "ext. 12", "#") is refused, not guessed at: "1-800-FLOWERS" or an
# extension cannot take a text message.
TYPED_NUMBER = re.compile(r"\+?[\d\s().\-/]+")


class NotAPhoneNumber(ValueError):
    """The text is not a phone number that can be called or texted in the library's region."""


def region() -> str:
    return settings.PHONE_REGION


def example_number() -> str:
    """A number shaped like the library's own, for "it should look like ..."."""
    here = region()
    if here in EXAMPLES:
        return EXAMPLES[here]
    example = phonenumbers.example_number(here)
    if example is None:
        return "+1 312-555-0142"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)


def invalid_message() -> str:
    """The phone field's error, in the page's language."""
    return gettext(
        "Please check the phone number: it should look like %(example)s. "
        "A number from another country starts with + and the country code."
    ) % {"example": example_number()}


def normalise_phone(typed: str) -> str:
    """The number in E.164 ("+13125550142"), or NotAPhoneNumber; "" for nothing typed."""
    typed = (typed or "").strip()
    if not typed:
        return ""
    if not TYPED_NUMBER.fullmatch(typed):
        raise NotAPhoneNumber(typed)
    try:
        number = phonenumbers.parse(typed, region())
    except phonenumbers.NumberParseException as error:
        raise NotAPhoneNumber(typed) from error
    if number.extension or not phonenumbers.is_valid_number(number):
        raise NotAPhoneNumber(typed)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalised_or_as_typed(typed: str) -> str:
    """E.164 when the text is a valid number; otherwise the text as it was.

    For records written before numbers were checked, and by code rather than a form: nothing a
    patron gave us is thrown away, and the desk still finds it (by its digits)."""
    try:
        return normalise_phone(typed)
    except NotAPhoneNumber:
        return (typed or "").strip()


def phone_digits(phone: str) -> str:
    """The digits of a phone number: of the stored E.164 number, what search and matching use."""
    return re.sub(r"\D", "", phone or "")


def matching_digits(typed: str) -> str:
    """The digits a stored number would have, however this one is typed: "(312) 555-0142" and
    "+1 312 555 0142" both give "13125550142". Text that is not a valid number keeps its own
    digits, so that records stored before numbers were checked still match."""
    return phone_digits(normalised_or_as_typed(typed))


def format_phone(phone: str) -> str:
    """A stored number the way people here write it: "(312) 555-0142" for one of the library's
    country, "+44 20 7946 0958" for one from abroad. Text that is not a number is shown as is."""
    if not phone or not phone.startswith("+"):
        return phone or ""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    if number.country_code == phonenumbers.country_code_for_region(region()):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
