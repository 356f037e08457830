"""Phone numbers: one number however it is typed, stored in E.164, shown as people write it.

Rosa's grandson typed her number as "+1 (312) 555-0142" when he booked online; at the desk it is
"312-555-0142". She is one person to the limits and the pause for missed sessions, the desk finds
her by any part of the number, and her text messages go to +13125550142.
"""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from appointments import messaging
from appointments.booking import ONLINE_REFUSAL, BookingError
from appointments.links import private_path
from appointments.models import Appointment, Message, Status
from appointments.texting import MemoryTextBackend
from patrons.apps import check_phone_region
from patrons.forms import PatronForm
from patrons.models import Patron
from patrons.phones import format_phone, normalise_phone, phone_digits

from .factories import book, local, make_appointment, make_patron, make_user, next_weekday

pytestmark = pytest.mark.django_db

INVALID = "Please check the phone number: it should look like 312-555-0142. "
INVALID += "A number from another country starts with + and the country code."
NOT_NUMBERS = [
    "555-0142",  # no area code
    "12",
    "call me maybe",
    "ext. 12",
    "312-555-0142 ext. 12",  # a text message cannot reach an extension
    "1-800-FLOWERS",
    "+44 20 7946",  # too short for the UK
    "1" * 200,
]


def patron_from_form(name: str, phone: str, **details) -> Patron:
    """A patron as the booking form and the desk's add-patron form save one."""
    data = {"name": name, "phone": phone, "preferred_contact": "call", **details}
    form = PatronForm(data)
    assert form.is_valid(), form.errors
    return form.save()


@pytest.fixture
def desk(client):
    user = make_user("frontdesk", groups=("Desk",))
    client.force_login(user)
    return user


def test_a_number_typed_any_way_is_stored_in_e164():
    for typed in ["+1 (312) 555-0142", "312-555-0142", "(312) 555-0142", "312.555.0142"]:
        assert normalise_phone(typed) == "+13125550142", typed
    assert normalise_phone("+44 20 7946 0958") == "+442079460958"
    assert normalise_phone("  ") == ""


def test_numbers_are_shown_the_way_people_here_write_them():
    assert format_phone("+13125550142") == "(312) 555-0142"
    assert format_phone("+442079460958") == "+44 20 7946 0958"
    # Kept as typed because it could not be read: shown as it is.
    assert format_phone("555-0142") == "555-0142"
    assert format_phone("") == ""


def test_a_library_in_another_country_reads_its_own_numbers(settings):
    settings.PHONE_REGION = "GB"
    assert normalise_phone("020 7946 0958") == "+442079460958"
    assert format_phone("+442079460958") == "020 7946 0958"
    assert format_phone("+13125550142") == "+1 312-555-0142"
    with pytest.raises(ValueError):
        normalise_phone("312-555-0142")


def test_an_unknown_phone_region_is_caught_at_start_up(settings):
    assert check_phone_region() == []
    settings.PHONE_REGION = "USA"
    (error,) = check_phone_region()
    assert error.id == "patrons.E001"


def test_the_same_person_typed_two_ways_meets_the_upcoming_limit(librarian, topic, branch):
    online = patron_from_form("Rosa Martinez", "+1 (312) 555-0142")
    again = patron_from_form("Rosa M.", "312-555-0142")
    assert online.phone == again.phone == "+13125550142"
    for start in (local(next_weekday(1), 10), local(next_weekday(3), 10)):
        book(patron=online, topic=topic, branch=branch, start=start)
    with pytest.raises(BookingError) as refused:
        book(patron=again, topic=topic, branch=branch, start=local(next_weekday(1), 11))
    assert refused.value.code == "limit"
    assert refused.value.message == ONLINE_REFUSAL.format(phone=settings.LIBRARY_PHONE)
    assert Appointment.objects.count() == 2


