"""The privacy promise, kept by the code: little collected, kept briefly, seen by few, logged."""

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from appointments import messaging
from appointments.links import private_path
from appointments.models import (
    Appointment,
    Branch,
    CancelledBy,
    Feedback,
    Message,
    MessageKind,
    StaffProfile,
    Status,
    Topic,
    WaitlistEntry,
    WalkIn,
)
from appointments.privacy import purge
from appointments.reports import ReportScope, build_report
from appointments.texting import MemoryTextBackend
from patrons.models import AccessRecord, Patron

from .factories import local, make_appointment, make_patron, make_staff, make_user, next_weekday

pytestmark = pytest.mark.django_db

MARCUS = {
    "name": "Marcus Quixotic",
    "email": "marcus.quixotic@example.org",
    "phone": "312-555-0177",
    "preferred_contact": "text",
    "card_number": "2100045",
    "accessibility_needs": "Large print please",
}
GOAL = "My résumé is ten years old, zebra-unique-phrase"


def identifying_rows() -> list[str]:
    """Every text column in every table of the database that still holds Marcus's details."""
    needles = [
        MARCUS["name"],
        MARCUS["email"],
        "555-0177",
        "5550177",  # also in the stored +13125550177
        MARCUS["card_number"],
        "zebra-unique",
    ]
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')"
        )
        for table, column in cursor.fetchall():
            for needle in needles:
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}" ILIKE %s', [f"%{needle}%"]
                )
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column} has {needle}")
    return found


def marcus_history(librarian, topic, branch, *, days_ago: int):
    patron = make_patron(**MARCUS)
    past = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=patron,
        start=local(timezone.localdate() - timedelta(days=days_ago), 10),
        learning_goal=GOAL,
        status=Status.ATTENDED,
    )
    Feedback.objects.create(appointment=past, helpful=5, comment="Thanks, zebra-unique helped")
    Message.objects.create(
        kind=MessageKind.REMINDER,
        channel="text",
        appointment=past,
        patron=patron,
        to=MARCUS["phone"],
        body=f"Hi {MARCUS['name']}",
        state="sent",
        key="r1",
        send_after=past.starts_at,
    )
    Message.objects.filter(key="r1").update(created_at=past.starts_at - timedelta(days=1))
    Feedback.objects.filter(appointment=past).update(created_at=past.ends_at)
    Patron.objects.filter(pk=patron.pk).update(updated_at=past.starts_at - timedelta(days=2))
    return patron, past


def next_session(librarian, topic, branch, patron):
    return make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=patron,
        start=local(next_weekday(1), 10),
        learning_goal=GOAL,
    )


def test_privacy_page_shows_the_periods_the_code_uses(client, settings):
    settings.PATRON_DATA_RETENTION_DAYS = 45
    settings.ACCESS_LOG_RETENTION_DAYS = 200
    settings.BACKUP_RETENTION_DAYS = 14
    page = client.get(reverse("appointments:privacy")).content.decode()
    assert "45 days after your session" in page
    assert "200 days" in page
    assert "gone from the backups 14 days later" in page
    # What an unfinished booking keeps in the browser's session (appointments/booking_draft.py).
    assert "never your library card number or any help you asked for" in page
    assert "after 20 minutes without use" in page
    home = client.get("/").content.decode()
    assert reverse("appointments:privacy") in home


def every_report_figure(**filters) -> dict:
    """Every number of the reports page, over two years either side of today."""
    today = timezone.localdate()
    scope = ReportScope(today - timedelta(days=730), today + timedelta(days=365), **filters)
    report = build_report(
        scope,
        branches=list(Branch.objects.all()),
        topics=list(Topic.objects.all()),
        staff=list(StaffProfile.objects.all()),
    )
    return {
        "summary": report.summary,
        "tables": {slug: table.rows for slug, table in report.tables.items()},
        "months": report.months,
        "grid": report.grid,
        "topics": report.topics,
    }


