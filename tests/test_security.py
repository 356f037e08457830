"""An attacker's tries: guessing links and ids, scripts in free text, floods and password guessing.

Every refused request leaves the database as it was.
"""

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from appointments.links import private_path
from appointments.models import Appointment, Status
from patrons.models import Patron

from .factories import local, make_appointment, make_patron, make_user, next_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _booking(librarian, topic, branch, hour=10, **patron):
    return make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=make_patron(**patron) if patron else None,
        start=local(next_weekday(1), hour),
    )


def test_a_patron_link_cannot_open_or_cancel_another_booking(client, librarian, topic, branch):
    mine = _booking(librarian, topic, branch, 10)
    theirs = _booking(librarian, topic, branch, 11)
    my_token = private_path(mine).split("/")[2]
    their_token = private_path(theirs).split("/")[2]
    # Splice my signature onto their reference: refused.
    forged = their_token.split(":")[0] + ":" + my_token.split(":", 1)[1]
    assert client.get(f"/booking/{forged}/").status_code == 404
    assert client.post(f"/booking/{forged}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Status.CONFIRMED


def test_every_message_about_a_booking_carries_the_same_link(librarian, topic, branch, monkeypatch):
    import time

    from django.core import signing

    appointment = _booking(librarian, topic, branch)
    first = private_path(appointment)
    later = time.time() + 3 * 86400
    monkeypatch.setattr(signing.time, "time", lambda: later)  # the reminder, three days on
    assert private_path(appointment) == first


def test_booking_ids_cannot_be_enumerated(client, librarian, topic, branch):
    appointment = _booking(librarian, topic, branch)
    for guess in [str(appointment.pk), str(appointment.pk + 1), str(appointment.reference)]:
        response = client.get(f"/booking/{guess}/")
        assert response.status_code == 404
        assert appointment.learning_goal not in response.content.decode()
    page = client.get(private_path(appointment)).content.decode()
    assert f"/admin/appointments/appointment/{appointment.pk}/" not in page


def test_desk_pages_need_a_signed_in_desk_user(client, librarian, topic):
    patron = make_patron()
    urls = [
        reverse("appointments:desk"),
        reverse("appointments:desk_add_patron"),
        reverse("appointments:desk_book", args=[patron.pk]),
        reverse("appointments:calls"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
    client.force_login(make_user(groups=("Librarians",)))
    for url in urls:
        assert client.get(url).status_code == 403
    client.force_login(make_user(is_staff=False))
    for url in urls:
        assert client.get(url).status_code == 403
    response = client.post(
        reverse("appointments:desk_add_patron"),
        {"name": "Sneaky", "email": "s@example.org", "preferred_contact": "email"},
    )
    assert response.status_code == 403
    assert not Patron.objects.filter(name="Sneaky").exists()


def test_script_in_free_text_is_shown_back_escaped(client, librarian, topic):
    url = reverse("appointments:need", args=[topic.slug])
    script = "<script>alert('x')</script>"
    response = client.post(url, {"learning_goal": script, "party_size": 1})
    page = response.content.decode()
    assert response.status_code == 200
    assert script not in page
    assert "&lt;script&gt;" in page


def test_desk_shows_a_patron_name_with_html_escaped(client, librarian, topic):
    make_patron("<img src=x onerror=alert(1)>", email="odd@example.org")
    client.force_login(make_user(groups=("Desk",)))
    page = client.post(reverse("appointments:desk"), {"q": "img"}).content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


@pytest.mark.parametrize(
    "field, value",
    [
        ("learning_goal", "x" * 100_000),
        ("party_size", "9" * 50),
        ("skill_level", "\x00"),
        ("length", "-1"),
    ],
)
def test_oversized_and_malformed_need_is_refused(client, librarian, topic, field, value):
    data = {"skill_level": "new", "learning_goal": "Email", "party_size": 1, field: value}
    response = client.post(reverse("appointments:need", args=[topic.slug]), data)
    if field == "length":  # single-length topic: the length is not asked, so ignored
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert "booking:" + topic.slug not in client.session


def test_malformed_private_links_are_refused_without_error(client):
    for token in ["x", "a" * 5000, "%00", "..%2F..%2F", "eyJhIjoxfQ:1:2"]:
        response = client.get(f"/booking/{token}/")
        assert response.status_code == 404


def test_oversized_contact_details_save_nothing(client, librarian, topic, branch):
    session = client.session
    session[f"booking:{topic.slug}"] = {
        "need": {"skill_level": "new", "learning_goal": "Email", "party_size": 1, "length": 60},
        "need_at": timezone.now().timestamp(),
    }
    session.save()
    response = client.post(
        reverse("appointments:contact", args=[topic.slug]),
        {
            "slot": f"{branch.pk}-0-{int(local(next_weekday(1), 10).timestamp())}",
            "name": "N" * 5000,
            "email": "a@" + "b" * 300 + ".org",
            "phone": "1" * 200,
            "preferred_contact": "email",
        },
    )
    assert response.status_code == 200
    assert Patron.objects.count() == 0
    assert Appointment.objects.count() == 0


def test_public_forms_are_rate_limited_per_client(client, librarian, topic, settings):
    settings.RATELIMIT_BOOKING = "3/h"
    url = reverse("appointments:need", args=[topic.slug])
    data = {"skill_level": "new", "learning_goal": "Email", "party_size": 1}
    for _ in range(3):
        assert client.post(url, data).status_code == 302
    response = client.post(url, data)
    assert response.status_code == 429
    assert "Please wait a little" in response.content.decode()
    other_client = client.__class__(REMOTE_ADDR="10.9.8.7")
    assert other_client.post(url, data).status_code == 302


def test_staff_login_locks_after_repeated_wrong_passwords(client):
    make_user("ana")
    login = reverse("admin:login")
    for _ in range(4):
        response = client.post(login, {"username": "ana", "password": "wrong"})
        assert response.status_code == 200
    assert client.post(login, {"username": "ana", "password": "wrong"}).status_code == 429
    response = client.post(login, {"username": "ana", "password": "a-long-test-password"})
    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_every_page_sends_a_strict_content_security_policy(client, topic):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"


def test_check_deploy_is_clean_with_production_settings():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "a-production-secret-" + "k" * 40,
        "ALLOWED_HOSTS": "help.library.example",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    result = subprocess.run(
        [sys.executable, str(manage), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
