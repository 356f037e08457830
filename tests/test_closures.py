"""A closure or a block over booked sessions: staff see them and choose; nobody is stranded.

A burst pipe closes Central Library on Monday. Ana's 10 am and 11 am sessions and Ben's 10 am
are booked there: Marcus reads email, Dev prefers text messages, Rosa wants a phone call.
"""

import re
from datetime import time, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from appointments.links import private_path
from appointments.models import (
    Availability,
    Block,
    Closure,
    Message,
    MessageChannel,
    MessageState,
    Status,
)

from .factories import (
    local,
    make_appointment,
    make_block,
    make_branch,
    make_closure,
    make_patron,
    make_staff,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db
ADD_CLOSURE = "admin:appointments_closure_add"
ADD_BLOCK = "admin:appointments_block_add"
CALENDAR = "admin:appointments_calendar"


@pytest.fixture
def monday():
    return next_weekday(0)


@pytest.fixture
def ana(branch, topic):
    """Ana helps with computer basics at Central: Monday and Tuesday 10 to noon, Wednesday
    1 to 4 pm."""
    staff = make_staff(
        "Ana P.", branch=branch, topics=[topic], hours=[(0, 10, 12), (1, 10, 12), (2, 13, 16)]
    )
    staff.user.username, staff.user.email = "ana", "ana@library.example"
    staff.user.save()
    return staff


@pytest.fixture
def ben(branch, topic):
    return make_staff("Ben O.", branch=branch, topics=[topic], hours=[(0, 10, 12)])


@pytest.fixture
def monday_sessions(ana, ben, topic, branch, monday):
    marcus = make_patron("Marcus Lee", email="marcus@example.org")
    dev = make_patron("Dev Shah", email="", phone="312-555-0101", preferred_contact="text")
    rosa = make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")
    return [
        make_appointment(
            staff=ana, topic=topic, branch=branch, patron=marcus, start=local(monday, 10)
        ),
        make_appointment(
            staff=ana, topic=topic, branch=branch, patron=dev, start=local(monday, 11)
        ),
        make_appointment(
            staff=ben, topic=topic, branch=branch, patron=rosa, start=local(monday, 10)
        ),
    ]


@pytest.fixture
def manager(client):
    user = make_user("carmen", groups=("Managers",))
    client.force_login(user)
    return user


def closure_form(branch, day, **extra):
    return {
        "branch": branch.pk,
        "first_day": day.isoformat(),
        "last_day": day.isoformat(),
        "reason": "burst pipe",
        "_save": "Save",
        **extra,
    }


def shown_sessions(page: str) -> str:
    return re.search(r'name="sessions" value="([^"]*)"', page).group(1)


def ask_then_choose(client, url, form, decision):
    """The two steps: save, see the list, choose, save again."""
    first = client.post(url, form)
    assert first.status_code == 200
    page = first.content.decode()
    assert "Booked sessions in this time" in page
    return client.post(url, {**form, "sessions": shown_sessions(page), "decision": decision})


def statuses(sessions):
    for session in sessions:
        session.refresh_from_db()
    return [session.status for session in sessions]


def test_closure_over_booked_sessions_lists_them_and_saves_nothing_yet(
    client, manager, branch, monday, monday_sessions
):
    response = client.post(reverse(ADD_CLOSURE), closure_form(branch, monday))
    page = response.content.decode()
    assert response.status_code == 200
    assert "3 booked sessions fall in this time" in page
    for name in ("Marcus Lee", "Dev Shah", "Rosa Martinez"):
        assert name in page
    assert "<legend>What should happen to them?</legend>" in page
    assert "offer the nearest free times" in page
    assert not Closure.objects.exists()
    assert statuses(monday_sessions) == [Status.CONFIRMED] * 3


def test_manager_closes_the_branch_and_each_patron_is_told_their_own_way(
    client, manager, branch, monday, monday_sessions
):
    response = ask_then_choose(
        client, reverse(ADD_CLOSURE), closure_form(branch, monday), "cancel_and_offer"
    )
    assert response.status_code == 302
    assert Closure.objects.get().reason == "burst pipe"
    assert statuses(monday_sessions) == [Status.CANCELLED] * 3
    assert {s.marked_by for s in monday_sessions} == {manager}
    why = "Central Library is closed that day (burst pipe)."
    book_again = f"/book/{monday_sessions[0].topic.slug}/"
    tuesday = monday + timedelta(days=1)
    free_time = f"{tuesday:%A} {tuesday.day} {tuesday:%B}, 10 am, at Central Library"

    email = Message.objects.get(kind="cancellation", channel=MessageChannel.EMAIL)
    assert email.to == "marcus@example.org"
    assert why in email.body
    assert "We are sorry" in email.body
    assert free_time in email.body
    assert book_again in email.body and "312-555-0100" in email.body

    text = Message.objects.get(kind="cancellation", channel=MessageChannel.TEXT)
    assert text.to == "+13125550101"
    assert why in text.body and free_time in text.body and book_again in text.body
    assert "résumé" not in text.body  # a text never carries what the patron asked for

    call = Message.objects.get(kind="cancellation", channel=MessageChannel.CALL)
    assert call.state == MessageState.TO_CALL
    assert "Rosa Martinez" in call.body and why in call.body and free_time in call.body
    assert "book again" in call.body

    to_ana = Message.objects.get(
        kind="staff_cancel", to="ana@library.example", appointment=monday_sessions[0]
    )
    assert f"Why: {why}" in to_ana.body
    assert LogEntry.objects.filter(
        object_id=str(monday_sessions[0].pk), change_message__contains="burst pipe"
    ).exists()

    desk = make_user(groups=("Desk",))
    client.force_login(desk)
    calls = client.get(reverse("appointments:calls")).content.decode()
    assert "Rosa Martinez" in calls and "burst pipe" in calls


def test_cancelling_without_offering_times_still_says_why_and_how_to_book(
    client, manager, branch, monday, monday_sessions
):
    ask_then_choose(client, reverse(ADD_CLOSURE), closure_form(branch, monday), "cancel")
    email = Message.objects.get(kind="cancellation", channel=MessageChannel.EMAIL)
    assert "Central Library is closed that day (burst pipe)." in email.body
    assert "were free when we wrote" not in email.body
    assert "To book another session, visit http" in email.body


def test_keeping_them_leaves_them_booked_and_shows_each_clash(
    client, manager, branch, monday, monday_sessions
):
    response = ask_then_choose(client, reverse(ADD_CLOSURE), closure_form(branch, monday), "keep")
    assert response.status_code == 302
    assert Closure.objects.exists()
    assert statuses(monday_sessions) == [Status.CONFIRMED] * 3
    assert not Message.objects.filter(kind="cancellation").exists()

    day = client.get(
        reverse(CALENDAR), {"branch": branch.pk, "view": "day", "date": monday.isoformat()}
    ).content.decode()
    assert day.count("Booked, but the branch is closed (burst pipe)") == 3
    assert "10 am–11 am Computer basics" in day
    assert "Branch closed" in day  # the rest of the day

    home = client.get(reverse("admin:index")).content.decode()
    assert "Needs attention" in home
    assert home.count("Booked, but the branch is closed") == 3
    assert reverse("admin:appointments_appointment_change", args=[monday_sessions[0].pk]) in home


def test_ana_blocks_time_over_her_own_session_and_is_asked_first(client, ana, topic, branch):
    wednesday = next_weekday(2)
    marcus = make_patron("Marcus Lee", email="marcus@example.org")
    session = make_appointment(
        staff=ana, topic=topic, branch=branch, patron=marcus, start=local(wednesday, 14)
    )
    client.force_login(ana.user)
    form = {
        "staff": ana.pk,
        "starts_at_0": wednesday.isoformat(),
        "starts_at_1": "14:00",
        "ends_at_0": wednesday.isoformat(),
        "ends_at_1": "15:00",
        "reason": "Dentist",
        "_save": "Save",
    }
    first = client.post(reverse(ADD_BLOCK), form).content.decode()
    assert "One booked session falls in this time" in first
    assert "Marcus Lee" in first  # her own patron
    assert not Block.objects.exists()

    response = ask_then_choose(client, reverse(ADD_BLOCK), form, "cancel_and_offer")
    assert response.status_code == 302
    assert statuses([session]) == [Status.CANCELLED]
    email = Message.objects.get(kind="cancellation", patron=marcus)
    assert "Ana P., who was to help you, is no longer free at that time." in email.body
    assert "Dentist" not in email.body  # the block's own reason is Ana's business


def test_ana_is_told_plainly_that_her_own_block_cancelled_her_session(client, ana, topic, branch):
    wednesday = next_weekday(2)
    make_appointment(staff=ana, topic=topic, branch=branch, start=local(wednesday, 14))
    client.force_login(ana.user)
    form = {
        "staff": ana.pk,
        "starts_at_0": wednesday.isoformat(),
        "starts_at_1": "13:30",
        "ends_at_0": wednesday.isoformat(),
        "ends_at_1": "16:00",
        "reason": "Dentist",
        "_save": "Save",
    }
    ask_then_choose(client, reverse(ADD_BLOCK), form, "cancel")
    to_ana = Message.objects.get(kind="staff_cancel", to="ana@library.example")
    assert "Why: you blocked this time (Dentist). The patron is told their own way." in (
        to_ana.body
    )
    assert "who was to help you" not in to_ana.body


def test_a_manager_blocking_anas_time_tells_her_who_did(client, manager, ana, topic, branch):
    wednesday = next_weekday(2)
    make_appointment(staff=ana, topic=topic, branch=branch, start=local(wednesday, 14))
    form = {
        "staff": ana.pk,
        "starts_at_0": wednesday.isoformat(),
        "starts_at_1": "14:00",
        "ends_at_0": wednesday.isoformat(),
        "ends_at_1": "15:00",
        "reason": "Covering the front desk",
        "_save": "Save",
    }
    ask_then_choose(client, reverse(ADD_BLOCK), form, "cancel")
    to_ana = Message.objects.get(kind="staff_cancel", to="ana@library.example")
    assert "Why: carmen blocked this time for you (Covering the front desk)." in to_ana.body


def test_ana_keeps_her_session_and_the_calendar_marks_it(client, ana, topic, branch):
    wednesday = next_weekday(2)
    make_appointment(staff=ana, topic=topic, branch=branch, start=local(wednesday, 14))
    client.force_login(ana.user)
    form = {
        "staff": ana.pk,
        "starts_at_0": wednesday.isoformat(),
        "starts_at_1": "14:00",
        "ends_at_0": wednesday.isoformat(),
        "ends_at_1": "15:00",
        "reason": "Staff meeting",
        "_save": "Save",
    }
    ask_then_choose(client, reverse(ADD_BLOCK), form, "keep")
    week = client.get(reverse(CALENDAR), {"date": wednesday.isoformat()}).content.decode()
    assert "Booked inside blocked time (Staff meeting)" in week
    assert "cell-clash" in week
    home = client.get(reverse("admin:index")).content.decode()
    assert "Booked inside blocked time" in home


def test_librarian_cannot_cancel_a_colleagues_sessions_with_a_block(
    client, ana, ben, topic, branch
):
    monday = next_weekday(0)
    bens = make_appointment(staff=ben, topic=topic, branch=branch, start=local(monday, 10))
    client.force_login(ana.user)
    response = client.post(
        reverse(ADD_BLOCK),
        {
            "staff": ben.pk,
            "starts_at_0": monday.isoformat(),
            "starts_at_1": "10:00",
            "ends_at_0": monday.isoformat(),
            "ends_at_1": "11:00",
            "reason": "Meeting",
            "sessions": str(bens.pk),
            "decision": "cancel",
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert bens.patron.name not in response.content.decode()
    assert not Block.objects.exists()
    assert statuses([bens]) == [Status.CONFIRMED]


def test_librarian_cannot_add_a_closure(client, ana, branch, monday, monday_sessions):
    client.force_login(ana.user)
    response = client.post(reverse(ADD_CLOSURE), closure_form(branch, monday))
    assert response.status_code == 403
    assert not Closure.objects.exists()


def test_a_tampered_session_list_changes_nothing(client, manager, branch, monday, monday_sessions):
    first = client.post(reverse(ADD_CLOSURE), closure_form(branch, monday)).content.decode()
    only_one = shown_sessions(first).split(",")[0]
    response = client.post(
        reverse(ADD_CLOSURE),
        closure_form(branch, monday, sessions=only_one, decision="cancel"),
    )
    assert response.status_code == 200
    assert "have changed since the page was shown" in response.content.decode()
    assert not Closure.objects.exists()
    assert statuses(monday_sessions) == [Status.CONFIRMED] * 3


def test_a_decision_without_the_list_being_shown_changes_nothing(
    client, manager, branch, monday, monday_sessions
):
    response = client.post(reverse(ADD_CLOSURE), closure_form(branch, monday, decision="cancel"))
    assert response.status_code == 200
    assert not Closure.objects.exists()
    assert statuses(monday_sessions) == [Status.CONFIRMED] * 3


def test_an_unknown_decision_changes_nothing(client, manager, branch, monday, monday_sessions):
    first = client.post(reverse(ADD_CLOSURE), closure_form(branch, monday)).content.decode()
    response = client.post(
        reverse(ADD_CLOSURE),
        closure_form(branch, monday, sessions=shown_sessions(first), decision="delete_all"),
    )
    assert response.status_code == 200
    assert not Closure.objects.exists()
    assert statuses(monday_sessions) == [Status.CONFIRMED] * 3


def test_a_closure_in_the_past_is_refused(client, manager, branch):
    last_week = timezone.localdate() - timedelta(days=7)
    response = client.post(reverse(ADD_CLOSURE), closure_form(branch, last_week))
    assert response.status_code == 200
    assert "This closure would end before today" in response.content.decode()
    assert not Closure.objects.exists()


def test_a_closure_with_no_booked_sessions_saves_directly(client, manager, branch, ana, monday):
    response = client.post(reverse(ADD_CLOSURE), closure_form(branch, monday))
    assert response.status_code == 302
    assert Closure.objects.get().first_day == monday


def test_changing_only_the_reason_does_not_ask_again(
    client, manager, branch, monday, monday_sessions
):
    closure = make_closure(branch, monday, reason="burst pipe")
    response = client.post(
        reverse("admin:appointments_closure_change", args=[closure.pk]),
        closure_form(branch, monday, reason="burst pipe, repairs under way"),
    )
    assert response.status_code == 302
    closure.refresh_from_db()
    assert closure.reason == "burst pipe, repairs under way"


def test_block_this_time_returns_to_the_calendar(client, ana):
    wednesday = next_weekday(2)
    client.force_login(ana.user)
    week = client.get(reverse(CALENDAR), {"date": wednesday.isoformat()}).content.decode()
    link = re.search(r'href="([^"]+)">Block this time', week).group(1).replace("&amp;", "&")
    start = re.search(r"starts=([^&]+)", link).group(1)
    assert "calendar=" in link
    response = client.post(
        link,
        {
            "staff": ana.pk,
            "starts_at_0": start[:10],
            "starts_at_1": "13:00",
            "ends_at_0": start[:10],
            "ends_at_1": "13:30",
            "reason": "Staff meeting",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    monday = wednesday - timedelta(days=wednesday.weekday())
    assert response.url.startswith(reverse(CALENDAR) + "?")
    assert f"date={monday.isoformat()}" in response.url
    assert Block.objects.filter(reason="Staff meeting").exists()


def test_block_return_address_is_only_ever_the_calendar(client, ana):
    client.force_login(ana.user)
    wednesday = next_weekday(2)
    response = client.post(
        reverse(ADD_BLOCK) + "?calendar=" + "https%3A%2F%2Fevil.example%2F",
        {
            "staff": ana.pk,
            "starts_at_0": wednesday.isoformat(),
            "starts_at_1": "13:00",
            "ends_at_0": wednesday.isoformat(),
            "ends_at_1": "13:30",
            "reason": "Staff meeting",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert "evil" not in response.url


def test_clashes_on_the_admin_home_are_only_the_users_own(client, ana, ben, topic, branch):
    monday = next_weekday(0)
    make_appointment(staff=ben, topic=topic, branch=branch, start=local(monday, 10))
    make_block(ben, local(monday, 10), local(monday, 11))
    client.force_login(ana.user)
    home = client.get(reverse("admin:index")).content.decode()
    assert "Booked inside blocked time" not in home


def test_a_closure_of_several_days_says_so_in_plain_words(branch, monday):
    from appointments.closures import closure_reason

    closure = make_closure(branch, monday, monday + timedelta(days=13), reason="renovation")
    friday = monday + timedelta(days=13)
    assert closure_reason(closure) == (
        f"Central Library is closed from {monday:%A} {monday.day} {monday:%B} "
        f"to {friday:%A} {friday.day} {friday:%B} (renovation)."
    )


def test_a_session_at_another_branch_is_no_clash_with_this_branchs_closure(
    client, manager, ana, topic, branch, monday
):
    east = make_branch("East Branch")
    ana.branches.add(east)
    Availability.objects.create(
        staff=ana, branch=east, weekday=0, start_time=time(14), end_time=time(16)
    )
    make_appointment(staff=ana, topic=topic, branch=east, start=local(monday, 14))
    Closure.objects.create(branch=branch, first_day=monday, last_day=monday, reason="burst pipe")
    week = client.get(
        reverse(CALENDAR), {"staff": ana.pk, "branch": branch.pk, "date": monday.isoformat()}
    ).content.decode()
    assert "Booked, but the branch is closed" not in week


def test_a_kept_session_shows_inside_a_longer_block_on_the_calendar(client, ana, topic, branch):
    wednesday = next_weekday(2)
    make_appointment(
        staff=ana,
        topic=topic,
        branch=branch,
        patron=make_patron("Marcus Lee"),
        start=local(wednesday, 14),
    )
    client.force_login(ana.user)
    form = {
        "staff": ana.pk,
        "starts_at_0": wednesday.isoformat(),
        "starts_at_1": "13:30",
        "ends_at_0": wednesday.isoformat(),
        "ends_at_1": "16:00",
        "reason": "Dentist",
        "_save": "Save",
    }
    ask_then_choose(client, reverse(ADD_BLOCK), form, "keep")
    for view in ("week", "day"):
        page = client.get(
            reverse(CALENDAR), {"view": view, "date": wednesday.isoformat()}
        ).content.decode()
        assert "2 pm–3 pm Computer basics" in page
        assert "Marcus L." in page
        assert "Booked inside blocked time (Dentist)" in page
        # The block shows in the half-hour before the session and in the hour after it.
        assert page.count("Blocked 1:30 pm–4 pm") == 2


# --- Kept booked: who knows, and what the choice says --------------------------------------


def test_the_keep_choice_says_plainly_that_the_patrons_are_not_told(
    client, manager, branch, monday, monday_sessions
):
    first = client.post(reverse(ADD_CLOSURE), closure_form(branch, monday)).content.decode()
    assert "Keep them booked. The patrons are NOT told: someone must contact each of them." in (
        first
    )
    response = ask_then_choose(client, reverse(ADD_CLOSURE), closure_form(branch, monday), "keep")
    said = client.get(response["Location"]).content.decode()
    assert "The patrons have NOT been told: someone must contact each of them." in said


def test_the_question_about_booked_sessions_is_not_shown_as_an_error(
    client, manager, branch, monday, monday_sessions
):
    page = client.post(reverse(ADD_CLOSURE), closure_form(branch, monday)).content.decode()
    assert "3 booked sessions fall in this time" in page
    assert "Please correct the error" not in page
    assert 'class="errornote"' not in page
    assert "<title>Error:" not in page
    assert 'class="errorlist' not in page
    assert not Closure.objects.exists()


def test_a_changed_list_of_sessions_is_still_an_error(
    client, manager, branch, monday, monday_sessions
):
    form = closure_form(branch, monday, sessions=str(monday_sessions[0].pk), decision="cancel")
    page = client.post(reverse(ADD_CLOSURE), form).content.decode()
    assert "have changed since the page was shown" in page
    assert "Please correct the error below." in page
    assert not Closure.objects.exists()


def test_one_session_under_a_block_is_spoken_of_in_the_singular(client, ana, topic, branch):
    wednesday = next_weekday(2)
    make_appointment(staff=ana, topic=topic, branch=branch, start=local(wednesday, 14))
    client.force_login(ana.user)
    form = {
        "staff": ana.pk,
        "starts_at_0": wednesday.isoformat(),
        "starts_at_1": "14:00",
        "ends_at_0": wednesday.isoformat(),
        "ends_at_1": "15:00",
        "reason": "Dentist",
        "_save": "Save",
    }
    page = client.post(reverse(ADD_BLOCK), form).content.decode()
    assert "One patron is booked in the time you are blocking." in page
    assert "Choose what should happen to it, then save again." in page
    assert "<legend>What should happen to it?</legend>" in page
    assert "Cancel it, tell the patron their own way, and offer the nearest free times" in page
    assert "Keep it booked. The patron is NOT told: someone must contact them." in page
    assert "Cancel them" not in page and "each patron their own way" not in page
    assert "Please correct the error" not in page


def keep_over_monday(client, branch, monday):
    branch.phone = "312-555-0100"
    branch.save()
    ask_then_choose(client, reverse(ADD_CLOSURE), closure_form(branch, monday), "keep")


def test_a_patron_kept_booked_at_a_closed_branch_is_asked_to_call(
    client, manager, branch, monday, monday_sessions
):
    keep_over_monday(client, branch, monday)
    client.logout()
    page = client.get(private_path(monday_sessions[0])).content.decode()
    assert "Central Library is closed that day (burst pipe)." in page
    assert (
        "Your session cannot take place there as booked. Please call the library at "
        "312-555-0100 to move it." in page
    )


def test_maria_reads_the_closure_notice_in_spanish(client, manager, ana, topic, branch, monday):
    maria = make_patron("María González", language="es")
    session = make_appointment(
        staff=ana, topic=topic, branch=branch, patron=maria, start=local(monday, 11)
    )
    keep_over_monday(client, branch, monday)
    client.logout()
    page = client.get(private_path(session)).content.decode()
    assert "Central Library estará cerrada ese día (burst pipe)." in page
    assert "Por favor, llame a la biblioteca al 312-555-0100 para cambiarla." in page


def test_no_closure_notice_on_an_open_day_or_another_branch(
    client, manager, ana, topic, branch, monday
):
    riverside = make_branch("Riverside Branch")
    tuesday = make_appointment(
        staff=ana, topic=topic, branch=branch, start=local(monday + timedelta(days=1), 10)
    )
    elsewhere = make_appointment(staff=ana, topic=topic, branch=riverside, start=local(monday, 14))
    make_closure(branch, monday, reason="burst pipe")
    client.logout()
    for session in (tuesday, elsewhere):
        page = client.get(private_path(session)).content.decode()
        assert "Your session cannot take place there" not in page


def test_the_desk_sees_that_a_kept_session_is_at_a_closed_branch(
    client, manager, branch, monday, monday_sessions
):
    keep_over_monday(client, branch, monday)
    client.force_login(make_user("frontdesk", groups=("Desk",)))
    page = client.get(
        reverse("appointments:session", args=[monday_sessions[0].reference])
    ).content.decode()
    assert "Booked, but the branch is closed" in page
    assert "Central Library is closed that day (burst pipe)." in page
    assert "Nothing has been sent to the patron." in page
    assert "call the library at 312-555-0100 to move it" in page


def test_a_session_kept_inside_a_block_says_so_on_its_page(client, ana, topic, branch):
    wednesday = next_weekday(2)
    session = make_appointment(staff=ana, topic=topic, branch=branch, start=local(wednesday, 14))
    make_block(ana, local(wednesday, 13), local(wednesday, 16), reason="Dentist")
    client.force_login(ana.user)
    page = client.get(reverse("appointments:session", args=[session.reference])).content.decode()
    assert "Booked inside blocked time" in page
    assert "Ana P. is not free then. Nothing has been sent to the patron" in page