def test_purge_keeps_statistics_and_leaves_nothing_identifying(librarian, topic, branch):
    patron, past = marcus_history(librarian, topic, branch, days_ago=100)
    Appointment.objects.filter(pk=past.pk).update(
        first_booking=True, contact_method="text", language="es"
    )
    old_start = local(timezone.localdate() - timedelta(days=95), 14)
    for cancelled_by in CancelledBy:
        make_appointment(
            staff=librarian,
            topic=topic,
            branch=branch,
            patron=patron,
            start=old_start,
            status=Status.CANCELLED,
            cancelled_by=cancelled_by,
            first_booking=False,
        )
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=patron,
        start=old_start + timedelta(days=1),
        status=Status.NO_SHOW,
        party_size=2,
        first_booking=False,
    )
    WalkIn.objects.create(branch=branch, topic=topic, minutes=20, skill_level="new")
    waiting = WaitlistEntry.objects.create(
        topic=topic,
        branch=branch,
        patron=patron,
        skill_level="new",
        learning_goal=GOAL,
        length=60,
        offers_made=2,
    )
    WaitlistEntry.objects.filter(pk=waiting.pk).update(created_at=past.starts_at)
    recent = make_appointment(
        staff=librarian, topic=topic, branch=branch, start=local(next_weekday(1), 10)
    )
    before = every_report_figure()
    by_branch = every_report_figure(branch=branch, topic=topic, staff=librarian)
    assert before["summary"]["booked"] == 6
    assert before["tables"]["waiting-list"][0][1] == 1  # joined
    assert before["tables"]["follow-up"][0][1] == 1  # "it helped a lot"
    assert identifying_rows() != []

    counts = purge()

    assert counts["sessions"] == 5
    assert counts["patrons"] == 1
    assert counts["messages"] == 1
    assert counts["feedback comments"] == 1
    assert counts["waiting-list entries"] == 1
    assert identifying_rows() == []
    # In a small branch, "the one who booked in Spanish" can be enough to say who it was.
    assert not Appointment.objects.filter(patron=None).exclude(language="en").exists()
    assert every_report_figure() == before
    assert every_report_figure(branch=branch, topic=topic, staff=librarian) == by_branch
    recent.refresh_from_db()
    assert recent.patron is not None and recent.learning_goal
    assert Feedback.objects.get().helpful == 5


def test_purge_runs_twice_safely_and_prints_counts_only(librarian, topic, branch, capsys):
    marcus_history(librarian, topic, branch, days_ago=100)
    call_command("purge_patron_data")
    first = capsys.readouterr().out
    call_command("purge_patron_data")
    second = capsys.readouterr().out
    assert "1 sessions" in first and "1 patrons" in first
    assert "0 sessions" in second and "0 patrons" in second
    assert MARCUS["name"] not in first + second
    assert identifying_rows() == []


def test_recent_sessions_are_not_purged(librarian, topic, branch):
    patron, past = marcus_history(librarian, topic, branch, days_ago=10)
    purge()
    past.refresh_from_db()
    assert past.patron == patron
    assert past.learning_goal == GOAL


def test_old_access_records_are_purged(librarian, settings):
    patron = make_patron()
    old = AccessRecord.objects.create(user=librarian.user, patron=patron, what="patron")
    AccessRecord.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=400))
    AccessRecord.objects.create(user=librarian.user, patron=patron, what="patron")
    assert purge()["access records"] == 1
    assert AccessRecord.objects.count() == 1


def test_patron_sees_everything_held_and_deletes_it(client, librarian, topic, branch):
    librarian.user.email = "ana@library.example"
    librarian.user.save()
    patron, past = marcus_history(librarian, topic, branch, days_ago=5)
    upcoming = next_session(librarian, topic, branch, patron)
    link = private_path(upcoming)
    page = client.get(link + "my-data/").content.decode()
    for detail in [MARCUS["name"], MARCUS["email"], "(312) 555-0177", MARCUS["card_number"]]:
        assert detail in page
    assert "Reminder by text message" in page
    # GET asks; only POST deletes.
    assert client.get(link + "my-data/delete/").status_code == 200
    assert Patron.objects.filter(pk=patron.pk).exists()
    response = client.post(link + "my-data/delete/")
    messaging.send_due()
    assert "Your information is deleted" in response.content.decode()
    upcoming.refresh_from_db()
    assert upcoming.status == Status.CANCELLED
    assert not Patron.objects.filter(pk=patron.pk).exists()
    assert identifying_rows() == []
    assert [m.to for m in mail.outbox] == [["ana@library.example"]]
    assert MARCUS["name"] not in mail.outbox[0].body
    # The link no longer works, and says why in words true whatever happened: the app no
    # longer knows it was Marcus who asked.
    gone = client.get(link)
    assert gone.status_code == 404
    page = gone.content.decode()
    assert "This link no longer works" in page
    assert "the details behind it were deleted at the patron&#x27;s request" in page
    assert "expired" not in page


