"""María reads Spanish first: every message to her is in Spanish, whoever causes it.

The patron's language is kept on their record (and on each session) when they book online or
join the waiting list, or when the desk books for them by phone; confirmation, reminder, change,
cancellation, waiting-list messages, follow-up, call scripts and the calendar file follow it.
Dates inside messages are worded by appointments/formatting.py, so these tests assert on the
message's own words, not on the wording of dates.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from icalendar import Calendar

from appointments import messaging
from appointments.booking import cancel_appointment, reschedule_appointment
from appointments.links import private_path
from appointments.models import (
    Appointment,
    Availability,
    Message,
    MessageKind,
    Status,
    Topic,
    TopicTranslation,
    WaitlistEntry,
)
from appointments.texting import MemoryTextBackend
from appointments.waitlist import offer_open_times
from patrons.models import Patron

from .factories import (
    book,
    local,
    make_appointment,
    make_patron,
    make_staff,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db

SPANISH_NAME = "Computación básica"


@pytest.fixture(autouse=True)
def default_language():
    """Test requests leave their language active in the thread: start and end in English."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def texts(settings):
    settings.TEXT_BACKEND = "appointments.texting.MemoryTextBackend"
    MemoryTextBackend.outbox.clear()
    return MemoryTextBackend.outbox


@pytest.fixture
def ana_has_email(librarian):
    librarian.user.email = "ana@library.example"
    librarian.user.save()
    return librarian


@pytest.fixture
def spanish_topic(topic):
    TopicTranslation.objects.create(
        topic=topic,
        language="es",
        name=SPANISH_NAME,
        description="Ratón, teclado, correo electrónico y mucho más.",
    )
    return topic


@pytest.fixture
def desk(client):
    user = make_user("frontdesk", groups=("Desk",))
    client.force_login(user)
    return user


def chosen_language(page: str) -> str:
    """The language chosen in the desk's "Language for messages" list."""
    field = re.search(r'<select name="language".*?</select>', page, re.S)[0]
    return re.search(r'<option value="(\w+)"\s+selected', field)[1]


def only(kind: str, **where) -> Message:
    return Message.objects.get(kind=kind, **where)


def assert_spanish(message: Message, *phrases: str) -> None:
    for phrase in phrases:
        assert phrase in message.body, (phrase, message.body)
    for english in ("Hello ", "Your help session", "Questions? Call us", "Privacy:", "Call us"):
        assert english not in message.body, (english, message.body)
    assert "How we keep your information private" not in message.body


