"""Reaching every patron their own way: each message's text and channel, sent exactly once."""

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from appointments import messaging
from appointments.booking import cancel_appointment, reschedule_appointment
from appointments.calendar import appointment_ics
from appointments.links import make_feedback_token, private_path
from appointments.models import (
    Appointment,
    Feedback,
    Message,
    MessageChannel,
    MessageKind,
    MessageState,
    Status,
)
from appointments.texting import MemoryTextBackend

from .factories import book, local, make_appointment, make_patron, make_user, next_weekday

pytestmark = pytest.mark.django_db
GOAL = "Send photos to my grandson, zebra-goal"


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


def test_text_preferring_patron_gets_a_text_with_no_need_in_it(ana_has_email, topic, branch, texts):
    marcus = make_patron("Marcus Lee", email="", phone="312-555-0177", preferred_contact="text")
    session = book(
        patron=marcus,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10, 30),
        skill_level="new",
        learning_goal=GOAL,
    )
    messaging.send_due()
    ((to, body),) = texts
    assert to == "+13125550177"
    assert ", 10:30 am at Central Library" in body
    assert private_path(session) in body
    assert "zebra-goal" not in body and "New to this" not in body and "Marcus" not in body
    (staff_mail,) = mail.outbox
    assert staff_mail.to == ["ana@library.example"]
    assert "New to this" in staff_mail.body  # staff prepare with the skill level
    assert "Marcus" not in staff_mail.body and "zebra-goal" not in staff_mail.body


def test_email_patron_gets_a_calendar_file_that_a_real_parser_reads(librarian, topic, branch):
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    messaging.send_due()
    (email,) = mail.outbox
    name, content, mimetype = email.attachments[0]
    assert (name, mimetype) == ("session.ics", "text/calendar")
    event = Calendar.from_ical(content).walk("VEVENT")[0]
    assert str(event["UID"]) == f"{session.reference}@library-help"
    assert event.decoded("DTSTART") == session.starts_at


def test_a_change_keeps_the_calendar_uid_and_raises_the_sequence(librarian, topic, branch):
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    before = Calendar.from_ical(appointment_ics(session)).walk("VEVENT")[0]
    moved = reschedule_appointment(session, branch=branch, starts_at=local(next_weekday(3), 11))
    after = Calendar.from_ical(appointment_ics(moved)).walk("VEVENT")[0]
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after.decoded("DTSTART") == local(next_weekday(3), 11)
    cancel_appointment(moved)
    moved.refresh_from_db()
    cancelled = Calendar.from_ical(appointment_ics(moved))
    assert cancelled["METHOD"] == "CANCEL"
    assert cancelled.walk("VEVENT")[0]["STATUS"] == "CANCELLED"
    assert cancelled.walk("VEVENT")[0]["UID"] == before["UID"]


def test_phone_caller_who_prefers_calls_is_not_called_to_confirm_but_is_reminded(
    librarian, topic, branch
):
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    session = book(
        patron=rosa,
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        channel="phone",
        booked_by=make_user("desk"),
    )
    assert not Message.objects.filter(patron=rosa).exists()
    Appointment.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(days=5))
    day_before = session.starts_at - timedelta(hours=20)
    assert messaging.enqueue_reminders(now=day_before) == 1
    call = Message.objects.get(patron=rosa)
    assert (call.kind, call.channel, call.state) == ("reminder", "call", "to_call")
    assert "Call Rosa Martinez at (312) 555-0142" in call.body


def test_reminders_are_written_once_and_not_for_late_bookings(librarian, topic, branch):
    early = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    late = book(topic=topic, branch=branch, start=local(next_weekday(1), 11))
    Appointment.objects.filter(pk=early.pk).update(created_at=timezone.now() - timedelta(days=3))
    Appointment.objects.filter(pk=late.pk).update(created_at=late.starts_at - timedelta(hours=3))
    moment = early.starts_at - timedelta(hours=23)
    assert messaging.enqueue_reminders(now=moment) == 1
    assert messaging.enqueue_reminders(now=moment) == 0
    reminder = Message.objects.get(kind=MessageKind.REMINDER)
    assert reminder.appointment == early