def test_after_her_data_is_deleted_maria_reads_why_her_link_stopped_in_spanish(
    client, librarian, topic, branch
):
    maria = make_patron("María Gómez", language="es")
    session = make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=maria, start=local(next_weekday(1), 10)
    )
    link = private_path(session)
    client.post(link + "my-data/delete/")
    # Her record, and the language it held, are gone: her phone's language speaks for her.
    page = client.get(link, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Este enlace ya no funciona" in page
    assert "se borraron a petición de la persona que reservó" in page
    assert "This link" not in page


def test_a_stranger_who_types_a_patrons_email_reaches_nothing_of_theirs(
    client, librarian, topic, branch
):
    marcus, past = marcus_history(librarian, topic, branch, days_ago=5)
    his_next = next_session(librarian, topic, branch, marcus)
    # Someone who knows his email books online under a name of their own.
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": "Set up a phone", "party_size": 1},
    )
    value = f"{branch.pk}-0-{int(local(next_weekday(3), 10).timestamp())}"
    client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    response = client.post(
        reverse("appointments:contact", args=[topic.slug]),
        {
            "slot": value,
            "name": "Not Marcus",
            "email": MARCUS["email"].upper(),
            "preferred_contact": "email",
        },
    )
    theirs = Appointment.objects.exclude(patron=marcus).get()
    assert response["Location"] == private_path(theirs)
    assert theirs.patron.name == "Not Marcus"

    page = client.get(private_path(theirs) + "my-data/").content.decode()
    for detail in [MARCUS["name"], "555-0177", MARCUS["card_number"], "zebra-unique"]:
        assert detail not in page
    client.post(private_path(theirs) + "my-data/delete/")
    his_next.refresh_from_db()
    assert his_next.status == Status.CONFIRMED
    assert Patron.objects.get(pk=marcus.pk).name == MARCUS["name"]
    assert client.get(private_path(his_next)).status_code == 200


def test_staff_see_which_records_are_one_person(client, librarian, topic, branch):
    marcus = make_patron(**MARCUS)
    again = make_patron("Marcus Q.", phone="(312) 555-0177", email="", preferred_contact="text")
    stranger = make_patron("Someone Else")
    desk = make_user(groups=("Desk",))
    client.force_login(desk)
    page = client.get(reverse("admin:patrons_patron_change", args=[marcus.pk])).content.decode()
    assert reverse("admin:patrons_patron_change", args=[again.pk]) in page
    assert reverse("admin:patrons_patron_change", args=[stranger.pk]) not in page
    # A librarian sees only the records of patrons they help.
    make_appointment(
        staff=librarian, topic=topic, branch=branch, patron=marcus, start=local(next_weekday(1), 10)
    )
    client.force_login(librarian.user)
    page = client.get(reverse("admin:patrons_patron_change", args=[marcus.pk])).content.decode()
    assert reverse("admin:patrons_patron_change", args=[again.pk]) not in page


