"""A calendar feed address that leaked: its owner replaces it, and the old address stops working.

Ana (the `librarian` fixture) and Ben are librarians at Central; Carmen manages.
"""

import pytest
from django.urls import reverse

from .factories import make_staff, make_user

pytestmark = pytest.mark.django_db


def _feed(staff) -> str:
    return reverse("appointments:staff_calendar", args=[staff.calendar_key])


def _replace(staff) -> str:
    return reverse("admin:appointments_staffprofile_replace_calendar_feed", args=[staff.pk])


def _profile_page(staff) -> str:
    return reverse("admin:appointments_staffprofile_change", args=[staff.pk])


def test_librarian_replaces_their_feed_address_and_the_old_one_stops_working(client, librarian):
    old_feed = _feed(librarian)
    assert client.get(old_feed).status_code == 200
    client.force_login(librarian.user)
    page = client.get(_profile_page(librarian)).content.decode()
    assert "Replace my calendar feed address" in page
    assert "stops working" in page

    response = client.post(_replace(librarian), follow=True)

    librarian.refresh_from_db()
    new_feed = _feed(librarian)
    assert new_feed != old_feed
    assert client.get(old_feed).status_code == 404
    assert client.get(new_feed).status_code == 200
    page = response.content.decode()
    assert str(librarian.calendar_key) in page
    assert "subscribe again" in page


def test_a_librarian_cannot_replace_a_colleagues_feed_address(client, librarian, branch):
    ben = make_staff("Ben K.", branch=branch)
    key = ben.calendar_key
    client.force_login(librarian.user)
    assert client.post(_replace(ben)).status_code in (403, 404)
    ben.refresh_from_db()
    assert ben.calendar_key == key
    assert client.get(_feed(ben)).status_code == 200


def test_the_desk_sees_a_colleagues_profile_but_cannot_replace_their_feed_address(
    client, librarian
):
    key = librarian.calendar_key
    client.force_login(make_user(groups=("Desk",)))
    assert "calendar feed address" not in client.get(_profile_page(librarian)).content.decode()
    assert client.post(_replace(librarian)).status_code == 403
    librarian.refresh_from_db()
    assert librarian.calendar_key == key


def test_a_manager_replaces_a_leaked_feed_address_for_a_librarian(client, librarian):
    old_feed = _feed(librarian)
    client.force_login(make_user(groups=("Managers",)))
    page = client.get(_profile_page(librarian)).content.decode()
    assert "Replace Ana P.'s calendar feed address" in page

    response = client.post(_replace(librarian), follow=True)

    librarian.refresh_from_db()
    assert client.get(old_feed).status_code == 404
    # The new address stays the owner's secret, even from the manager who replaced it.
    assert str(librarian.calendar_key) not in response.content.decode()
    assert client.get(_feed(librarian)).status_code == 200


def test_opening_the_replace_address_does_nothing(client, librarian):
    key = librarian.calendar_key
    client.force_login(librarian.user)
    assert client.get(_replace(librarian)).status_code == 405
    librarian.refresh_from_db()
    assert librarian.calendar_key == key


def test_replacing_a_feed_address_needs_a_signed_in_staff_member(client, librarian):
    key = librarian.calendar_key
    response = client.post(_replace(librarian))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    librarian.refresh_from_db()
    assert librarian.calendar_key == key
