"""María reads Spanish first: she books, moves and cancels online entirely in Spanish.

The first visit follows the browser (Accept-Language); the switcher on every page changes the
language and brings her back to the page she was on. A language the library does not offer
falls back to English.
"""

import re
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import translation

from appointments.formatting import format_day, format_time, format_when
from appointments.links import make_feedback_token, private_path

from .factories import CHICAGO, local, make_appointment, make_patron, next_weekday

pytestmark = pytest.mark.django_db

SPANISH = {"HTTP_ACCEPT_LANGUAGE": "es-US,es;q=0.9"}

# Text every English page shows in its header and footer.
ENGLISH_FRAME = ["Skip to main content", "Book a session", "Questions? Call us", "privacy promise"]


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _assert_spanish(page: str, *spanish: str, not_english: tuple[str, ...] = ()) -> None:
    assert '<html lang="es">' in page
    assert "Saltar al contenido principal" in page
    assert "Nuestro compromiso con su privacidad" in page
    for phrase in spanish:
        assert phrase in page, phrase
    for phrase in (*ENGLISH_FRAME, *not_english):
        assert phrase not in page, phrase


def _slot_values(page: str) -> list[str]:
    return re.findall(r'name="slot" id="[^"]+" value="([^"]+)"', page)


def _value_at(values: list[str], moment: datetime) -> str:
    return next(v for v in values if v.endswith(f"-{int(moment.timestamp())}"))


def test_a_spanish_speaking_patron_books_moves_and_cancels_in_spanish(client, librarian, topic):
    tuesday, thursday = next_weekday(1), next_weekday(3)
    client.defaults.update(SPANISH)

    home = _html(client.get(reverse("appointments:home")))
    _assert_spanish(
        home,
        "Reciba ayuda individual en la biblioteca",
        "60 minutos",
        "¿Prefiere reservar por teléfono o en persona?",
        not_english=("Get one-on-one help", "60 minutes", "Rather book by phone"),
    )

    need_url = reverse("appointments:need", args=[topic.slug])
    need = _html(client.get(need_url))
    _assert_spanish(
        need,
        "¿Cuánta experiencia tiene con esto?",
        "Soy principiante",
        "Tengo algo de experiencia",
        "Solo yo",
        "Siguiente: elegir una hora",
        "1. Lo que necesita",
        not_english=("How confident", "New to this", "Just me", "Next: choose a time"),
    )
    data = {
        "skill_level": "new",
        "learning_goal": "Llenar una solicitud de empleo",
        "party_size": 1,
    }
    assert client.post(need_url, data).status_code == 302

    time_url = reverse("appointments:time", args=[topic.slug])
    times = _html(client.get(time_url, {"week": tuesday.isoformat()}))
    _assert_spanish(
        times,
        "Elija una hora",
        "Horas disponibles, del ",
        format_day_in_spanish(tuesday),
        "10:00",
        "Cualquier persona disponible",
        "Siguiente: sus datos",
        "Anótese en la lista de espera",
        not_english=("Choose a time", "Open times", "10 am", "Any available staff member"),
    )
    chosen = client.post(
        f"{time_url}?week={tuesday.isoformat()}",
        {"slot": _value_at(_slot_values(times), local(tuesday, 10))},
    )
    assert chosen.status_code == 302

    details = _html(client.get(chosen["Location"]))
    _assert_spanish(
        details,
        f"<strong>{format_day_in_spanish(tuesday)}, 10:00</strong> en Central Library.",
        "Su nombre",
        "¿Cómo prefiere que nos comuniquemos con usted?",
        "Correo electrónico",
        "Mensaje de texto",
        "Reservar esta sesión",
        not_english=("Your name", "How should we reach you?", "Book this session", " at Central"),
    )
    slot = re.search(r'name="slot" value="([^"]+)"', details)[1]
    booked = client.post(
        chosen["Location"],
        {
            "slot": slot,
            "name": "María Gómez",
            "email": "maria@example.org",
            "preferred_contact": "email",
        },
        follow=True,
    )
    manage = _html(booked)
    _assert_spanish(
        manage,
        "Ya tiene su reserva. Será un gusto atenderle.",
        "Su sesión de ayuda",
        f"{format_day_in_spanish(tuesday)}, 10:00 a 11:00",
        "Agregar a mi calendario",
        "También se la enviamos por correo electrónico.",
        "Cambiar la hora",
        "Cancelar esta sesión",
        not_english=("You're booked", "Your help session", "Change the time", " to 11 am"),
    )
    manage_url = booked.redirect_chain[-1][0]

    move_url = manage_url + "change/"
    move = _html(client.get(move_url, {"week": thursday.isoformat()}))
    _assert_spanish(
        move,
        "Cambiar la hora de su sesión",
        "Ahora: <strong>",
        "Pasar mi sesión a esta hora",
        "Mantener la hora que tengo",
        not_english=("Change the time of your session", "Move my session", "Keep the time"),
    )
    moved = client.post(
        f"{move_url}?week={thursday.isoformat()}",
        {"slot": _value_at(_slot_values(move), local(thursday, 11))},
        follow=True,
    )
    _assert_spanish(
        _html(moved),
        "Su sesión tiene una nueva hora. Le enviamos un aviso.",
        f"{format_day_in_spanish(thursday)}, 11:00 a 12:00",
        not_english=("Your session has a new time",),
    )

    cancel = _html(client.get(manage_url + "cancel/"))
    _assert_spanish(
        cancel,
        "¿Quiere cancelar su sesión de ayuda?",
        "Sí, cancelar esta sesión",
        "No, quiero mantenerla",
        not_english=("Cancel your help session?", "Yes, cancel", "No, keep it"),
    )
    cancelled = _html(client.post(manage_url + "cancel/", follow=True))
    _assert_spanish(
        cancelled,
        "Su sesión está cancelada. Gracias por avisarnos.",
        "Reservar de nuevo",
        not_english=("Your session is cancelled", "Book again"),
    )


