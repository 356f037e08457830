"""The Spanish a patron reads says the same thing the same way everywhere: the parts of the day
on the waiting-list form, in the staff's list and in the confirmation are one set of words."""

import pytest
from django.urls import reverse
from django.utils import translation

from appointments.forms import PATRON_TIMES_OF_DAY
from appointments.models import TimeOfDay, WaitlistEntry
from appointments.waitlist import describe_wishes

from .factories import make_patron

pytestmark = pytest.mark.django_db

SPANISH_PARTS = {
    TimeOfDay.ANY: "A cualquier hora del día",
    TimeOfDay.MORNING: "Por la mañana (antes de las 12:00)",
    TimeOfDay.AFTERNOON: "Por la tarde (de 12:00 a 17:00)",
    TimeOfDay.EVENING: "Por la tarde-noche (desde las 17:00)",
}


def test_the_parts_of_the_day_read_the_same_for_patrons_and_staff():
    with translation.override("es"):
        assert {value: str(label) for value, label in PATRON_TIMES_OF_DAY} == SPANISH_PARTS
        assert {value: str(label) for value, label in TimeOfDay.choices} == SPANISH_PARTS


def test_the_waiting_list_confirmation_names_the_part_of_the_day_the_same_way(topic):
    entry = WaitlistEntry(
        topic=topic,
        patron=make_patron(language="es"),
        weekdays=[1],
        time_of_day=TimeOfDay.EVENING,
        skill_level="new",
        learning_goal="Correo",
        party_size=1,
        length=60,
    )
    with translation.override("es"):
        assert "por la tarde-noche" in describe_wishes(entry)
        entry.time_of_day = TimeOfDay.ANY
        assert "a cualquier hora del día" in describe_wishes(entry)


def test_the_home_page_invites_in_plain_spanish(client, librarian):
    page = client.get(reverse("appointments:home"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "<title>Reservar una sesión de ayuda" in page
    assert "Reciba ayuda individual en la biblioteca" in page
    assert "Alguien de la biblioteca le ayuda, gratis, durante 30 a 60 minutos." in page