def book_online(client, topic, branch, start, language="es"):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Solicitar un empleo en línea", "party_size": 1},
    )
    slot = f"{branch.pk}-0-{int(start.timestamp())}"
    client.post(reverse("appointments:time", args=[topic.slug]), {"slot": slot})
    details = {"name": "María Gómez", "email": "maria@example.org", "preferred_contact": "email"}
    response = client.post(
        reverse("appointments:contact", args=[topic.slug]), {"slot": slot, **details}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Appointment.objects.select_related("patron").get()


def test_a_spanish_speaking_patron_books_moves_and_cancels_all_in_spanish(
    client, ana_has_email, spanish_topic, branch
):
    tuesday, thursday = next_weekday(1), next_weekday(3)
    session = book_online(client, spanish_topic, branch, local(tuesday, 10))
    assert (session.language, session.patron.language) == ("es", "es")

    confirmation = only(MessageKind.CONFIRMATION)
    assert confirmation.subject == "Su sesión de ayuda en la biblioteca está reservada"
    assert_spanish(
        confirmation,
        "Hola, María:",
        "Su sesión de ayuda está reservada.",
        f"Tema:   {SPANISH_NAME}",
        "Dónde:  Central Library",
        "El archivo de calendario adjunto agrega la sesión a su calendario.",
        "use su enlace privado:",
        "Cómo protegemos su información:",
    )
    # Ana gets her own message in the library's default language.
    staff_new = only(MessageKind.STAFF_NEW_BOOKING)
    assert staff_new.subject.startswith("New session booked: ")
    assert "A help session is booked with you." in staff_new.body
    assert "Computer basics" in staff_new.body
    messaging.send_due()  # each message goes before the next change makes it moot

    # The reminder, written by the worker's run, with no request at all.
    Appointment.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(days=3))
    messaging.enqueue_reminders(now=session.starts_at - timedelta(hours=23))
    reminder = only(MessageKind.REMINDER)
    assert reminder.subject == "Recordatorio: su sesión de ayuda en la biblioteca"
    assert_spanish(reminder, "Le recordamos su sesión de ayuda:", "Si no puede venir")
    messaging.send_due()

    link = private_path(session)
    thursday_ten = f"{branch.pk}-0-{int(local(thursday, 10).timestamp())}"
    moved = client.post(link + "change/?week=" + thursday.isoformat(), {"slot": thursday_ten})
    assert moved.status_code == 302
    change = only(MessageKind.CHANGE)
    assert change.subject == "Su sesión de ayuda en la biblioteca tiene un nuevo horario"
    assert_spanish(change, "Su sesión de ayuda tiene un nuevo horario.", "actualiza la sesión")
    messaging.send_due()

    assert client.post(link + "cancel/").status_code == 302
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    cancellation = only(MessageKind.CANCELLATION)
    assert cancellation.subject == "Se canceló su sesión de ayuda en la biblioteca"
    assert_spanish(cancellation, "quedó cancelada.", "Para reservar otra sesión, visite")
    assert "Session cancelled" in only(MessageKind.STAFF_CANCELLATION).subject

    # What the worker sends: the same words, and calendar files in Spanish.
    messaging.send_due()
    to_maria = [m for m in mail.outbox if m.to == ["maria@example.org"]]
    assert [m.subject for m in to_maria] == [
        "Su sesión de ayuda en la biblioteca está reservada",
        "Recordatorio: su sesión de ayuda en la biblioteca",
        "Su sesión de ayuda en la biblioteca tiene un nuevo horario",
        "Se canceló su sesión de ayuda en la biblioteca",
    ]
    assert all(sent.body.startswith("Hola, María:") for sent in to_maria)
    for sent in [to_maria[0], *to_maria[2:]]:  # a reminder carries no calendar file
        event = Calendar.from_ical(sent.attachments[0][1]).walk("VEVENT")[0]
        assert str(event["SUMMARY"]) == f"Ayuda en la biblioteca: {SPANISH_NAME}"
        assert str(event["DESCRIPTION"]).startswith("Una sesión de ayuda individual con Ana P.")


def test_the_calendar_file_from_the_link_is_in_the_patrons_language(
    client, librarian, topic, branch
):
    maria = make_patron("María Gómez", language="es")
    session = make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=maria, start=local(next_weekday(1), 10)
    )
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.get(private_path(session) + "calendar.ics")
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    # No Spanish name for the topic yet: the English one, never an empty string.
    assert str(event["SUMMARY"]) == "Ayuda en la biblioteca: Computer basics"


def test_a_follow_up_goes_in_the_patrons_language_by_email_and_by_text(librarian, topic, branch):
    now = timezone.now()
    luis = make_patron(
        "Luis Ortega", email="", phone="312-555-0188", preferred_contact="text", language="es"
    )
    for patron, hours_ago in ((make_patron("María Gómez", language="es"), 6), (luis, 8)):
        make_appointment(
            staff=librarian,
            topic=topic,
            branch=branch,
            patron=patron,
            start=now - timedelta(hours=hours_ago),
            status=Status.ATTENDED,
        )
    assert messaging.enqueue_follow_ups() == 2
    by_email = only(MessageKind.FOLLOW_UP, channel="email")
    assert by_email.subject == "¿Le sirvió su sesión de ayuda en la biblioteca?"
    assert_spanish(by_email, "Gracias por venir a su sesión de ayuda", "¿Le sirvió?")
    by_text = only(MessageKind.FOLLOW_UP, channel="text")
    assert "gracias por venir. ¿Le sirvió la sesión? Cuéntenos:" in by_text.body
    assert "Privacidad:" in by_text.body and "Privacy" not in by_text.body