def test_the_same_person_typed_two_ways_is_paused_after_missed_sessions(librarian, topic, branch):
    at_the_desk = patron_from_form("Sam Absent", "312-555-0177")
    for days_ago in (20, 10):
        make_appointment(
            staff=librarian,
            topic=topic,
            branch=branch,
            patron=at_the_desk,
            start=local(timezone.localdate() - timedelta(days=days_ago), 10),
            status=Status.NO_SHOW,
        )
    online = patron_from_form("Sam", "(312) 555 0177", preferred_contact="text")
    with pytest.raises(BookingError) as paused:
        book(patron=online, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    assert paused.value.code == "paused"


def test_desk_finds_a_patron_by_the_number_in_any_formatting_or_in_part(client, desk):
    make_patron("Rosa Martinez", email="", phone="(312) 555-0142", preferred_contact="call")
    for query in ["3125550142", "555-0142", "+1 312 555 0142", "(312) 555-0142", "312.555.0142"]:
        page = client.post(reverse("appointments:desk"), {"q": query}).content.decode()
        assert "Book for Rosa Martinez" in page, query
        assert "(312) 555-0142" in page
    page = client.post(reverse("appointments:desk"), {"q": "555-0199"}).content.decode()
    assert "Book for Rosa" not in page


def test_admin_search_finds_a_whole_number_typed_with_spaces(client, librarian, topic, branch):
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    make_patron("Someone Else", email="", phone="312-555-0199", preferred_contact="call")
    make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=rosa, start=local(next_weekday(1), 10)
    )
    client.force_login(make_user(groups=("Desk",)))
    page = client.get(reverse("admin:patrons_patron_changelist"), {"q": "(312) 555-0142"})
    assert list(page.context["cl"].result_list) == [rosa]
    assert "(312) 555-0142" in page.content.decode()
    page = client.get(reverse("admin:appointments_appointment_changelist"), {"q": "312 555 0142"})
    assert [a.patron for a in page.context["cl"].result_list] == [rosa]


def contact_step(client, topic, branch, **details):
    """The patron's own booking, up to and including the contact details."""
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Video calls", "party_size": 1},
    )
    value = f"{branch.pk}-0-{int(local(next_weekday(1), 10).timestamp())}"
    client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    data = {"slot": value, "name": "Rosa Martinez", "preferred_contact": "text", **details}
    return client.post(reverse("appointments:contact", args=[topic.slug]), data)


@pytest.mark.parametrize("typed", NOT_NUMBERS)
def test_patron_typing_a_number_that_is_not_valid_is_asked_to_check_it(
    client, librarian, topic, branch, typed
):
    response = contact_step(client, topic, branch, phone=typed)
    assert response.status_code == 200
    assert INVALID in response.content.decode()
    assert response.context["form"].errors["phone"] == [INVALID]
    assert Patron.objects.count() == 0 and Appointment.objects.count() == 0


@pytest.mark.parametrize("typed", ["555-0142", "call me maybe", "312-555-0142 x12"])
def test_desk_typing_a_number_that_is_not_valid_saves_nothing(client, desk, typed):
    url = reverse("appointments:desk_add_patron")
    page = client.post(url, {"name": "Rosa", "phone": typed, "preferred_contact": "call"})
    assert INVALID in page.content.decode()
    assert Patron.objects.count() == 0


def test_admin_refuses_a_number_that_is_not_valid(client):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    url = reverse("admin:patrons_patron_change", args=[rosa.pk])
    details = {
        "name": "Rosa Martinez",
        "preferred_contact": "call",
        "email": "",
        # The (read-only) list of her sessions below the form.
        "appointments-TOTAL_FORMS": 0,
        "appointments-INITIAL_FORMS": 0,
    }
    page = client.post(url, {**details, "phone": "555-0199"})
    assert INVALID in page.content.decode()
    rosa.refresh_from_db()
    assert rosa.phone == "+13125550142"
    client.post(url, {**details, "phone": "(312) 555-0199"})
    rosa.refresh_from_db()
    assert (rosa.phone, rosa.phone_digits) == ("+13125550199", "13125550199")


def test_desk_adds_a_patron_with_an_international_number(client, desk):
    url = reverse("appointments:desk_add_patron")
    client.post(
        url, {"name": "Harold Smith", "phone": "+44 20 7946 0958", "preferred_contact": "call"}
    )
    harold = Patron.objects.get()
    assert harold.phone == "+442079460958"
    page = client.get(reverse("appointments:desk_book", args=[harold.pk])).content.decode()
    assert "Call +44 20 7946 0958" in page


def test_texts_go_to_the_e164_number_and_the_call_list_shows_the_national_one(
    client, desk, librarian, topic, branch, settings
):
    settings.TEXT_BACKEND = "appointments.texting.MemoryTextBackend"
    MemoryTextBackend.outbox.clear()
    marcus = patron_from_form("Marcus Lee", "(312) 555-0177", preferred_contact="text")
    rosa = patron_from_form("Rosa Martinez", "312 555 0142")
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(3), 10))
    messaging.send_due()
    ((to, _body),) = MemoryTextBackend.outbox
    assert to == "+13125550177"
    assert Message.objects.get(patron=rosa).body.startswith("Call Rosa Martinez at (312) 555-0142")
    page = client.get(reverse("appointments:calls")).content.decode()
    assert "Call Rosa Martinez at (312) 555-0142" in page
    # The number is shown as people write it; the E.164 form only in the tel: link's address.
    assert 'href="tel:+13125550142">(312) 555-0142</a>' in page
    assert page.count("+13125550142") == 1