def format_day_in_spanish(day) -> str:
    with translation.override("es"):
        return format_day(day)


def test_form_errors_are_in_spanish_too(client, librarian, topic):
    client.defaults.update(SPANISH)
    need_url = reverse("appointments:need", args=[topic.slug])
    page = _html(client.post(need_url, {"learning_goal": " ", "party_size": 9}))
    _assert_spanish(
        page,
        "Error: ",
        "Por favor, revise el formulario",
        "Por favor, díganos cuánta experiencia tiene.",
        "Por favor, díganos con qué le gustaría recibir ayuda.",
        "Por favor, elija una de las respuestas que aparecen.",
        not_english=("Please check the form", "Please choose how confident", "Select a valid"),
    )

    client.post(need_url, {"skill_level": "some", "learning_goal": "Correo", "party_size": 1})
    slot = f"{librarian.branches.first().pk}-0-{int(local(next_weekday(1), 10).timestamp())}"
    contact_url = reverse("appointments:contact", args=[topic.slug])
    page = _html(client.post(contact_url, {"slot": slot, "name": "", "phone": "12"}))
    _assert_spanish(
        page,
        "Por favor, díganos su nombre.",
        "Por favor, revise el número de teléfono; debe escribirse como 312-555-0142.",
        "Por favor, elija cómo prefiere que nos comuniquemos con usted.",
        not_english=("Please tell us your name", "Please check the phone number"),
    )
    page = _html(
        client.post(contact_url, {"slot": slot, "name": "María", "preferred_contact": "text"})
    )
    assert "Por favor, denos un correo electrónico o un número de teléfono." in page


def test_the_switcher_changes_the_language_and_keeps_the_page(client, librarian, topic):
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Photos", "party_size": 1},
    )
    week = next_weekday(1).isoformat()
    time_page = reverse("appointments:time", args=[topic.slug]) + f"?week={week}"

    english = _html(client.get(time_page))
    assert '<html lang="en">' in english
    assert '<span class="current-language" lang="en" aria-current="true">English</span>' in english
    assert re.search(r'<button[^>]*name="language" value="es" lang="es">Español</button>', english)
    assert f'name="next" value="{time_page}"' in english

    switched = client.post(reverse("set_language"), {"language": "es", "next": time_page})
    assert switched.status_code == 302
    assert switched["Location"] == time_page

    spanish = _html(client.get(switched["Location"]))
    _assert_spanish(spanish, "Elija una hora", "10:00", not_english=("Choose a time",))
    assert '<span class="current-language" lang="es" aria-current="true">Español</span>' in spanish
    assert re.search(r'<button[^>]*name="language" value="en" lang="en">English</button>', spanish)

    back = client.post(reverse("set_language"), {"language": "en", "next": time_page})
    assert back["Location"] == time_page
    assert '<html lang="en">' in _html(client.get(time_page))