def test_a_waiting_list_place_and_its_offer_are_in_the_language_of_the_page(
    client, spanish_topic, branch
):
    ana = make_staff("Ana P.", branch=branch, topics=[spanish_topic], hours=[(1, 10, 11)])
    tuesday = next_weekday(1)
    Availability.objects.filter(staff=ana).update(valid_from=tuesday, valid_until=tuesday)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"
    client.post(
        reverse("appointments:need", args=[spanish_topic.slug]),
        {"skill_level": "some", "learning_goal": "Hojas de cálculo", "party_size": 1},
    )
    client.post(
        reverse("appointments:join_waitlist", args=[spanish_topic.slug]),
        {
            "name": "María Gómez",
            "email": "maria@example.org",
            "preferred_contact": "email",
            "weekdays": ["1", "3"],
        },
    )
    entry = WaitlistEntry.objects.select_related("patron").get()
    assert entry.patron.language == "es"
    joined = only(MessageKind.WAITLIST_JOINED)
    assert joined.subject == "Está en la lista de espera para una sesión de ayuda en la biblioteca"
    assert_spanish(
        joined,
        f"Ya está en la lista de espera para {SPANISH_NAME}.",
        "Cuándo puede venir: los martes o los jueves, a cualquier hora del día, en cualquiera de "
        "nuestras bibliotecas",
    )

    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # whoever runs the offers, in any language
    assert offer_open_times()["offered"] == 1
    offer = only(MessageKind.WAITLIST_OFFER)
    assert offer.subject == "Se liberó un horario para su sesión de ayuda en la biblioteca"
    assert_spanish(
        offer, f"Buenas noticias: se liberó un horario para su sesión de {SPANISH_NAME}."
    )


def test_desk_books_for_a_spanish_speaker_by_phone_and_the_reminder_goes_in_spanish(
    client, desk, librarian, spanish_topic, branch
):
    luis = make_patron("Luis Ortega", email="", phone="312-555-0188", preferred_contact="text")
    rosa = make_patron("Rosa Martínez", email="", phone="312-555-0142", preferred_contact="call")
    tuesday = next_weekday(1)
    url = reverse("appointments:desk_book", args=[luis.pk])
    page = client.get(url, {"topic": spanish_topic.pk, "week": tuesday.isoformat()}).content
    page = page.decode()
    assert "Language for messages" in page
    assert chosen_language(page) == "en"
    need = {"skill_level": "new", "learning_goal": "Videollamadas", "party_size": 1}
    for patron, hour in ((luis, 10), (rosa, 11)):
        slot = f"{branch.pk}-0-{int(local(tuesday, hour).timestamp())}"
        response = client.post(
            reverse("appointments:desk_book", args=[patron.pk])
            + f"?topic={spanish_topic.pk}&week={tuesday.isoformat()}",
            {**need, "slot": slot, "channel": "phone", "language": "es"},
        )
        assert response.status_code == 302, response.content.decode()[-3000:]
    assert set(Patron.objects.values_list("language", flat=True)) == {"es"}
    assert set(Appointment.objects.values_list("language", flat=True)) == {"es"}
    # The desk read the time to the patron on the phone: the text confirms it, in Spanish.
    confirmation = only(MessageKind.CONFIRMATION)
    assert "su sesión de ayuda está reservada para el" in confirmation.body

    Appointment.objects.update(created_at=timezone.now() - timedelta(days=3))
    assert messaging.enqueue_reminders(now=local(tuesday, 10) - timedelta(hours=23)) == 2
    text = only(MessageKind.REMINDER, patron=luis)
    assert text.body.startswith("Recordatorio de ")
    assert "su sesión de ayuda es el" in text.body and "¿No puede venir? Cancele aquí:" in text.body
    assert "reminder" not in text.body and "Privacidad:" in text.body
    call = only(MessageKind.REMINDER, patron=rosa)
    assert call.body.startswith(
        "Llame a Rosa Martínez al (312) 555-0142 para recordarle su sesión:"
    )
    assert f"{SPANISH_NAME}," in call.body

    # The desk (in English) sees the preference wherever the patron appears.
    calls = client.get(reverse("appointments:calls")).content.decode()
    assert "Call in Spanish" in calls
    assert 'lang="es">Llame a Rosa Martínez' in calls
    patron_page = client.get(reverse("appointments:desk_patron", args=[luis.pk])).content.decode()
    assert "Prefers Spanish" in patron_page
    session = Appointment.objects.get(patron=luis)
    session_page = client.get(reverse("appointments:session", args=[session.reference]))
    assert "Prefers Spanish" in session_page.content.decode()
    today = client.get(reverse("appointments:today"), {"date": tuesday.isoformat()})
    assert today.content.decode().count("Prefers Spanish") == 2
    # The next booking form starts from the language now known.
    page = client.get(url, {"topic": spanish_topic.pk, "week": tuesday.isoformat()}).content
    assert chosen_language(page.decode()) == "es"
    assert ">Español</option>" in page.decode()  # each language named in itself


