"""A topic the staff have written in Spanish reads in Spanish on Spanish pages; one they have not
reads in English, marked as English (lang="en") so screen readers pronounce it right."""

import pytest
from django.urls import reverse

from appointments.models import TopicTranslation

from .factories import make_staff, make_topic, next_weekday

pytestmark = pytest.mark.django_db

SPANISH = {"HTTP_ACCEPT_LANGUAGE": "es-US,es;q=0.9"}


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _tell_need(client, topic) -> None:
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Correo", "party_size": 1},
    )


def test_a_topic_written_in_spanish_reads_in_spanish_on_every_booking_page(
    client, librarian, topic
):
    TopicTranslation.objects.create(
        topic=topic,
        language="es",
        name="Computación básica",
        description="Ayuda con lo básico de la computadora.",
    )
    client.defaults.update(SPANISH)

    home = _html(client.get(reverse("appointments:home")))
    assert "Computación básica" in home and "Ayuda con lo básico de la computadora." in home
    assert "Computer basics" not in home and 'lang="en"' not in home.split("<main")[1]

    _tell_need(client, topic)
    need = _html(client.get(reverse("appointments:need", args=[topic.slug])))
    assert "<h1>Computación básica</h1>" in need
    assert "<p>Ayuda con lo básico de la computadora.</p>" in need

    week = next_weekday(1).isoformat()
    time_page = _html(client.get(reverse("appointments:time", args=[topic.slug]) + f"?week={week}"))
    assert "<h1>Computación básica</h1>" in time_page
    assert "Computer basics" not in time_page


def test_a_topic_not_written_in_spanish_reads_in_english_marked_as_english(
    client, librarian, topic
):
    client.defaults.update(SPANISH)

    home = _html(client.get(reverse("appointments:home")))
    assert '<h2 class="h4 card-title" lang="en">' in home
    assert '<p class="card-text" lang="en">Help with computer basics.</p>' in home

    _tell_need(client, topic)
    need = _html(client.get(reverse("appointments:need", args=[topic.slug])))
    assert '<h1 lang="en">Computer basics</h1>' in need
    assert '<p lang="en">Help with computer basics.</p>' in need
    time_page = _html(client.get(reverse("appointments:time", args=[topic.slug])))
    assert '<h1 lang="en">Computer basics</h1>' in time_page


def test_a_half_written_translation_marks_only_the_english_part(client, librarian, topic):
    TopicTranslation.objects.create(topic=topic, language="es", name="Computación básica")
    need = _html(client.get(reverse("appointments:need", args=[topic.slug]), **SPANISH))
    assert "<h1>Computación básica</h1>" in need
    assert '<p lang="en">Help with computer basics.</p>' in need


def test_english_pages_carry_no_lang_marks(client, librarian, topic):
    TopicTranslation.objects.create(topic=topic, language="es", name="Computación básica")
    home = _html(client.get(reverse("appointments:home")))
    assert "Computer basics" in home and "Computación" not in home
    assert 'lang="en"' not in home.split("<main")[1].split("</main>")[0]


def test_a_staff_introduction_on_a_spanish_page_is_marked_as_english(client, branch, topic):
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    ana.introduction = "I love spreadsheets."
    ana.save()
    client.defaults.update(SPANISH)
    _tell_need(client, topic)
    url = reverse("appointments:time", args=[topic.slug]) + f"?staff={ana.pk}"
    page = _html(client.get(url))
    assert '<span lang="en">I love spreadsheets.</span>' in page

    english = _html(client.get(url, HTTP_ACCEPT_LANGUAGE="en"))
    assert "<span>I love spreadsheets.</span>" in english


def test_the_spanish_booking_pages_fetch_the_topic_texts_once(
    client, librarian, django_assert_num_queries
):
    for n in range(3):
        topic = make_topic(f"Topic {n}")
        librarian.topics.add(topic)
        TopicTranslation.objects.create(topic=topic, language="es", name=f"Tema {n}")
    with django_assert_num_queries(2):  # the topics, then their Spanish texts
        home = _html(client.get(reverse("appointments:home"), **SPANISH))
    assert "Tema 2" in home
    with django_assert_num_queries(2):  # the topic, then its Spanish texts
        _html(client.get(reverse("appointments:need", args=[topic.slug]), **SPANISH))
    with django_assert_num_queries(1):
        _html(client.get(reverse("appointments:need", args=[topic.slug])))
