"""Who sees what: every staff page keeps the privacy promise, whatever a staff account tries.

Ana and Ben are librarians at Central. Rosa books with Ana; Marcus books with Ben and has told
Ben things he told nobody else. Ana must never reach Marcus; the desk sees Marcus's name and how
to reach him (it books for everyone), but not what he wants to learn or his accessibility needs
before the day of his session; nobody on the staff ever sees a patron's private link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.db.models import Q
from django.urls import get_resolver, reverse

from appointments.links import make_token
from appointments.models import (
    Appointment,
    Feedback,
    Message,
    Status,
    WaitlistEntry,
)
from appointments.waitlist import offer_token
from patrons.models import AccessRecord, Patron

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

MARCUS_NEED = "Make a photo album for my granddaughter"
MARCUS_ACCESS = "Hard of hearing: please face me when you speak"
MARCUS_WAIT = "Learn spreadsheets for my club's accounts"
MARCUS_FEEDBACK = "Ben was patient about my hearing"


@dataclass
class Library:
    ana: object
    ben: object
    desk: object
    manager: object
    rosa: Patron
    marcus: Patron
    rosa_session: Appointment
    marcus_session: Appointment
    marcus_past: Appointment
    marcus_waiting: WaitlistEntry


@pytest.fixture
def library(branch, topic, librarian):
    """Ana (the `librarian` fixture) teaches computer basics; Ben teaches job search."""
    jobs = make_topic("Job search and résumés")
    ben = make_staff("Ben K.", branch=branch, topics=[jobs], hours=[(2, 10, 16)])
    rosa = make_patron("Rosa Martinez", email="rosa@example.org")
    marcus = make_patron(
        "Marcus Okafor",
        email="marcus.okafor@example.org",
        phone="312-555-0199",
        accessibility_needs=MARCUS_ACCESS,
    )
    rosa_session = book(
        patron=rosa,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        learning_goal="Set up email on my tablet",
    )
    marcus_session = book(
        patron=marcus,
        topic=jobs,
        branch=branch,
        start=local(next_weekday(2), 10),
        learning_goal=MARCUS_NEED,
    )
    marcus_past = make_appointment(
        staff=ben,
        topic=jobs,
        branch=branch,
        patron=marcus,
        start=local(next_weekday(2, weeks_ahead=-3), 10),
        status=Status.ATTENDED,
        learning_goal=MARCUS_NEED,
    )
    Feedback.objects.create(appointment=marcus_past, helpful=5, comment=MARCUS_FEEDBACK)
    waiting = WaitlistEntry.objects.create(
        topic=jobs,
        patron=marcus,
        skill_level="new",
        learning_goal=MARCUS_WAIT,
        length=60,
    )
    return Library(
        ana=librarian.user,
        ben=ben.user,
        desk=make_user("desk", groups=("Desk",)),
        manager=make_user("carmen", groups=("Managers",)),
        rosa=rosa,
        marcus=marcus,
        rosa_session=rosa_session,
        marcus_session=marcus_session,
        marcus_past=marcus_past,
        marcus_waiting=waiting,
    )


def private_links(lib: Library) -> list[str]:
    return [make_token(appointment) for appointment in (lib.marcus_session, lib.marcus_past)] + [
        offer_token(lib.marcus_waiting)
    ]


def marcus_contact(lib: Library) -> list[str]:
    return ["Marcus Okafor", "marcus.okafor@example.org", "312-555-0199"]


def marcus_needs() -> list[str]:
    return [MARCUS_NEED, MARCUS_ACCESS, MARCUS_WAIT]


def assert_shows_none(response, secrets: list[str], where: str) -> None:
    if response.status_code in (302, 403, 404, 405):
        return
    assert response.status_code == 200, (where, response.status_code)
    page = response.content.decode()
    shown = [secret for secret in secrets if secret in page]
    assert not shown, f"{where} shows {shown}"


def objects_about(model, patron: Patron) -> list:
    """Every row of `model` that belongs to this patron: the patron, their sessions, and rows
    that point to either."""
    if model is Patron:
        return [patron]
    condition = Q(pk__in=[])
    for field in model._meta.get_fields():
        if not (field.is_relation and field.many_to_one):
            continue
        if field.related_model is Patron:
            condition |= Q(**{field.name: patron})
        elif field.related_model is Appointment:
            condition |= Q(**{f"{field.name}__patron": patron})
    return list(model._default_manager.filter(condition))


def admin_urls_about(patron: Patron) -> list[str]:
    """Every admin list, and every page of every row about the patron, in every admin class:
    a new admin class is walked without anyone remembering to add it here."""
    urls = []
    for model in admin.site._registry:
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        urls.append(reverse(f"{name}_changelist"))
        for obj in objects_about(model, patron):
            for page in ("change", "history", "delete"):
                urls.append(reverse(f"{name}_{page}", args=[obj.pk]))
    urls.append(reverse("admin:patrons_patron_forget", args=[patron.pk]))
    urls.append(reverse("admin:appointments_calendar") + "?view=week&staff=0")
    return urls


DESK_URL_NAMES = {
    "statistics",
    "reports",
    "report_csv",
    "today",
    "walk_in",
    "mark",
    "session_move",
    "session_cancel",
    "lift_pause",
    "calls",
    "mark_call",
    "undo_call",
    "mark_failed_handled",
    "session",
    "desk_patron",
    "desk",
    "desk_add_patron",
    "desk_book",
    "desk_booked",
}


def desk_urls_about(lib: Library) -> list[str]:
    session = lib.marcus_session
    call = Message.objects.filter(patron=lib.marcus).first()
    args = {
        "mark": [session.reference],
        "session_move": [session.reference],
        "session_cancel": [session.reference],
        "lift_pause": [lib.marcus.pk],
        "mark_call": [call.pk],
        "undo_call": [call.pk],
        "mark_failed_handled": [call.pk],
        "session": [session.reference],
        "desk_patron": [lib.marcus.pk],
        "desk_book": [lib.marcus.pk],
        "desk_booked": [session.reference],
        "report_csv": ["staff"],
    }
    day = session.local_starts_at.date().isoformat()
    return [
        reverse(f"appointments:{name}", args=args.get(name, []))
        + (f"?date={day}&branch={session.branch_id}" if name == "today" else "")
        for name in sorted(DESK_URL_NAMES)
    ]


def test_every_desk_url_is_in_the_walk():
    """A new desk page fails here until the walk below covers it."""
    desk_names = {
        name
        for name, patterns in get_resolver().namespace_dict["appointments"][1].reverse_dict.items()
        if isinstance(name, str) and patterns[0][0][0].startswith("desk/")
    }
    assert desk_names == DESK_URL_NAMES


def session_unchanged(lib: Library) -> None:
    before = lib.marcus_session
    after = Appointment.objects.get(pk=before.pk)
    assert (after.status, after.starts_at, after.staff_id, after.patron_id) == (
        before.status,
        before.starts_at,
        before.staff_id,
        before.patron_id,
    )


def test_ana_reaches_nothing_of_bens_patron_on_any_admin_or_desk_page(client, library):
    client.force_login(library.ana)
    secrets = marcus_contact(library) + marcus_needs() + private_links(library)
    secrets.append(MARCUS_FEEDBACK)
    for url in admin_urls_about(library.marcus) + desk_urls_about(library):
        assert_shows_none(client.get(url), secrets, f"GET {url}")
        assert_shows_none(client.post(url, {"outcome": "cancelled"}), secrets, f"POST {url}")
    session_unchanged(library)
    assert Patron.objects.filter(pk=library.marcus.pk).exists()


def test_the_desk_sees_no_need_before_the_day_and_no_private_link_anywhere(client, library):
    client.force_login(library.desk)
    secrets = marcus_needs() + private_links(library)
    for url in admin_urls_about(library.marcus) + desk_urls_about(library):
        assert_shows_none(client.get(url), secrets, f"GET {url}")


def test_managers_see_the_need_but_never_a_private_link(client, library):
    client.force_login(library.manager)
    change = reverse("admin:appointments_appointment_change", args=[library.marcus_session.pk])
    assert MARCUS_NEED in client.get(change).content.decode()
    for url in admin_urls_about(library.marcus):
        assert_shows_none(client.get(url), private_links(library), f"GET {url}")


def test_a_librarian_re_pointing_her_session_at_another_patron_is_refused_and_sees_nothing(
    client, library
):
    client.force_login(library.ana)
    session = library.rosa_session
    response = client.post(
        reverse("admin:appointments_appointment_change", args=[session.pk]),
        {
            "patron": library.marcus.pk,
            "skill_level": "some",
            "learning_goal": "Set up email on my tablet",
            "party_size": 1,
        },
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.patron == library.rosa
    page = client.get(reverse("admin:patrons_patron_change", args=[library.marcus.pk]))
    assert page.status_code == 302  # "not found": back to the admin index
    listing = client.get(reverse("admin:patrons_patron_changelist")).content.decode()
    assert "Marcus Okafor" not in listing and "Rosa Martinez" in listing


def test_ana_sees_only_her_own_sessions_on_her_patrons_record(client, library, topic, branch):
    # Rosa also books with Ben: Ana sees Rosa, but not what Rosa does with Ben.
    book(
        patron=library.rosa,
        topic=library.marcus_session.topic,
        branch=branch,
        start=local(next_weekday(2), 14),
        learning_goal="Interview practice",
    )
    client.force_login(library.ana)
    page = client.get(reverse("admin:patrons_patron_change", args=[library.rosa.pk]))
    content = page.content.decode()
    assert "Computer basics" in content
    assert "Job search and résumés" not in content


@pytest.mark.parametrize(
    "url_name, lookup",
    [
        ("appointment", "learning_goal__icontains=photo"),
        ("appointment", "limit_override_reason__icontains=a"),
        ("waitlistentry", "learning_goal__icontains=spreadsheets"),
        ("message", "body__icontains=booking"),
        ("feedback", "comment__icontains=hearing"),
    ],
)
def test_the_desk_cannot_filter_on_what_a_patron_told_us(client, library, url_name, lookup):
    client.force_login(library.desk)
    url = reverse(f"admin:appointments_{url_name}_changelist") + "?" + lookup
    response = client.get(url)
    assert response.status_code == 400
    assert "Marcus" not in response.content.decode()


def test_the_desk_cannot_filter_patrons_on_accessibility_needs(client, library):
    client.force_login(library.desk)
    url = reverse("admin:patrons_patron_changelist") + "?accessibility_needs__icontains=hearing"
    assert client.get(url).status_code == 400
    client.force_login(library.manager)
    assert "Marcus Okafor" in client.get(url).content.decode()


def test_the_message_log_hides_private_links_from_everyone_on_the_staff(client, library):
    confirmation = Message.objects.filter(patron=library.marcus, kind="confirmation").get()
    assert make_token(library.marcus_session) in confirmation.body
    url = reverse("admin:appointments_message_change", args=[confirmation.pk])
    for user in (library.desk, library.manager):
        client.force_login(user)
        page = client.get(url).content.decode()
        assert make_token(library.marcus_session) not in page
        assert "private link, not shown to staff" in page


def test_a_librarian_sees_who_waits_for_her_topics_but_not_their_names(client, library, topic):
    WaitlistEntry.objects.create(
        topic=topic,
        patron=make_patron("Luis Gómez", phone="312-555-0177"),
        skill_level="new",
        learning_goal="Email",
        length=60,
    )
    client.force_login(library.ana)
    listing = client.get(reverse("admin:appointments_waitlistentry_changelist")).content.decode()
    other = reverse("admin:appointments_waitlistentry_change", args=[library.marcus_waiting.pk])
    assert "1 waiting list entry" in listing and other not in listing
    assert "Luis Gómez" not in listing and "312-555-0177" not in listing
    assert client.get(other).status_code == 302
    client.force_login(library.desk)
    listing = client.get(reverse("admin:appointments_waitlistentry_changelist")).content.decode()
    assert "Marcus Okafor" in listing and "Luis Gómez" in listing


def test_opening_a_waiting_list_entry_writes_an_access_record(client, library):
    client.force_login(library.desk)
    client.get(reverse("admin:appointments_waitlistentry_change", args=[library.marcus_waiting.pk]))
    assert AccessRecord.objects.filter(
        user=library.desk, patron=library.marcus, what=AccessRecord.What.WAITLIST
    ).exists()


def test_managers_cannot_spell_out_a_private_link_with_a_filter(client, library):
    client.force_login(library.manager)
    url = reverse("admin:appointments_message_changelist") + "?body__regex=/booking/a"
    assert client.get(url).status_code == 400


def test_a_staff_members_calendar_feed_address_is_shown_only_to_them(client, library):
    profile = library.ben.staff_profile
    url = reverse("admin:appointments_staffprofile_change", args=[profile.pk])
    client.force_login(library.manager)
    assert str(profile.calendar_key) not in client.get(url).content.decode()
    client.force_login(library.ben)
    assert str(profile.calendar_key) in client.get(url).content.decode()


def test_private_links_in_any_message_are_hidden_whatever_the_page(library):
    from appointments.access import hide_private_links

    body = Message.objects.filter(patron=library.marcus, kind="confirmation").get().body
    hidden = hide_private_links(body)
    assert not re.search(r"/booking/[^\s]+", hidden)
    assert "Hello Marcus" in hidden


def test_the_roles_hold_exactly_the_permissions_defined_in_one_place():
    """The migrations leave each group as appointments.access defines it."""
    from django.contrib.auth.models import Group

    from appointments.access import MANAGER_APPS, ROLE_PERMISSIONS

    for name, wanted in ROLE_PERMISSIONS.items():
        held = set(
            Group.objects.get(name=name).permissions.values_list(
                "content_type__app_label", "codename"
            )
        )
        assert held == {(app, code) for app, codes in wanted.items() for code in codes}, name
    managers = Group.objects.get(name="Managers").permissions
    assert not managers.exclude(content_type__app_label__in=MANAGER_APPS).exists()
    assert managers.filter(codename="view_accessrecord").exists()


def test_the_list_of_managers_is_whoever_is_manager_says_yes_to(db):
    from django.contrib.auth.models import Permission

    from appointments import access

    from .factories import make_user

    by_group = make_user(groups=["Managers"])
    by_own_permission = make_user()
    by_own_permission.user_permissions.add(Permission.objects.get(codename="manage_all_schedules"))
    superuser = make_user(is_superuser=True)
    everyone = [
        by_group,
        by_own_permission,
        superuser,
        make_user(groups=["Managers"], is_active=False),
        make_user(groups=["Librarians"]),
        make_user(groups=["Desk"]),
    ]
    # Fresh objects: has_perm caches what it found on the instance.
    expected = {u.pk for u in everyone if access.is_manager(type(u).objects.get(pk=u.pk))}
    assert expected == {by_group.pk, by_own_permission.pk, superuser.pk}
    assert set(access.managers().values_list("pk", flat=True)) == expected
