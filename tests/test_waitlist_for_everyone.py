"""The waiting list for everyone: phone patrons are booked into the time held for them, an
evening offer is still held the next day, joining is confirmed with a link to change or leave,
and a patron can ask for mornings, afternoons or evenings."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from appointments.access import hide_private_links
from appointments.booking import BookingError, find_open_slots
from appointments.models import (
    Appointment,
    Availability,
    Message,
    MessageChannel,
    MessageKind,
    MessageState,
    WaitlistEntry,
    WaitlistState,
)
from appointments.waitlist import hold_until, offer_open_times, offer_token, part_of_day

from .factories import (
    book,
    local,
    make_closure,
    make_patron,
    make_staff,
    make_topic,
    make_user,
    next_weekday,
)

pytestmark = pytest.mark.django_db


def wait(topic, patron, **extra):
    return WaitlistEntry.objects.create(
        topic=topic,
        patron=patron,
        skill_level="new",
        learning_goal="Video calls with my grandchildren",
        party_size=1,
        length=60,
        **extra,
    )


def rosa():
    return make_patron("Rosa Martinez", email="", phone="312-555-0142", preferred_contact="call")


@pytest.fixture
def thursday_ten(topic, branch):
    """Ana has exactly one open hour: Thursday 10 to 11."""
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(3, 10, 11)])
    thursday = next_weekday(3)
    Availability.objects.filter(staff=ana).update(valid_from=thursday, valid_until=thursday)
    return ana


@pytest.fixture
def desk(client):
    user = make_user("frontdesk", groups=("Desk",))
    client.force_login(user)
    return user


def slot_values(page: str) -> list[str]:
    return re.findall(r'name="slot" id="[^"]+" value="([^"]+)"', page)


def checked_values(page: str) -> list[str]:
    return re.findall(r'name="slot" id="[^"]+" value="([^"]+)" checked', page)


# --- The held time is bookable by the desk, for its holder only ---------------------------------


def test_desk_books_a_phone_patron_into_the_time_held_for_them(
    client, desk, topic, branch, thursday_ten
):
    entry = wait(topic, rosa(), weekdays=[3])
    offer_open_times()
    entry.refresh_from_db()
    ten = local(next_weekday(3), 10)
    assert (entry.state, entry.offer_starts_at) == (WaitlistState.OFFERED, ten)

    calls = client.get(reverse("appointments:calls")).content.decode()
    book_it = re.search(r'href="([^"]+)">Book it', calls).group(1).replace("&amp;", "&")
    page = client.get(book_it).content.decode()
    assert "(held for Rosa)" in page
    # The held time is chosen already; the desk still confirms with the button.
    [chosen] = checked_values(page)
    assert chosen.endswith(str(int(ten.timestamp())))
    # What she wants to learn is hers to tell the desk again: needs are private until the day.
    assert "Video calls with my grandchildren" not in page

    response = client.post(
        book_it,
        {
            "slot": chosen,
            "skill_level": "new",
            "learning_goal": "Video calls with my grandchildren",
            "party_size": 1,
            "channel": "phone",
        },
    )
    session = Appointment.objects.get()
    assert response["Location"] == reverse("appointments:desk_booked", args=[session.reference])
    assert (session.patron, session.starts_at, session.staff) == (entry.patron, ten, thursday_ten)
    assert (session.channel, session.booked_by) == ("phone", desk)
    entry.refresh_from_db()
    assert entry.state == WaitlistState.BOOKED
    # The offer is taken: nobody else is offered it, and its call has no "Book it" any more.
    assert offer_open_times() == {"expired": 0, "withdrawn": 0, "offered": 0}
    assert ">Book it<" not in client.get(reverse("appointments:calls")).content.decode()


def test_another_patron_cannot_take_the_held_time(client, desk, topic, branch, thursday_ten):
    entry = wait(topic, rosa(), weekdays=[3])
    offer_open_times()
    entry.refresh_from_db()
    marcus = make_patron("Marcus Lee")
    thursday = next_weekday(3)

    url = reverse("appointments:desk_book", args=[marcus.pk])
    page = client.get(url, {"topic": topic.pk, "week": thursday.isoformat()}).content.decode()
    assert slot_values(page) == []
    assert "held for" not in page
    with pytest.raises(BookingError):
        book(patron=marcus, topic=topic, branch=branch, start=entry.offer_starts_at, booked_by=desk)
    with pytest.raises(BookingError):
        book(patron=marcus, topic=topic, branch=branch, start=entry.offer_starts_at)
    assert not Appointment.objects.exists()
    entry.refresh_from_db()
    assert entry.state == WaitlistState.OFFERED


# --- Holds last until the branch closes on its next open day -----------------------------------


@pytest.fixture
def ben_on_tuesdays(branch):
    """Someone works at the branch on Tuesdays, 9 am to 5 pm: it is open then."""
    other = make_topic("Job applications")
    return make_staff("Ben O.", branch=branch, topics=[other], hours=[(1, 9, 17)])


def test_an_offer_made_at_6_22_pm_is_held_the_next_day_until_the_branch_closes(
    topic, branch, thursday_ten, ben_on_tuesdays
):
    entry = wait(topic, rosa())
    monday_evening = local(next_weekday(0), 18, 22)
    offer_open_times(now=monday_evening)
    entry.refresh_from_db()
    tuesday = next_weekday(1)
    assert entry.offer_expires_at == local(tuesday, 17)

    # At 6:22 the next morning it is still hers; once the branch has closed, it is not.
    assert offer_open_times(now=monday_evening + timedelta(hours=12))["expired"] == 0
    entry.refresh_from_db()
    assert entry.state == WaitlistState.OFFERED
    assert offer_open_times(now=local(tuesday, 17, 1))["expired"] == 1
    # Nobody else waits, so it is offered to her again: now held until her own link can no
    # longer book it (Thursday is the next open day, and the session begins before the branch
    # closes): the topic's notice before the start.
    entry.refresh_from_db()
    assert entry.offers_made == 2
    notice = timedelta(hours=topic.notice_hours)
    assert entry.offer_expires_at == local(next_weekday(3), 10) - notice


def test_a_hold_never_outlasts_the_start_of_the_time_offered(
    topic, branch, thursday_ten, ben_on_tuesdays
):
    ten = local(next_weekday(3), 10)
    monday_evening = local(next_weekday(0), 18, 22)
    # The branch is closed on Tuesday: the next open day is Thursday, when the session starts.
    make_closure(branch, next_weekday(1))
    assert hold_until(branch, ten, monday_evening) == ten
    # An offer made the evening before the session: held until it starts, not past it.
    assert hold_until(branch, ten, local(next_weekday(2), 18, 22)) == ten


def test_a_hold_skips_a_closed_day(topic, branch, thursday_ten, ben_on_tuesdays):
    friday_session = local(next_weekday(4), 15)
    make_staff("Cy D.", branch=branch, topics=[topic], hours=[(3, 9, 19)])
    make_closure(branch, next_weekday(1))
    # Closed on Tuesday, nobody works Wednesday: held until Thursday's closing at 7 pm.
    held = hold_until(branch, friday_session, local(next_weekday(0), 18, 22))
    assert held == local(next_weekday(3), 19)


# --- Joining confirms, with a private link to change or leave ----------------------------------


def join(client, topic, **contact):
    client.post(
        reverse("appointments:need", args=[topic.slug]),
        {"skill_level": "some", "learning_goal": "Spreadsheets", "party_size": 1},
    )
    return client.post(reverse("appointments:join_waitlist", args=[topic.slug]), contact)


def path_of(link: str) -> str:
    return link.removeprefix(settings.SITE_URL.rstrip("/"))


def test_joining_confirms_by_email_with_a_link_to_change_and_to_leave(
    client, topic, branch, thursday_ten
):
    response = join(
        client,
        topic,
        name="Ann Lee",
        email="ann@example.org",
        preferred_contact="email",
        weekdays=["1", "3"],
        time_of_day="morning",
    )
    assert "We have sent you a confirmation" in response.content.decode()
    entry = WaitlistEntry.objects.get()
    assert (entry.weekdays, entry.time_of_day) == ([1, 3], "morning")
    message = Message.objects.get(kind=MessageKind.WAITLIST_JOINED)
    assert (message.channel, message.to, message.state) == ("email", "ann@example.org", "pending")
    assert "Tuesdays or Thursdays, mornings, at any of our libraries" in message.body
    change = path_of(re.search(r"http\S+/change/", message.body).group(0))
    assert change.split("/")[-3] not in hide_private_links(message.body)  # As staff see it.

    page = client.get(change).content.decode()
    assert "Your place on the waiting list for Computer basics" in page
    client.post(change, {"weekdays": ["4"], "time_of_day": "", "branch": branch.pk})
    entry.refresh_from_db()
    assert (entry.weekdays, entry.time_of_day, entry.branch) == ([4], "", branch)

    leave = change.replace("/change/", "/leave/")
    assert f'href="{leave}"' in client.get(change).content.decode()
    assert "Leave the waiting list for Computer basics?" in client.get(leave).content.decode()
    assert "You have left the waiting list" in client.post(leave).content.decode()
    entry.refresh_from_db()
    assert entry.state == WaitlistState.REMOVED
    # Gone from the list: no offers, and the link now says so kindly.
    assert offer_open_times()["offered"] == 0
    assert client.get(change).status_code == 404


def test_joining_confirms_by_text_without_saying_what_the_help_is_for(client, topic, branch):
    join(client, topic, name="Tom Ray", phone="312-555-0199", preferred_contact="text")
    message = Message.objects.get(kind=MessageKind.WAITLIST_JOINED)
    assert (message.channel, message.state) == (MessageChannel.TEXT, MessageState.PENDING)
    assert message.to.endswith("3125550199")
    assert "/change/" in message.body
    assert "Computer basics" not in message.body and "Spreadsheets" not in message.body


def test_a_phone_patron_who_joins_online_is_called_to_confirm(client, topic, branch):
    response = join(
        client,
        topic,
        name="Rosa Martinez",
        phone="312-555-0142",
        **{
            "preferred_contact": "call",
        },
    )
    assert "We will call you to confirm your place" in response.content.decode()
    call = Message.objects.get(kind=MessageKind.WAITLIST_JOINED)
    assert (call.channel, call.state) == (MessageChannel.CALL, MessageState.TO_CALL)
    assert "waiting list for Computer basics" in call.body
    assert "http" not in call.body  # Staff never see a patron's private link.


def test_a_tampered_or_foreign_link_is_a_friendly_404_and_changes_nothing(
    client, topic, branch, thursday_ten
):
    join(client, topic, name="Ann Lee", email="ann@example.org", preferred_contact="email")
    entry = WaitlistEntry.objects.get()
    message = Message.objects.get(kind=MessageKind.WAITLIST_JOINED)
    change = path_of(re.search(r"http\S+/change/", message.body).group(0))
    token = change.split("/")[-3]
    tampered = change.replace(token, token[:-2] + ("aa" if token[-2:] != "aa" else "bb"))
    for url in (tampered, tampered.replace("/change/", "/leave/")):
        response = client.post(url, {"weekdays": ["4"], "time_of_day": "evening"})
        assert response.status_code == 404
        assert "This link does not work" in response.content.decode()
    # An offer's link is not a change-or-leave link, even for the same entry.
    foreign = reverse("appointments:waitlist_leave", args=[offer_token(entry)])
    assert client.post(foreign).status_code == 404
    entry.refresh_from_db()
    assert (entry.state, entry.weekdays, entry.time_of_day) == (WaitlistState.WAITING, [], "")


# --- Mornings, afternoons, evenings ------------------------------------------------------------


def test_times_of_day_are_on_the_branch_clock():
    day = next_weekday(1)
    assert part_of_day(local(day, 11, 59)) == "morning"
    assert part_of_day(local(day, 12)) == "afternoon"
    assert part_of_day(local(day, 16, 59)) == "afternoon"
    assert part_of_day(local(day, 17)) == "evening"


def test_each_patron_is_offered_a_time_in_the_part_of_the_day_they_asked_for(topic, branch):
    tuesday = next_weekday(1)
    ana = make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 9, 20)])
    Availability.objects.filter(staff=ana).update(valid_from=tuesday, valid_until=tuesday)
    evening = wait(topic, make_patron("Eve Ning"), time_of_day="evening")
    afternoon = wait(topic, make_patron("Al Noon"), time_of_day="afternoon")
    morning = wait(topic, make_patron("Mo Ning"), time_of_day="morning")
    anytime = wait(topic, make_patron("Any Time"))
    assert offer_open_times()["offered"] == 4
    for entry, part in [(evening, "evening"), (afternoon, "afternoon"), (morning, "morning")]:
        entry.refresh_from_db()
        assert part_of_day(entry.offer_starts_at.astimezone(branch.tz)) == part
    anytime.refresh_from_db()
    assert anytime.state == WaitlistState.OFFERED


def test_no_offer_outside_the_part_of_the_day_asked_for(topic, branch, thursday_ten):
    entry = wait(topic, make_patron("Eve Ning"), time_of_day="evening")
    assert offer_open_times()["offered"] == 0
    entry.refresh_from_db()
    assert entry.state == WaitlistState.WAITING
    slots = find_open_slots(topic, length=60, first_day=next_weekday(3), last_day=next_weekday(3))
    assert len(slots) == 1  # Thursday 10 am stays open for anyone.


# --- Roles -------------------------------------------------------------------------------------


def test_a_librarian_sees_no_names_and_cannot_book_the_held_time(
    client, topic, branch, thursday_ten
):
    entry = wait(topic, rosa(), weekdays=[3])
    offer_open_times()
    client.force_login(thursday_ten.user)
    assert client.get(reverse("appointments:calls")).status_code == 403
    book_it = reverse("appointments:desk_book", args=[entry.patron_id])
    assert client.get(book_it, {"topic": topic.pk, "held": 1}).status_code == 403
    waiting = client.get(reverse("admin:appointments_waitlistentry_changelist"))
    assert waiting.status_code == 200
    assert "Rosa" not in waiting.content.decode()
    assert "312" not in waiting.content.decode()
