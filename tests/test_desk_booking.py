"""The reference desk books for a patron who is standing there or on the phone."""

import re

import pytest
from django.urls import reverse

from appointments.models import Appointment
from patrons.models import Patron

from .factories import (
    local,
    make_appointment,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client):
    user = make_user("frontdesk", groups=("Desk",))
    client.force_login(user)
    return user


def find(client, query):
    return client.post(reverse("appointments:desk"), {"q": query}).content.decode()


def test_desk_finds_a_patron_by_name_phone_email_or_card(client, desk):
    make_patron(
        "Rosa Martinez",
        email="",
        phone="(312) 555-0142",
        preferred_contact="call",
        card_number="2100777",
    )
    make_patron("Marcus Lee", email="marcus@example.org")
    for query in ["rosa", "555-0142", "5550142", "2100777"]:
        assert "Book for Rosa Martinez" in find(client, query), query
    assert "Book for Marcus Lee" in find(client, "MARCUS@example.org")
    assert "No patron matches that" in find(client, "Nobody Here")
    assert "Book for Rosa" not in find(client, "  ")


def test_desk_adds_a_patron_on_the_spot_and_bad_input_saves_nothing(client, desk):
    url = reverse("appointments:desk_add_patron")
    page = client.post(url, {"name": "Rosa", "preferred_contact": "call"}).content.decode()
    assert "Please give an email address or a phone number." in page
    page = client.post(
        url, {"name": "Rosa", "email": "rosa@example.org", "preferred_contact": "call"}
    ).content.decode()
    assert "You chose a text or a call, so please give a phone number." in page
    assert Patron.objects.count() == 0
    response = client.post(
        url, {"name": "Rosa Martinez", "phone": "312-555-0142", "preferred_contact": "call"}
    )
    rosa = Patron.objects.get()
    assert response["Location"] == reverse("appointments:desk_book", args=[rosa.pk])


def test_desk_adding_a_known_patron_is_offered_their_record_first(client, desk):
    rosa = make_patron("Rosa Martinez", email="", phone="(312) 555-0142", preferred_contact="call")
    url = reverse("appointments:desk_add_patron")
    details = {"name": "Rosa Martinez", "phone": "312-555-0142", "preferred_contact": "call"}
    page = client.post(url, details).content.decode()
    assert "We may already know this patron" in page
    assert reverse("appointments:desk_book", args=[rosa.pk]) in page
    assert Patron.objects.count() == 1
    # A different person who shares the phone (a grandson's, say) can still be added.
    response = client.post(url, {**details, "name": "Luis Martinez", "someone_else": "1"})
    luis = Patron.objects.get(name="Luis Martinez")
    assert response["Location"] == reverse("appointments:desk_book", args=[luis.pk])


def desk_times(client, patron, topic, day):
    url = reverse("appointments:desk_book", args=[patron.pk])
    page = client.get(url, {"topic": topic.pk, "week": day.isoformat()})
    return url + f"?topic={topic.pk}&week={day.isoformat()}", re.findall(
        r'name="slot" id="[^"]+" value="([^"]+)"', page.content.decode()
    )


def test_desk_books_for_a_phone_caller(client, desk, librarian, topic):
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    tuesday = next_weekday(1)
    url, values = desk_times(client, rosa, topic, tuesday)
    ten = next(v for v in values if v.endswith(str(int(local(tuesday, 10).timestamp()))))
    response = client.post(
        url,
        {
            "slot": ten,
            "skill_level": "new",
            "learning_goal": "Video calls with family",
            "party_size": 1,
            "channel": "phone",
        },
    )
    session = Appointment.objects.get()
    assert response["Location"] == reverse("appointments:desk_booked", args=[session.reference])
    assert (session.patron, session.channel, session.booked_by) == (rosa, "phone", desk)
    page = client.get(response["Location"]).content.decode()
    day = f"{tuesday:%A} {tuesday.day} {tuesday:%B}"
    assert f"{day}, 10 am, for 60 minutes, at Central Library" in page
    assert "with Ana P.”" in page  # one full stop after her initial, not two


def test_desk_is_told_why_a_daily_cap_refuses_and_can_say_why_to_pass_it(
    client, desk, librarian, topic, settings
):
    settings.BOOKING_MAX_PER_DAY = 1
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    tuesday = next_weekday(1)
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=librarian.branches.get(),
        patron=rosa,
        start=local(tuesday, 10),
    )
    url, values = desk_times(client, rosa, topic, tuesday)
    eleven = next(v for v in values if v.endswith(str(int(local(tuesday, 11).timestamp()))))
    need = {"slot": eleven, "skill_level": "new", "learning_goal": "Email", "party_size": 1}
    page = client.post(url, {**need, "channel": "desk"}).content.decode()
    assert "Rosa Martinez has 1 already that day" in page
    assert Appointment.objects.count() == 1
    client.post(url, {**need, "channel": "desk", "limit_override_reason": "Two short questions"})
    assert Appointment.objects.count() == 2