def test_staff_forget_a_patron_after_a_confirmation_page(client, librarian, topic, branch):
    patron, past = marcus_history(librarian, topic, branch, days_ago=5)
    desk = make_user(groups=("Desk",))
    client.force_login(desk)
    url = reverse("admin:patrons_patron_forget", args=[patron.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "cannot be undone" in page.content.decode()
    assert Patron.objects.filter(pk=patron.pk).exists()
    client.post(url)
    assert not Patron.objects.filter(pk=patron.pk).exists()
    assert identifying_rows() == []
    assert AccessRecord.objects.filter(user=desk, what="forgotten").exists()


def test_librarian_cannot_forget_a_patron(client, librarian, topic, branch):
    patron, past = marcus_history(librarian, topic, branch, days_ago=5)
    client.force_login(librarian.user)
    response = client.post(reverse("admin:patrons_patron_forget", args=[patron.pk]))
    assert response.status_code == 403
    assert Patron.objects.filter(pk=patron.pk).exists()


def test_opening_patron_data_writes_an_access_record_shown_on_the_record(
    client, librarian, topic, branch
):
    patron = make_patron(**MARCUS)
    appointment = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        patron=patron,
        start=local(next_weekday(1), 10),
    )
    manager = make_user("carmen", groups=("Managers",))
    desk = make_user("frontdesk", groups=("Desk",))
    client.force_login(desk)
    client.get(reverse("appointments:desk_book", args=[patron.pk]))
    client.get(reverse("admin:appointments_appointment_change", args=[appointment.pk]))
    client.force_login(manager)
    page = client.get(reverse("admin:patrons_patron_change", args=[patron.pk])).content.decode()
    whats = set(AccessRecord.objects.filter(patron=patron).values_list("user__username", "what"))
    assert whats == {
        ("frontdesk", "desk_booking"),
        ("frontdesk", "appointment"),
        ("carmen", "patron"),
    }
    assert "frontdesk" in page and "Opened a session" in page
    log = client.get(reverse("admin:patrons_accessrecord_changelist"), {"q": "Quixotic"})
    assert log.status_code == 200
    client.force_login(librarian.user)
    assert client.get(reverse("admin:patrons_accessrecord_changelist")).status_code == 403


def test_desk_sees_the_need_only_on_the_day_of_the_session(client, librarian, topic, branch):
    later = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        learning_goal=GOAL,
    )
    client.force_login(make_user(groups=("Desk",)))
    url = reverse("admin:appointments_appointment_change", args=[later.pk])
    page = client.get(url).content.decode()
    assert "zebra-unique" not in page
    assert "Shown to the desk on the day of the session" in page
    # The helping librarian and a manager see it.
    client.force_login(librarian.user)
    assert "zebra-unique" in client.get(url).content.decode()
    client.force_login(make_user(groups=("Managers",)))
    assert "zebra-unique" in client.get(url).content.decode()


def test_another_librarian_cannot_see_a_colleagues_session(client, librarian, topic, branch):
    appointment = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        learning_goal=GOAL,
    )
    colleague = make_staff("Ben O.", branch=branch, topics=[topic])
    client.force_login(colleague.user)
    url = reverse("admin:appointments_appointment_change", args=[appointment.pk])
    response = client.get(url, follow=True)
    assert "zebra-unique" not in response.content.decode()
    patrons = client.get(reverse("admin:patrons_patron_changelist")).content.decode()
    assert appointment.patron.name not in patrons


def test_no_patron_details_in_logs_or_texts_during_a_booking(
    client, librarian, topic, settings, caplog
):
    settings.TEXT_BACKEND = "appointments.texting.MemoryTextBackend"
    MemoryTextBackend.outbox.clear()
    caplog.set_level(logging.DEBUG)
    tuesday = next_weekday(1)
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "new", "learning_goal": GOAL, "party_size": 1},
    )
    page = client.get(reverse("appointments:time", args=[topic.slug]), {"week": tuesday})
    value = page.context["form"].options[0][0]
    client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    response = client.post(
        reverse("appointments:contact", args=[topic.slug]), {**MARCUS, "slot": value}
    )
    assert MemoryTextBackend.outbox == []  # the request itself sends nothing
    messaging.send_due()
    assert response.status_code == 302
    assert Appointment.objects.count() == 1
    assert MARCUS["name"] not in response["Location"]
    ((to, body),) = MemoryTextBackend.outbox
    assert to == "+13125550177"
    for secret in ["zebra-unique", "new to this", "New to this", MARCUS["name"]]:
        assert secret not in body
    for secret in [MARCUS["name"], MARCUS["email"], MARCUS["phone"], "5550177", "zebra-unique"]:
        assert secret not in caplog.text


def test_old_waiting_list_entries_are_purged_but_current_ones_kept(librarian, topic):
    from appointments.models import WaitlistEntry

    old_patron = make_patron(**MARCUS)
    old = WaitlistEntry.objects.create(
        topic=topic, patron=old_patron, skill_level="new", learning_goal=GOAL, length=60
    )
    WaitlistEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=120))
    Patron.objects.filter(pk=old_patron.pk).update(updated_at=timezone.now() - timedelta(days=120))
    waiting = WaitlistEntry.objects.create(
        topic=topic,
        patron=make_patron("Still Waiting"),
        skill_level="new",
        learning_goal="Excel",
        length=60,
    )
    Patron.objects.filter(pk=waiting.patron_id).update(
        updated_at=timezone.now() - timedelta(days=120)
    )
    counts = purge()
    assert counts["waiting-list entries"] == 1
    assert identifying_rows() == []
    assert WaitlistEntry.objects.get() == waiting
    assert Patron.objects.filter(name="Still Waiting").exists()
