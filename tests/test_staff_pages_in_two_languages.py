"""Staff pages show what a Spanish-speaking patron wrote or will hear marked as Spanish, say
what the desk reads back in the patron's language, and count in real plurals."""

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Message, MessageKind, MessageState, WaitlistEntry

from .factories import local, make_appointment, make_block, make_patron, make_user, next_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture
def marias_session(librarian, topic, branch):
    maria = make_patron("María García", language="es", accessibility_needs="Letra grande")
    return make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=maria,
        start=local(next_weekday(1), 10),
        language="es",
        learning_goal="Quiero mandar fotos a mi nieta",
    )


def test_the_desk_reads_the_booking_back_in_the_patrons_language(client, marias_session):
    client.force_login(make_user("frontdesk", groups=("Desk",)))
    url = reverse("appointments:desk_booked", args=[marias_session.reference])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Read this back to the patron:" in page
    assert '<p class="h4 mb-0" lang="es">“Computer basics, martes' in page
    assert "10:00" in page


def test_a_spanish_patrons_own_words_are_marked_as_spanish_on_the_session_page(
    client, marias_session
):
    client.force_login(marias_session.staff.user)  # who helps her sees what she wrote
    url = reverse("appointments:session", args=[marias_session.reference])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<dd class="col-sm-9 need-text" lang="es">Quiero mandar fotos a mi nieta</dd>' in page
    assert '<dd class="col-sm-9" lang="es">Letra grande</dd>' in page


def test_a_message_body_in_the_admin_is_marked_with_the_patrons_language(client, marias_session):
    message = Message.objects.create(
        kind=MessageKind.CONFIRMATION,
        channel="email",
        to=marias_session.patron.email,
        patron=marias_session.patron,
        appointment=marias_session,
        subject="Su sesión",
        body="Hola María,\nsu sesión está reservada.",
        state=MessageState.SENT,
        key="confirmation-maria",
        send_after=timezone.now(),
    )
    client.force_login(make_user("boss", is_superuser=True))
    page = client.get(
        reverse("admin:appointments_message_change", args=[message.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert '<div lang="es">Hola María,<br>su sesión está reservada.</div>' in page


def test_the_staff_calendar_speaks_spanish(client, librarian, topic, branch):
    tuesday = next_weekday(1)
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=local(tuesday, 10),
        patron=make_patron("Rosa Martinez"),
        party_size=1,
    )
    make_block(librarian, local(tuesday, 11), local(tuesday, 12), reason="Reunión")
    client.force_login(librarian.user)
    page = client.get(
        reverse("admin:appointments_calendar"),
        {"date": tuesday.isoformat()},
        HTTP_ACCEPT_LANGUAGE="es",
    ).content.decode()
    assert "1 persona" in page
    assert "Bloqueado de 11:00 a 12:00" in page
    assert "1 person<" not in page and "Blocked" not in page


def _waiting(topic, name):
    return WaitlistEntry.objects.create(
        topic=topic,
        patron=make_patron(name),
        skill_level="new",
        learning_goal="Email",
        party_size=1,
        length=60,
    )


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        (
            "en",
            "Removed 1 patron from the waiting list.",
            "Removed 2 patrons from the waiting list.",
        ),
        (
            "es",
            "Se quitó 1 usuario de la lista de espera.",
            "Se quitaron 2 usuarios de la lista de espera.",
        ),
    ],
)
def test_removing_from_the_waiting_list_counts_in_real_plurals(client, topic, language, one, two):
    client.force_login(make_user("boss", is_superuser=True))
    url = reverse("admin:appointments_waitlistentry_changelist")

    def remove(*entries):
        data = {"action": "remove_from_list", "_selected_action": [e.pk for e in entries]}
        response = client.post(url, data, follow=True, HTTP_ACCEPT_LANGUAGE=language)
        return response.content.decode()

    assert one in remove(_waiting(topic, "Ann Lee"))
    assert two in remove(_waiting(topic, "Bo Li"), _waiting(topic, "Cy Ng"))