def test_desk_errors_speak_about_the_patron(client, desk, librarian, topic):
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    url, values = desk_times(client, rosa, topic, next_weekday(1))
    page = client.post(url, {"slot": values[0], "party_size": 1, "channel": "phone"})
    text = page.content.decode()
    assert "Please choose how confident the patron feels." in text
    assert "Please note what the patron would like help with." in text
    assert Appointment.objects.count() == 0


def test_desk_can_book_sooner_than_patrons_online(client, desk, librarian, topic, settings):
    settings.BOOKING_MIN_NOTICE_HOURS = 24 * 30
    patron = make_patron()
    url, values = desk_times(client, patron, topic, next_weekday(1))
    assert values  # online, nothing would be offered inside a month's notice


def test_desk_sees_the_limit_and_must_say_why_to_pass_it(client, desk, librarian, topic, branch):
    patron = make_patron("Daily Booker")
    for weekday in (1, 3):
        make_appointment(
            staff=librarian,
            topic=topic,
            branch=branch,
            patron=patron,
            start=local(next_weekday(weekday, weeks_ahead=2), 10),
        )
    url, values = desk_times(client, patron, topic, next_weekday(1))
    page = client.get(url).content.decode()
    assert "Daily Booker has 2 upcoming sessions (the limit is 2)" in page
    data = {
        "slot": values[0],
        "skill_level": "some",
        "learning_goal": "CV",
        "party_size": 1,
        "channel": "desk",
    }
    page = client.post(url, data).content.decode()
    assert "Say why you are booking another" in page
    assert Appointment.objects.count() == 2
    client.post(url, {**data, "limit_override_reason": "Job fair on Friday"})
    assert Appointment.objects.filter(limit_override_reason="Job fair on Friday").count() == 1


def test_a_taken_time_or_bad_input_at_the_desk_saves_nothing(
    client, desk, librarian, topic, branch
):
    patron = make_patron()
    tuesday = next_weekday(1)
    url, values = desk_times(client, patron, topic, tuesday)
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    ten = next(v for v in values if v.endswith(str(int(local(tuesday, 10).timestamp()))))
    good = {
        "slot": ten,
        "skill_level": "new",
        "learning_goal": "Email",
        "party_size": 1,
        "channel": "desk",
    }
    page = client.post(url, good).content.decode()
    assert "That time was just taken" in page
    for bad in [
        {"slot": "garbage"},
        {"skill_level": ""},
        {"learning_goal": " "},
        {"party_size": 7},
        {"channel": "carrier pigeon"},
    ]:
        response = client.post(url, {**good, "slot": values[-1], **bad})
        assert response.status_code == 200, bad
    assert Appointment.objects.filter(patron=patron).count() == 0


def test_desk_suggests_the_same_length_as_online(client, desk, branch):
    phones = make_topic("Smartphones and tablets", lengths=(30, 60))
    make_staff("Ben O.", branch=branch, topics=[phones], hours=[(1, 10, 12)])
    harriet = make_patron(
        "Harriet Caller", email="", phone="312-555-0150", preferred_contact="call"
    )
    url = reverse("appointments:desk_book", args=[harriet.pk])
    page = client.get(url, {"topic": phones.pk}).content.decode()
    assert '<option value="60" selected>60 minutes</option>' in page
    assert '<option value="30">30 minutes</option>' in page
    assert "Most people choose 60 minutes; choose 30 minutes for one quick question." in page
    # A length the desk chose stays chosen.
    page = client.get(url, {"topic": phones.pk, "length": 30}).content.decode()
    assert '<option value="30" selected>30 minutes</option>' in page


def test_the_read_back_gives_the_length_in_the_patrons_language(client, desk, librarian, topic):
    maria = make_patron(
        "María González", email="", phone="312-555-0160", preferred_contact="call", language="es"
    )
    tuesday = next_weekday(1)
    url, values = desk_times(client, maria, topic, tuesday)
    ten = next(v for v in values if v.endswith(str(int(local(tuesday, 10).timestamp()))))
    need = {"slot": ten, "skill_level": "new", "learning_goal": "Fotos", "party_size": 1}
    response = client.post(url, {**need, "channel": "phone"})
    page = client.get(response["Location"]).content.decode()
    assert ", 10:00, durante 60 minutos, en Central Library, con Ana P.”" in page