def test_spanish_speaking_staff_read_the_desk_in_spanish(client, desk, librarian, spanish_topic):
    maria = make_patron("María Gómez", language="es")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"
    page = client.get(reverse("appointments:desk_patron", args=[maria.pk])).content.decode()
    assert "Prefiere español" in page and "Prefers" not in page
    book_page = client.get(reverse("appointments:desk_book", args=[maria.pk])).content.decode()
    assert f">{SPANISH_NAME}</option>" in book_page


def test_an_english_patrons_messages_stay_english_whatever_the_requests_language(
    client, desk, ana_has_email, topic, branch
):
    marcus = make_patron("Marcus Lee")
    session = book(patron=marcus, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    assert session.language == "en"
    # Staff whose browser is in Spanish move and cancel his session.
    with translation.override("es"):
        reschedule_appointment(
            session, branch=branch, starts_at=local(next_weekday(3), 10), by=desk
        )
        cancel_appointment(Appointment.objects.get(pk=session.pk), by_staff=True, by=desk)
    change, cancellation = only(MessageKind.CHANGE), only(MessageKind.CANCELLATION)
    assert change.subject == "Your library help session has a new time"
    assert change.body.startswith("Hello Marcus,")
    assert cancellation.subject == "Your library help session is cancelled"
    assert "Hola" not in change.body + cancellation.body
    assert "Session moved" in only(MessageKind.STAFF_MOVED).subject  # not "Sesión"

    # The desk in Spanish books for him by phone: his language stays English.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"
    tuesday = next_weekday(1)
    slot = f"{branch.pk}-0-{int(local(tuesday, 11).timestamp())}"
    url = reverse("appointments:desk_book", args=[marcus.pk])
    url += f"?topic={topic.pk}&week={tuesday.isoformat()}"
    page = client.get(url).content.decode()
    assert chosen_language(page) == "en"
    need = {"skill_level": "new", "learning_goal": "Email", "party_size": 1, "channel": "phone"}
    client.post(url, {**need, "slot": slot, "language": "en"})
    marcus.refresh_from_db()
    assert marcus.language == "en"
    (confirmation,) = Message.objects.filter(kind=MessageKind.CONFIRMATION, state="pending")
    assert confirmation.subject == "Your library help session is booked"


def test_a_patron_booking_online_in_english_gets_english(client, librarian, topic, branch):
    session = book_online(client, topic, branch, local(next_weekday(1), 10), language="en")
    assert session.patron.language == "en"  # the page was English after all
    assert only(MessageKind.CONFIRMATION).body.startswith("Hello María,")


def test_a_topic_without_a_spanish_description_falls_back_to_english(
    client, desk, librarian, topic, branch
):
    other = Topic.objects.create(name="Job search", slug="job-search", description="Résumés.")
    librarian.topics.add(other)
    TopicTranslation.objects.create(topic=topic, language="es", name=SPANISH_NAME, description="")
    assert topic.in_language("es") == (SPANISH_NAME, topic.description)
    assert other.in_language("es") == ("Job search", "Résumés.")
    with translation.override("es"):
        fresh = Topic.objects.with_translations().get(pk=topic.pk)
        assert (fresh.translated_name, fresh.translated_description) == (
            SPANISH_NAME,
            topic.description,
        )
    assert fresh.translated_name == "Computer basics"  # outside Spanish: the topic's own

    # A topic with no Spanish texts at all, in a message to a Spanish speaker and on the desk.
    maria = make_patron("María Gómez")
    with translation.override("es"):  # she books on the Spanish pages
        book(patron=maria, topic=other, branch=branch, start=local(next_weekday(1), 10))
    assert "Tema:   Job search\n" in only(MessageKind.CONFIRMATION).body
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"
    page = client.get(reverse("appointments:desk_patron", args=[maria.pk])).content.decode()
    assert ">Job search</td>" in page


def test_with_translations_fetches_the_texts_in_one_query_and_none_in_english(
    topic, django_assert_num_queries
):
    Topic.objects.create(name="Job search", slug="job-search", description="Résumés.")
    TopicTranslation.objects.create(topic=topic, language="es", name=SPANISH_NAME)
    with translation.override("es"), django_assert_num_queries(2):
        names = [t.translated_name for t in Topic.objects.with_translations()]
    assert names == [SPANISH_NAME, "Job search"]
    with translation.override("en"), django_assert_num_queries(1):
        names = [t.translated_name for t in Topic.objects.with_translations()]
    assert names == ["Computer basics", "Job search"]


def test_staff_give_a_topic_its_spanish_texts_in_the_admin(client, topic):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    url = reverse("admin:appointments_topic_change", args=[topic.pk])
    page = client.get(url).content.decode()
    assert "text in another language" in page.lower()  # one other language: one form
    assert 'name="translations-TOTAL_FORMS"' in page
    response = client.post(
        url,
        {
            "name": topic.name,
            "slug": topic.slug,
            "description": topic.description,
            "session_lengths": "60",
            "padding_before": 0,
            "padding_after": 0,
            "is_active": "on",
            "translations-TOTAL_FORMS": 1,
            "translations-INITIAL_FORMS": 0,
            "translations-MIN_NUM_FORMS": 0,
            "translations-MAX_NUM_FORMS": 1,
            "translations-0-language": "es",
            "translations-0-name": SPANISH_NAME,
            "translations-0-description": "Ratón, teclado y correo electrónico.",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    saved = TopicTranslation.objects.get()
    assert (saved.topic, saved.language, saved.name) == (topic, "es", SPANISH_NAME)
    assert topic.in_language("es")[1] == "Ratón, teclado y correo electrónico."


def test_every_word_of_every_message_template_is_marked_for_translation():
    """A message template that gains words outside {% translate %} and {% blocktranslate %}
    would reach a Spanish-speaking patron in English."""
    folder = Path(settings.BASE_DIR) / "templates" / "messages"
    templates = sorted(folder.rglob("*.txt"))
    assert len(templates) == 25
    for template in templates:
        text = template.read_text()
        text = re.sub(r"{% blocktranslate.*?{% endblocktranslate %}", "", text, flags=re.S)
        text = re.sub(r"{%.*?%}|{{.*?}}", "", text, flags=re.S)
        text = re.sub(r"\S*/\S*", "", text)  # the admin's address, not words
        assert not re.search(r"[A-Za-z]", text), (template.name, text)


def test_the_calendar_file_sent_later_is_in_the_language_the_message_was_written_in(
    librarian, topic, branch
):
    # The mail server was down when María's confirmation was written in Spanish; before it came
    # back, the desk set her record to English. The email that finally goes out must not pair
    # a Spanish letter with an English calendar file.
    maria = make_patron("María Gómez", email="maria@example.org", language="es")
    session = make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=maria, start=local(next_weekday(1), 10)
    )
    messaging.booking_made(session)
    confirmation = Message.objects.get(patron=maria, kind=MessageKind.CONFIRMATION)
    assert confirmation.language == "es"
    Patron.objects.filter(pk=maria.pk).update(language="en")

    messaging.send_due()
    sent = next(m for m in mail.outbox if m.to == ["maria@example.org"])
    assert sent.body.startswith("Hola, María:")
    event = Calendar.from_ical(sent.attachments[0][1]).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == f"Ayuda en la biblioteca: {topic.name}"
