"""A patron books a session online, from the home page to the private link."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from appointments import messaging
from appointments.models import Appointment, Status
from patrons.models import Patron

from .factories import local, make_appointment, make_branch, make_staff, next_weekday

pytestmark = pytest.mark.django_db


def _start_booking(client, topic, **need):
    data = {"skill_level": "new", "learning_goal": "Send photos to my grandson", "party_size": 1}
    data.update(need)
    return client.post(reverse("appointments:need", args=[topic.slug]), data)


def _open_values(client, topic, week=None):
    url = reverse("appointments:time", args=[topic.slug])
    response = client.get(url, {"week": week.isoformat()} if week else {})
    return response, re.findall(
        r'name="slot" id="[^"]+" value="([^"]+)"', response.content.decode()
    )


def test_patron_books_an_open_slot(client, librarian, topic):
    tuesday = next_weekday(1)
    response = _start_booking(client, topic)
    assert response.status_code == 302
    response, values = _open_values(client, topic, week=tuesday)
    assert response.status_code == 200
    assert "10 am" in response.content.decode()
    wanted = next(v for v in values if v.endswith(str(int(local(tuesday, 10).timestamp()))))
    response = client.post(reverse("appointments:time", args=[topic.slug]), {"slot": wanted})
    assert response.status_code == 302
    details = client.get(response["Location"])
    assert "Tuesday" in details.content.decode()
    shown = re.search(r'name="slot" value="([^"]+)"', details.content.decode())[1]
    assert shown == wanted
    response = client.post(
        response["Location"],
        {
            "slot": shown,
            "name": "Marcus Lee",
            "email": "marcus@example.org",
            "preferred_contact": "email",
        },
    )
    assert mail.outbox == []  # the request itself sends nothing
    messaging.send_due()
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.staff == librarian
    assert appointment.starts_at == local(tuesday, 10)
    assert appointment.status == Status.CONFIRMED
    assert appointment.learning_goal == "Send photos to my grandson"
    page = client.get(response["Location"])
    assert "You&#x27;re booked" in page.content.decode() or "You're booked" in page.content.decode()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][0] == "session.ics"
    assert response["Location"] in mail.outbox[0].body
    assert "We have also sent it to you by email." in page.content.decode()


def test_a_patron_who_wants_a_call_is_told_to_keep_the_link(client, librarian, topic, branch):
    _start_booking(client, topic)
    value = f"{branch.pk}-0-{int(local(next_weekday(1), 10).timestamp())}"
    client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    response = client.post(
        reverse("appointments:contact", args=[topic.slug]),
        {
            "slot": value,
            "name": "Walter Price",
            "phone": "312-555-0199",
            "preferred_contact": "call",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "We do not send it by phone, so please bookmark it" in page
    assert "We have also sent it" not in page


def test_the_way_to_reach_a_patron_is_their_choice_not_ours(client, librarian, topic, branch):
    _start_booking(client, topic)
    value = f"{branch.pk}-0-{int(local(next_weekday(1), 10).timestamp())}"
    chosen = client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    page = client.get(chosen["Location"]).content.decode()
    assert 'name="preferred_contact"' in page
    assert not re.search(r'<input[^>]*name="preferred_contact"[^>]*checked', page)


def test_patron_cancels_with_private_link(client, librarian, topic, branch):
    from appointments.links import private_path

    appointment = make_appointment(
        staff=librarian, topic=topic, branch=branch, start=local(next_weekday(1), 10)
    )
    path = private_path(appointment)
    assert client.get(path).status_code == 200
    response = client.post(path + "cancel/")
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    again = client.post(path + "cancel/", follow=True).content.decode()
    assert "This session is already cancelled." in again


def test_tampered_link_is_refused(client, librarian, topic, branch):
    from appointments.links import private_path

    appointment = make_appointment(
        staff=librarian, topic=topic, branch=branch, start=local(next_weekday(1), 10)
    )
    path = private_path(appointment)
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    response = client.get(tampered)
    assert response.status_code == 404
    assert "does not work" in response.content.decode()
    assert client.post(tampered + "cancel/").status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    assert Patron.objects.count() == 1


def test_an_empty_week_points_to_the_next_open_day_at_any_branch(client, topic, branch):
    riverside = make_branch("Riverside Branch")
    make_staff("Ben O.", branch=riverside, topics=[topic], hours=[(3, 10, 12)])
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    _start_booking(client, topic)
    far = next_weekday(1, weeks_ahead=6)
    from appointments.models import Availability

    Availability.objects.update(valid_from=far)
    response = client.get(reverse("appointments:time", args=[topic.slug]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "There are no open times this week." in page
    assert "Show the week of" in page


def test_with_any_library_each_time_says_where_it_is(client, topic, branch):
    riverside = make_branch("Riverside Branch")
    make_staff("Ben O.", branch=riverside, topics=[topic], hours=[(3, 10, 12)])
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    _start_booking(client, topic)
    page = client.get(
        reverse("appointments:time", args=[topic.slug]), {"week": next_weekday(3).isoformat()}
    ).content.decode()
    assert "10 am at Riverside Branch" in page
    chosen = client.get(
        reverse("appointments:time", args=[topic.slug]),
        {"week": next_weekday(3).isoformat(), "branch": riverside.pk},
    ).content.decode()
    assert "at Riverside Branch" not in chosen.split("Open times")[1]


def test_choosing_a_staff_member_shows_their_introduction(client, librarian, topic):
    librarian.introduction = "I help people find work and get comfortable with computers."
    librarian.save()
    _start_booking(client, topic)
    page = client.get(
        reverse("appointments:time", args=[topic.slug]), {"staff": librarian.pk}
    ).content.decode()
    assert "About Ana P.:" in page
    assert "get comfortable with computers" in page
