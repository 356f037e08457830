"""Polish from a try-out at the desk: call buttons that say whom and what about, a way back to
book after a cancellation, the desk account's whole name, the waiting list's wording, only the
times of day someone works, and names for the blocked-time form's date and time boxes.

Ana (the `librarian` fixture) teaches computer basics at Central, Tuesdays and Thursdays 10 to
noon; Rosa Martinez prefers a phone call.
"""

from __future__ import annotations

from datetime import time
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from appointments.booking import cancel_appointment
from appointments.formatting import format_day
from appointments.links import make_token
from appointments.models import Message, MessageKind
from appointments.waitlist import parts_of_day

from .factories import (
    book,
    local,
    make_appointment,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(db):
    return make_user("maria", groups=("Desk",), first_name="María", last_name="Ruiz")


@pytest.fixture
def rosa(db):
    return make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")


def page_of(client, name: str, *args) -> str:
    response = client.get(reverse(f"appointments:{name}", args=args))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- The call list -------------------------------------------------------------------------


def test_two_calls_to_one_patron_have_buttons_that_say_what_each_is_about(
    client, desk, librarian, topic, branch, rosa
):
    tuesday = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    thursday = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(3), 10))
    client.force_login(desk)
    page = page_of(client, "calls")
    for session in (tuesday, thursday):
        about = f"Rosa Martinez, booking for {format_day(session.local_starts_at)}"
        assert f'Called<span class="visually-hidden">: {about}</span>' in page
        assert f'Not reached<span class="visually-hidden">: {about}</span>' in page
    assert 'visually-hidden">: (312) 555-0142' not in page


def test_a_cancellation_call_leads_to_the_patrons_page_to_book_again(
    client, desk, librarian, topic, branch, rosa
):
    session = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    cancel_appointment(session, by_staff=True, by=desk)
    assert Message.objects.filter(kind=MessageKind.CANCELLATION, channel="call").exists()
    client.force_login(desk)
    page = page_of(client, "calls")
    patron_page = reverse("appointments:desk_patron", args=[rosa.pk])
    assert f'href="{patron_page}">Book again' in page
    assert f"cancellation for {format_day(session.local_starts_at)}" in page


def test_only_a_cancellation_call_offers_to_book_again(
    client, desk, librarian, topic, branch, rosa
):
    book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    client.force_login(desk)
    assert reverse("appointments:desk_patron", args=[rosa.pk]) not in page_of(client, "calls")


def test_no_link_to_a_patron_page_the_user_may_not_open(client, librarian, topic, branch, rosa):
    """Someone allowed the call list but not every calendar sees no way to Rosa's page."""
    session = book(patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10))
    cancel_appointment(session, by_staff=True, by=librarian.user)
    caller = make_user("caller")
    caller.user_permissions.add(Permission.objects.get(codename="book_for_patron"))
    client.force_login(caller)
    page = page_of(client, "calls")
    assert "Rosa Martinez, cancellation for" in page
    assert reverse("appointments:desk_patron", args=[rosa.pk]) not in page


# --- Who is signed in ----------------------------------------------------------------------


def test_the_demo_desk_account_is_signed_in_by_its_whole_name(client):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(User.objects.get(username="desk"))
    assert "Signed in as <strong>Front desk</strong>" in page_of(client, "calls")


def test_the_admin_greets_the_demo_desk_account_by_its_whole_name(client):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(User.objects.get(username="desk"))
    page = client.get(reverse("admin:index")).content.decode()
    assert "<strong>Front desk</strong>" in page
    assert "<strong>Front</strong>" not in page


def test_the_demo_lists_both_librarians_so_a_newcomer_can_try_one_reaching_for_the_other():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    printed = out.getvalue()
    for login in ("carmen", "desk", "ana", "ben"):
        assert f" {login} " in printed, login
    assert User.objects.get(username="ben").groups.filter(name="Librarians").exists()