def test_cancelling_skips_a_waiting_reminder_and_tells_staff_and_patron(
    ana_has_email, topic, branch
):
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    Appointment.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(days=3))
    messaging.enqueue_reminders(now=session.starts_at - timedelta(hours=2))
    cancel_appointment(session, by_staff=True)
    kinds = dict(Message.objects.values_list("kind", "state").order_by("created_at"))
    assert kinds["reminder"] == MessageState.SKIPPED
    assert kinds["cancellation"] == MessageState.PENDING
    assert kinds["staff_cancel"] == MessageState.PENDING


def test_follow_up_after_an_attended_session_only(librarian, topic, branch):
    now = timezone.now()
    attended = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=now - timedelta(hours=6),
        status=Status.ATTENDED,
    )
    make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=now - timedelta(hours=9),
        status=Status.NO_SHOW,
    )
    assert messaging.enqueue_follow_ups() == 1
    assert messaging.enqueue_follow_ups() == 0
    follow_up = Message.objects.get(kind=MessageKind.FOLLOW_UP)
    assert follow_up.appointment == attended
    assert "/feedback/" in follow_up.body


def test_follow_up_link_is_private_and_answered_once(client, librarian, topic, branch):
    session = make_appointment(
        staff=librarian,
        topic=topic,
        branch=branch,
        start=timezone.now() - timedelta(days=1),
        status=Status.ATTENDED,
    )
    url = reverse("appointments:feedback", args=[make_feedback_token(session)])
    assert client.get(url[:-4] + "xyz/").status_code == 404
    assert "Please choose a number" in client.post(url, {"helpful": 9}).content.decode()
    assert not Feedback.objects.exists()
    client.post(url, {"helpful": 4, "comment": "Very patient, thank you"})
    client.post(url, {"helpful": 1, "comment": "changed my mind"})
    feedback = Feedback.objects.get()
    assert (feedback.helpful, feedback.comment) == (4, "Very patient, thank you")
    assert "already have your answers" in client.get(url).content.decode()


def make_pending(count: int, channel=MessageChannel.TEXT):
    patron = make_patron("Queue", phone="312-555-0100", preferred_contact="text")
    Message.objects.bulk_create(
        Message(
            kind=MessageKind.REMINDER,
            channel=channel,
            patron=patron,
            to="+13125550100" if channel == MessageChannel.TEXT else "q@example.org",
            body=f"Message {n}",
            state=MessageState.PENDING,
            key=f"test:{n}",
            send_after=timezone.now() - timedelta(minutes=1),
        )
        for n in range(count)
    )