def test_the_patrons_own_data_page_shows_the_number_as_people_write_it(
    client, librarian, topic, branch
):
    rosa = patron_from_form("Rosa Martinez", "+1 312 555 0142")
    session = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    page = client.get(private_path(session) + "my-data/").content.decode()
    assert "(312) 555-0142" in page and "+13125550142" not in page


MIGRATION = importlib.import_module("patrons.migrations.0005_phone_numbers_e164")


def test_migration_stores_numbers_that_read_in_e164_and_keeps_the_rest_as_typed(capsys):
    typed = {
        "Rosa Martinez": "+1 (312) 555-0142",
        "Marcus Lee": "312.555.0177",
        "Harold Smith": "+44 20 7946 0958",
        "Dana Whitfield": "555-0190",  # no area code: cannot be read
        "Luis Gomez": "call the branch",
        "Priya Shah": "",
    }
    for name, phone in typed.items():
        patron = make_patron(name)
        # As they were stored before: exactly as typed, with their digits.
        Patron.objects.filter(pk=patron.pk).update(phone=phone, phone_digits=phone_digits(phone))

    MIGRATION.store_phone_numbers_in_e164(apps, schema_editor=None)

    stored = dict(Patron.objects.values_list("name", "phone"))
    assert stored == {
        "Rosa Martinez": "+13125550142",
        "Marcus Lee": "+13125550177",
        "Harold Smith": "+442079460958",
        "Dana Whitfield": "555-0190",
        "Luis Gomez": "call the branch",
        "Priya Shah": "",
    }
    assert Patron.objects.get(name="Marcus Lee").phone_digits == "13125550177"
    assert Patron.objects.get(name="Dana Whitfield").phone_digits == "5550190"
    printed = capsys.readouterr().out
    assert "3 stored in E.164" in printed
    assert "2 could not be read and were left as typed" in printed
    assert "555-0190" not in printed  # ids only, never the numbers
    # Run again, it changes nothing.
    MIGRATION.store_phone_numbers_in_e164(apps, schema_editor=None)
    assert dict(Patron.objects.values_list("name", "phone")) == stored


def test_numbers_kept_as_typed_are_listed_for_staff_to_check(client):
    make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    dana = make_patron("Dana Whitfield")
    Patron.objects.filter(pk=dana.pk).update(phone="555-0190", phone_digits="5550190")
    client.force_login(make_user(is_superuser=True, is_staff=True))
    page = client.get(reverse("admin:patrons_patron_changelist"), {"phone_number": "to_check"})
    assert list(page.context["cl"].result_list) == [dana]


def test_migrations_are_in_step_with_the_models():
    call_command("makemigrations", "patrons", check=True, dry_run=True, verbosity=0)


def test_texts_still_waiting_are_readdressed_to_the_stored_number(librarian, topic, branch):
    marcus = make_patron("Marcus Lee", email="", phone="312-555-0177", preferred_contact="text")
    session = book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    waiting = Message.objects.get(patron=marcus)
    sent = Message.objects.create(
        kind="reminder",
        channel="text",
        patron=marcus,
        appointment=session,
        to="312-555-0177",
        body="sent",
        state="sent",
        key="sent-before",
        send_after=timezone.now(),
    )
    Message.objects.filter(pk=waiting.pk).update(to="(312) 555-0177")  # as typed, before E.164
    readdress = importlib.import_module("appointments.migrations.0012_waiting_messages_use_e164")
    readdress.readdress_waiting_messages(apps, None)
    waiting.refresh_from_db()
    sent.refresh_from_db()
    assert waiting.to == "+13125550177"
    assert sent.to == "312-555-0177"  # the record of what went out stays as it was


def test_staff_find_a_text_in_the_message_log_by_the_number_as_they_write_it(
    client, librarian, topic, branch
):
    marcus = make_patron("Marcus Lee", email="", phone="312-555-0177", preferred_contact="text")
    book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    client.force_login(make_user("carmen", groups=("Managers",)))
    url = reverse("admin:appointments_message_changelist")
    for typed in ["(312) 555-0177", "312-555-0177", "+1 312 555 0177", "555-0177", "0177"]:
        page = client.get(url, {"q": typed}).content.decode()
        assert "(312) 555-0177" in page, typed
    assert "(312) 555-0177" not in client.get(url, {"q": "(312) 555-0199"}).content.decode()