def test_the_demo_loads_right_after_migrate_without_the_cache_table():
    """`seed_demo` run by hand before `createcachetable`: it makes the table itself."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE library_help_cache")
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Loaded 2 branches" in out.getvalue()
    assert "library_help_cache" in connection.introspection.table_names()


def test_an_account_without_a_name_is_signed_in_by_its_username(client):
    client.force_login(make_user("frontdesk", groups=("Desk",)))
    assert "Signed in as <strong>frontdesk</strong>" in page_of(client, "calls")


# --- The waiting list ----------------------------------------------------------------------


def start_joining(client, topic):
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "some", "learning_goal": "Attachments", "party_size": 1},
    )
    return reverse("appointments:join_waitlist", args=[topic.slug])


def test_joining_the_waiting_list_for_email_reads_naturally(client, branch):
    email = make_topic("Email")
    make_staff("Ana P.", branch=branch, topics=[email], hours=[(1, 10, 12)])
    join = start_joining(client, email)
    response = client.post(
        join, {"name": "Ann Lee", "email": "ann@example.org", "preferred_contact": "email"}
    )
    page = response.content.decode()
    assert "When a time for Email opens that suits you" in page
    assert "a Email" not in page
    body = Message.objects.get(kind=MessageKind.WAITLIST_JOINED).body
    assert "You are on the waiting list for Email." in body
    assert "a Email" not in body


def test_only_the_times_of_day_someone_works_are_offered(client, librarian, topic, branch):
    join = start_joining(client, topic)
    page = client.get(join).content.decode()
    assert 'value="morning"' in page
    assert 'value="afternoon"' not in page
    assert 'value="evening"' not in page
    assert "Any time of day" in page
    response = client.post(
        join,
        {
            "name": "Ann Lee",
            "email": "ann@example.org",
            "preferred_contact": "email",
            "time_of_day": "evening",
        },
    )
    assert "Please choose a time of day from the list." in response.content.decode()

    # Someone who takes no bookings working late does not make evenings worth waiting for.
    profile = make_staff("Zoe R.", branch=branch, topics=[topic], hours=[(2, 16, 20)])
    profile.is_bookable = False
    profile.save()
    assert 'value="evening"' not in client.get(join).content.decode()
    make_staff("Ben K.", branch=branch, topics=[topic], hours=[(2, 16, 20)])
    page = client.get(join).content.decode()
    assert 'value="afternoon"' in page
    assert 'value="evening"' in page


def test_a_session_must_start_in_a_part_of_the_day_to_offer_it():
    # 4 to 5:30 pm: an hour's session starts at 4:30 at the latest, in the afternoon.
    assert parts_of_day([(time(16), time(17, 30))], 60) == {"afternoon"}
    assert parts_of_day([(time(16), time(18))], 60) == {"afternoon", "evening"}
    assert parts_of_day([(time(9), time(13))], 60) == {"morning", "afternoon"}
    assert parts_of_day([(time(9), time(9, 30))], 60) == set()


# --- Blocked time in the admin -------------------------------------------------------------


def test_the_blocked_time_form_names_its_date_and_time_boxes(client, librarian):
    client.force_login(librarian.user)
    response = client.get(reverse("admin:appointments_block_add"))
    assert response.status_code == 200
    page = response.content.decode()
    for name, box in [
        ("Start date", "starts_at_0"),
        ("Start time", "starts_at_1"),
        ("End date", "ends_at_0"),
        ("End time", "ends_at_1"),
    ]:
        tag = next(t for t in page.split("<input") if f'name="{box}"' in t.split(">")[0])
        assert f'aria-label="{name}"' in tag.split(">")[0], box


# --- One full stop after "Ana P." ----------------------------------------------------------


def test_a_staff_name_ending_in_a_full_stop_gets_no_second_one(
    client, desk, librarian, topic, branch, rosa
):
    tuesday = next_weekday(1)
    session = make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=rosa, start=local(tuesday, 10)
    )
    client.force_login(desk)
    for page in (
        page_of(client, "session", session.reference),
        page_of(client, "session_move", session.reference),
        client.get(reverse("appointments:calendar_file", args=[make_token(session)]))
        .content.decode()
        .replace("\r\n ", ""),  # unfolded
    ):
        assert "Ana P." in page
        assert "Ana P.." not in page
    assert "at Central Library, with Ana P.</p>" in page_of(client, "session", session.reference)
    assert "with Ana P. Choose a new time below" in page_of(
        client, "session_move", session.reference
    )


def test_a_name_without_a_full_stop_still_ends_its_sentence_with_one(
    client, desk, topic, branch, rosa
):
    carmen = make_staff("Carmen", branch=branch, topics=[topic], hours=[(1, 10, 12)])
    session = make_appointment(
        staff=carmen, topic=topic, branch=branch, patron=rosa, start=local(next_weekday(1), 10)
    )
    client.force_login(desk)
    assert "with Carmen.</p>" in page_of(client, "session", session.reference)
    ics = client.get(reverse("appointments:calendar_file", args=[make_token(session)]))
    assert "with Carmen.\\nTo see" in ics.content.decode().replace("\r\n ", "")