@pytest.mark.django_db(transaction=True)
def test_the_job_run_twice_at_once_sends_each_message_once(texts):
    make_pending(40)
    start = threading.Barrier(2)
    results = []

    def job():
        start.wait()
        try:
            results.append(messaging.send_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(body for _, body in texts) == sorted(f"Message {n}" for n in range(40))
    assert len({body for _, body in texts}) == 40
    assert sum(r["sent"] for r in results) == 40
    assert Message.objects.filter(state=MessageState.SENT).count() == 40


@pytest.mark.django_db(transaction=True)
def test_two_cron_processes_at_once_send_each_message_once():
    make_pending(30)
    settings_dict = connection.settings_dict
    url = f"postgres://{settings_dict['USER']}@/{settings_dict['NAME']}?host="
    url += settings_dict["HOST"] or settings_dict["OPTIONS"].get("host", "")
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": url,
        "TEXT_BACKEND": "appointments.texting.ConsoleTextBackend",
        "EMAIL_URL": "dummymail://",
    }
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    jobs = [
        subprocess.Popen(
            [sys.executable, str(manage), "send_notifications"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [job.communicate(timeout=120)[0] for job in jobs]
    assert all(job.returncode == 0 for job in jobs)
    printed = "".join(outputs).count("--- Text message to +13125550100 ---")
    assert printed == 30
    assert Message.objects.filter(state=MessageState.SENT).count() == 30


def test_a_failing_provider_is_retried_then_shown_to_staff(client, settings):
    settings.TEXT_BACKEND = "appointments.texting.FailingTextBackend"
    make_pending(1)
    message = Message.objects.get()
    now = timezone.now()
    for attempt in range(1, settings.MESSAGE_MAX_ATTEMPTS):
        counts = messaging.send_due(now=now)
        assert counts == {"sent": 0, "retry": 1, "failed": 0}
        message.refresh_from_db()
        assert message.state == MessageState.PENDING and message.attempts == attempt
        assert message.send_after == now + messaging.retry_delay(attempt)
        assert messaging.send_due(now=now) == {"sent": 0, "retry": 0, "failed": 0}
        now = message.send_after
    assert messaging.send_due(now=now)["failed"] == 1
    message.refresh_from_db()
    assert message.state == MessageState.FAILED
    assert "not answering" in message.last_error
    client.force_login(make_user(groups=("Desk",)))
    page = client.get(reverse("appointments:calls")).content.decode()
    assert "could not be sent" in page and "Queue" in page  # the patron's name
    # In plain words for the desk; the technical reason stays in the admin.
    assert "The text message service could not be reached" in page
    assert "not answering" not in page and "TextSendError" not in page


def test_desk_marks_calls_done_or_not_reached_once(client, librarian, topic, branch):
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    session = book(
        patron=rosa, topic=topic, branch=branch, start=local(next_weekday(1), 10), channel="online"
    )
    call = Message.objects.get(patron=rosa, kind=MessageKind.CONFIRMATION)
    assert call.state == MessageState.TO_CALL
    url = reverse("appointments:mark_call", args=[call.pk])
    client.force_login(librarian.user)
    assert client.get(reverse("appointments:calls")).status_code == 403
    desk = make_user(groups=("Desk",))
    client.force_login(desk)
    assert (
        "Call Rosa Martinez at (312) 555-0142"
        in client.get(reverse("appointments:calls")).content.decode()
    )
    assert client.get(url).status_code == 405
    client.post(url, {"outcome": "called"})
    call.refresh_from_db()
    assert (call.state, call.handled_by) == (MessageState.CALLED, desk)
    response = client.post(url, {"outcome": "not_reached"}, follow=True)
    assert "already marked" in response.content.decode()
    call.refresh_from_db()
    assert call.state == MessageState.CALLED
    assert session.status == Status.CONFIRMED


def test_staff_calendar_feed_parses_and_keeps_patrons_out(client, librarian, topic, branch):
    session = book(
        patron=make_patron("Marcus Lee"),
        topic=topic,
        branch=branch,
        start=local(next_weekday(1), 10),
        learning_goal=GOAL,
    )
    response = client.get(reverse("appointments:staff_calendar", args=[librarian.calendar_key]))
    assert response.status_code == 200
    feed = Calendar.from_ical(response.content)
    (event,) = feed.walk("VEVENT")
    assert str(event["UID"]) == f"{session.reference}@library-help"
    assert (
        "Marcus" not in response.content.decode() and "zebra-goal" not in response.content.decode()
    )
    assert client.get("/calendar/00000000-0000-0000-0000-000000000000.ics").status_code == 404


def test_patron_moves_a_session_through_the_private_link(client, librarian, topic, branch):
    session = book(topic=topic, branch=branch, start=local(next_weekday(1), 10))
    link = private_path(session)
    page = client.get(link + "change/", {"week": next_weekday(3).isoformat()})
    value = next(
        v for v, slot in page.context["form"].options if slot.start == local(next_weekday(3), 11)
    )
    response = client.post(link + "change/", {"slot": value})
    assert response.status_code == 302
    assert response.status_code == 302
    moved = Appointment.objects.get()
    assert (moved.reference, moved.starts_at, moved.sequence) == (
        session.reference,
        local(next_weekday(3), 11),
        session.sequence + 1,
    )
    assert Message.objects.filter(kind=MessageKind.CHANGE, appointment=moved).exists()
    bad = client.post(link + "change/", {"slot": "1-0-123"})
    assert bad.status_code == 200
    assert Appointment.objects.get().starts_at == local(next_weekday(3), 11)
