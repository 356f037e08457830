"""María booked in Spanish; her private links speak Spanish even when she opens them on a
computer whose browser asks for English, until she picks a language with the switcher."""

import pytest
from django.conf import settings
from django.urls import reverse

from appointments.links import make_feedback_token, private_path
from appointments.models import WaitlistEntry
from appointments.waitlist import place_token

from .factories import local, make_appointment, make_patron, next_weekday

pytestmark = pytest.mark.django_db

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


@pytest.fixture
def marias_session(librarian, topic, branch):
    maria = make_patron("María G.", language="es")
    return make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=maria,
        start=local(next_weekday(1), 10),
        language="es",
    )


def _page(client, url) -> str:
    response = client.get(url, **ENGLISH)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_her_private_links_speak_spanish_in_an_english_browser(client, marias_session):
    link = private_path(marias_session)
    for url in (link, link + "my-data/", link + "my-data/delete/", link + "change/"):
        page = _page(client, url)
        assert '<html lang="es">' in page, url
        assert "Saltar al contenido principal" in page, url
    cancel = _page(client, link + "cancel/")
    assert '<html lang="es">' in cancel
    feedback = _page(
        client, reverse("appointments:feedback", args=[make_feedback_token(marias_session)])
    )
    assert "¿Le sirvió su sesión?" in feedback


def test_the_switcher_still_wins_on_her_private_links(client, marias_session):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = _page(client, private_path(marias_session))
    assert '<html lang="en">' in page
    assert "Skip to main content" in page


def test_her_waiting_list_link_speaks_spanish_in_an_english_browser(client, librarian, topic):
    entry = WaitlistEntry.objects.create(
        topic=topic,
        patron=make_patron("María G.", language="es"),
        skill_level="new",
        learning_goal="Correo",
        party_size=1,
        length=60,
    )
    url = reverse("appointments:waitlist_place", args=[place_token(entry)])
    page = _page(client, url)
    assert '<html lang="es">' in page and "Su lugar en la lista de espera" in page
    leave = _page(client, reverse("appointments:waitlist_leave", args=[place_token(entry)]))
    assert '<html lang="es">' in leave


def test_an_english_speaking_patrons_link_stays_english_in_a_spanish_browser(
    client, librarian, topic, branch
):
    session = make_appointment(
        staff=librarian, topic=topic, branch=branch, start=local(next_weekday(1), 10)
    )
    page = client.get(private_path(session), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="en">' in page
