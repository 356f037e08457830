"""The staff admin: every page loads, and each role sees and changes only what it should."""

import pytest
from django.contrib import admin
from django.urls import reverse

from appointments.models import Appointment, Block

from .factories import (
    local,
    make_appointment,
    make_block,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_library(librarian, topic, branch):
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        patron=make_patron("Rosa Martinez", phone="312-555-0142"),
        learning_goal="Video calls",
    )
    make_block(librarian, local(next_weekday(3), 13), local(next_weekday(3), 15))
    return librarian


def test_every_admin_list_add_and_change_page_loads(client, busy_library):
    client.force_login(make_user(is_superuser=True))
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        base = f"admin:{meta.app_label}_{meta.model_name}"
        assert client.get(reverse(f"{base}_changelist")).status_code == 200, meta.label
        response = client.get(reverse(f"{base}_add"))
        if model is Appointment:
            # Sessions are booked at the desk, under the booking rules.
            assert response["Location"] == reverse("appointments:desk")
        else:
            # Records the app writes itself (messages, access records...) have no add page.
            assert response.status_code == (
                200 if model_admin.has_add_permission(response.wsgi_request) else 403
            ), meta.label
        first = model.objects.first()
        if first is not None:
            response = client.get(reverse(f"{base}_change", args=[first.pk]))
            assert response.status_code == 200, meta.label
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:appointments_calendar")).status_code == 200


def test_a_librarian_sees_the_need_and_skill_level_before_the_session(client, busy_library):
    client.force_login(busy_library.user)
    session = Appointment.objects.get()
    page = client.get(reverse("admin:appointments_appointment_change", args=[session.pk]))
    text = page.content.decode()
    assert "What the patron needs" in text
    assert "Video calls" in text
    assert "Some experience" in text or 'value="some" selected' in text


def test_search_by_patron_phone_in_any_format_finds_the_session(client, busy_library):
    client.force_login(make_user(groups=("Desk",)))
    page = client.get(reverse("admin:appointments_appointment_changelist"), {"q": "5550142"})
    assert list(page.context["cl"].result_list) == list(Appointment.objects.all())
    page = client.get(reverse("admin:appointments_appointment_changelist"), {"q": "555 0199"})
    assert list(page.context["cl"].result_list) == []


def test_a_librarian_cannot_change_a_colleagues_schedule(client, busy_library, topic, branch):
    colleague = make_staff("Ben O.", branch=branch, topics=[topic])
    block = make_block(colleague, local(next_weekday(2), 10), local(next_weekday(2), 11), "Class")
    client.force_login(busy_library.user)
    url = reverse("admin:appointments_block_change", args=[block.pk])
    assert client.get(url).status_code == 302  # not found for them
    client.post(url, {"staff": colleague.pk, "reason": "Hijacked", "starts_at_0": "2030-01-01"})
    block.refresh_from_db()
    assert block.reason == "Class"
    listing = client.get(reverse("admin:appointments_block_changelist")).content.decode()
    assert "Class" not in listing


def test_a_librarian_adding_a_block_gets_it_on_their_own_schedule(
    client, busy_library, topic, branch
):
    colleague = make_staff("Ben O.", branch=branch, topics=[topic])
    client.force_login(busy_library.user)
    day = next_weekday(4).isoformat()
    response = client.post(
        reverse("admin:appointments_block_add"),
        {
            "staff": colleague.pk,
            "starts_at_0": day,
            "starts_at_1": "13:00",
            "ends_at_0": day,
            "ends_at_1": "15:00",
            "reason": "Training",
        },
    )
    assert response.status_code in (200, 302)
    assert not Block.objects.filter(staff=colleague).exists()


def test_moving_a_session_onto_another_from_the_admin_is_refused_plainly(
    client, busy_library, topic, branch
):
    other = make_appointment(
        staff=busy_library, topic=topic, branch=branch, start=local(next_weekday(1), 11)
    )
    client.force_login(make_user(groups=("Managers",)))
    page = client.get(reverse("admin:appointments_appointment_change", args=[other.pk]))
    move = reverse("appointments:session_move", args=[other.reference])
    assert move in page.content.decode()
    half_past_ten = int(local(next_weekday(1), 10, 30).timestamp())
    response = client.post(move, {"slot": f"{branch.pk}-{busy_library.pk}-{half_past_ten}"})
    assert response.status_code == 200
    assert "That time was just taken. Please choose another time." in response.content.decode()
    other.refresh_from_db()
    assert other.starts_at == local(next_weekday(1), 11)


def test_the_sessions_list_opens_on_what_is_coming_soonest_first(
    client, busy_library, topic, branch
):
    ana = busy_library
    old = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(next_weekday(1, weeks_ahead=-3), 10)
    )
    later = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(next_weekday(1, weeks_ahead=3), 10)
    )
    soon = Appointment.objects.exclude(pk__in=[old.pk, later.pk]).get()
    client.force_login(make_user(groups=("Desk",)))
    url = reverse("admin:appointments_appointment_changelist")

    def listed(**params):
        return list(client.get(url, params).context["cl"].result_list)

    assert listed() == [soon, later]
    assert listed(when="past") == [old]
    assert listed(when="all") == [old, soon, later]
    # A search finds past sessions too.
    assert old in listed(q=old.patron.email)


def test_admin_index_warns_managers_of_topics_with_nothing_to_book(client, librarian, topic):
    make_topic("Word and Excel")
    make_staff("Idle Ian", branch=librarian.branches.get(), topics=[topic])
    client.force_login(make_user(groups=("Managers",)))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Topics with no open time in the next 14 days" in page
    assert "Word and Excel" in page
    assert "Idle Ian" in page
    assert "Open the calendar" in page