def test_the_choice_outranks_the_browser(client, librarian, topic):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = _html(client.get(reverse("appointments:home"), **SPANISH))
    assert '<html lang="en">' in page
    assert "Get one-on-one help at the library" in page


def test_a_language_the_library_does_not_offer_falls_back_to_english(client, librarian, topic):
    page = _html(client.get(reverse("appointments:home"), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9"))
    assert '<html lang="en">' in page
    assert "Get one-on-one help at the library" in page
    unknown = client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert '<html lang="en">' in _html(client.get(unknown["Location"]))


def test_the_privacy_page_and_error_pages_speak_spanish(client, db):
    client.defaults.update(SPANISH)
    _assert_spanish(
        _html(client.get(reverse("appointments:privacy"))),
        "Su privacidad",
        "Qué datos reunimos y para qué",
        "días después de su sesión; luego se borran",
        not_english=("Your privacy", "What we collect"),
    )
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert "No pudimos encontrar esa página" in missing.content.decode()
    assert '<html lang="es">' in missing.content.decode()


def test_her_data_the_waiting_list_and_the_follow_up_speak_spanish(client, librarian, topic):
    client.defaults.update(SPANISH)
    session = make_appointment(
        staff=librarian,
        topic=topic,
        branch=librarian.branches.first(),
        patron=make_patron(language="es"),
        start=local(next_weekday(1), 10),
        language="es",
    )
    my_data = _html(client.get(private_path(session) + "my-data/"))
    _assert_spanish(
        my_data,
        "Los datos que tenemos sobre usted",
        "Correo electrónico",
        f"{format_day_in_spanish(next_weekday(1))}, 10:00 en Central Library",
        "Nos contó: «Update my résumé»",
        not_english=("The information we hold", "You told us"),
    )
    forget_page = _html(client.get(private_path(session) + "my-data/delete/"))
    _assert_spanish(
        forget_page,
        "¿Quiere borrar todos los datos que tenemos sobre usted?",
        # Her data ("los datos"), not the session of the cancel page ("la sesión").
        "No, quiero conservarlos",
        not_english=("Delete all the information", "No, keep it"),
    )
    assert "mantenerla" not in forget_page
    feedback_url = reverse("appointments:feedback", args=[make_feedback_token(session)])
    _assert_spanish(
        _html(client.get(feedback_url)),
        "¿Le sirvió su sesión?",
        "5 – Me ayudó mucho",
        not_english=("Did your session help?", "It helped a lot"),
    )

    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Correo", "party_size": 1},
    )
    _assert_spanish(
        _html(client.get(reverse("appointments:join_waitlist", args=[topic.slug]))),
        "Anótese en la lista de espera de Computer basics",
        "¿Qué días le vienen bien?",
        "martes",
        "A cualquier hora del día",
        not_english=("Join the waiting list", "Which days suit you", "Tuesday"),
    )


def test_dates_and_times_in_words_follow_the_language():
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO)
    assert format_when(tuesday) == "Tuesday 1 December, 10 am"
    with translation.override("es"):
        assert format_when(tuesday) == "martes 1 de diciembre, 10:00"
        assert format_time(tuesday.replace(hour=12)) == "12:00"
        assert format_time(tuesday.replace(hour=14, minute=30)) == "14:30"
        fall_back = datetime(2026, 11, 1, 1, 30, tzinfo=CHICAGO)
        assert format_time(fall_back) == "01:30 (la primera vez, antes del cambio de hora)"
        assert format_time(fall_back.replace(fold=1)) == (
            "01:30 (la segunda vez, después del cambio de hora)"
        )
    with translation.override("en"):
        assert format_time(tuesday.replace(hour=12)) == "noon"
