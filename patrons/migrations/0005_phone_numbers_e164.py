"""Store existing patron phone numbers in E.164, as new ones are.

Before this, numbers were kept as typed: "+1 (312) 555-0142" and "312-555-0142" were two people
to the booking limits and the pause for missed sessions. Each number that reads as a valid
number of the library's region (PHONE_REGION, or its own country when it starts with +) is
rewritten as E.164 ("+13125550142"), and its digits for search with it.

A number that does not read ("555-0142" with no area code, letters, an extension) is left
exactly as it was: it is what the patron gave us, and the desk may still reach them with it. The
count of such records and their ids (never the numbers) are printed, and the admin's patron list
has a "phone number: to check" filter to find them; saving such a record through a form asks
for a number that reads. They keep matching one another by their digits, as before.

The rules are copied here rather than imported from patrons.phones, so that this migration does
the same thing whenever it runs. Going back leaves numbers in E.164: they are still numbers.
"""

import re

import phonenumbers
from django.conf import settings
from django.db import migrations

TYPED_NUMBER = re.compile(r"\+?[\d\s().\-/]+")


def e164_or_none(typed: str, region: str) -> str | None:
    typed = typed.strip()
    if not TYPED_NUMBER.fullmatch(typed):
        return None
    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def store_phone_numbers_in_e164(apps, schema_editor):
    Patron = apps.get_model("patrons", "Patron")
    region = getattr(settings, "PHONE_REGION", "US")
    changed, unread = [], []
    for patron in Patron.objects.exclude(phone="").only("pk", "phone", "phone_digits").iterator():
        e164 = e164_or_none(patron.phone, region)
        if e164 is None:
            unread.append(patron.pk)
        elif e164 != patron.phone:
            patron.phone = e164
            patron.phone_digits = re.sub(r"\D", "", e164)
            changed.append(patron)
    Patron.objects.bulk_update(changed, ["phone", "phone_digits"], batch_size=500)
    if changed or unread:
        print(f"\n  Phone numbers: {len(changed)} stored in E.164.", end="")
    if unread:
        ids = ", ".join(str(pk) for pk in unread[:50]) + (" ..." if len(unread) > 50 else "")
        print(
            f"\n  Phone numbers: {len(unread)} could not be read and were left as typed "
            f"(patron ids {ids}). Find them in the admin: Patrons, filter 'phone number: "
            "to check'.",
            end="",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("patrons", "0004_waitlist_access"),
    ]

    operations = [
        migrations.RunPython(store_phone_numbers_in_e164, migrations.RunPython.noop),
    ]
