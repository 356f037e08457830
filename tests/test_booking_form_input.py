"""Every patron form tried with the wrong things: a clear message, and nothing saved."""

import re

import pytest
from django.urls import reverse

from appointments.links import make_feedback_token
from appointments.models import Appointment, Feedback, WaitlistEntry
from patrons.models import Patron

from .factories import local, make_appointment, make_topic, next_weekday

pytestmark = pytest.mark.django_db
NEED = {"skill_level": "some", "learning_goal": "Apply for jobs online", "party_size": 1}


def start(client, topic, **need):
    return client.post(reverse("appointments:need", args=[topic.slug]), {**NEED, **need})


@pytest.mark.parametrize(
    "change, message",
    [
        ({"skill_level": ""}, "Please choose how confident you feel."),
        ({"learning_goal": "   "}, "Please tell us what you would like help with."),
        ({"learning_goal": "x" * 1001}, "Please keep this to 1000 characters or fewer"),
        ({"party_size": 4}, "Please choose one of the answers shown."),
        ({"party_size": "abc"}, "Please choose one of the answers shown."),
        ({"skill_level": "expert"}, "Please choose one of the answers shown."),
        ({"learning_goal": "Email\x00"}, "it holds an invisible character"),
    ],
)
def test_need_step_refuses_bad_input_with_a_clear_message(client, topic, change, message):
    response = start(client, topic, **change)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert f"booking:{topic.slug}" not in client.session


def test_a_length_the_topic_does_not_offer_is_refused(client, librarian):
    topic = make_topic("Email", lengths=(30, 60))
    librarian.topics.add(topic)
    response = start(client, topic, length=45)
    assert "Please choose one of the session lengths offered." in response.content.decode()


def test_unknown_or_inactive_topics_are_not_found(client, topic):
    assert client.get("/book/no-such-topic/").status_code == 404
    topic.is_active = False
    topic.save()
    assert client.get(reverse("appointments:need", args=[topic.slug])).status_code == 404


def test_skipping_steps_sends_the_patron_back(client, librarian, topic):
    need_url = reverse("appointments:need", args=[topic.slug])
    time_url = reverse("appointments:time", args=[topic.slug])
    contact_url = reverse("appointments:contact", args=[topic.slug])
    assert client.get(time_url)["Location"].endswith(need_url)
    assert client.get(contact_url)["Location"].endswith(need_url)
    start(client, topic)
    # The details page without a time in its address: choose one (the session holds none).
    assert client.get(contact_url)["Location"].endswith(time_url)


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("", "Please choose a time."),
        ("abc", "We could not find the time you chose."),
        ("1-0-99999999999999999", "We could not find the time you chose."),
        ("1-999-1", "We could not find the time you chose."),
    ],
)
def test_a_tampered_or_missing_time_is_refused(client, librarian, topic, slot, message):
    start(client, topic)
    response = client.post(reverse("appointments:time", args=[topic.slug]), {"slot": slot})
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page and "That time was just taken" not in page
    assert "slot" not in client.session[f"booking:{topic.slug}"]


def test_a_past_time_is_refused(client, librarian, topic, branch):
    start(client, topic)
    past = local(next_weekday(1, weeks_ahead=-2), 10)
    value = f"{branch.pk}-0-{int(past.timestamp())}"
    response = client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    assert "That time has passed. Please choose another time." in response.content.decode()


def test_a_time_taken_between_steps_sends_the_patron_back_to_fresh_choices(
    client, librarian, topic, branch
):
    start(client, topic)
    tuesday = next_weekday(1)
    value = f"{branch.pk}-0-{int(local(tuesday, 10).timestamp())}"
    client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    make_appointment(staff=librarian, topic=topic, branch=branch, start=local(tuesday, 10))
    response = client.post(
        reverse("appointments:contact", args=[topic.slug]),
        {
            "slot": value,
            "name": "Marcus Lee",
            "email": "marcus@example.org",
            "preferred_contact": "email",
        },
        follow=True,
    )
    assert "That time was just taken. Please choose another time." in response.content.decode()
    assert response.redirect_chain[-1][0].endswith(reverse("appointments:time", args=[topic.slug]))
    assert Appointment.objects.count() == 1
    # The refused booking left no patron record behind.
    assert not Patron.objects.filter(email="marcus@example.org").exists()


@pytest.mark.parametrize(
    "details, field, message",
    [
        ({"email": "", "phone": ""}, "email", "Please give an email address or a phone number."),
        (
            {"email": "", "phone": "312-555-0142", "preferred_contact": "email"},
            "email",
            "You chose email, so please give an email address.",
        ),
        (
            {"preferred_contact": "text", "phone": ""},
            "phone",
            "You chose a text or a call, so please give a phone number.",
        ),
        ({"preferred_contact": ""}, "preferred_contact", "Please choose how we should reach you."),
        ({"email": "not-an-email"}, "email", "Please check the email address"),
        ({"phone": "call me maybe"}, "phone", "Please check the phone number"),
        ({"phone": "12"}, "phone", "it should look like 312-555-0142"),
        ({"name": "   "}, "name", "Please tell us your name."),
        ({"name": "N" * 121}, "name", "120 characters or fewer"),
        (
            {"accessibility_needs": "x" * 10000},
            "accessibility_needs",
            "Please keep this to 500 characters or fewer (it has 10000).",
        ),
        ({"card_number": "9" * 31}, "card_number", "30 characters or fewer (it has 31)"),
        (
            {"email": "m" * 250 + "@example.org"},
            "email",
            "Please keep this to 254 characters or fewer (it has 262).",
        ),
        ({"name": "Marcus\x00Lee"}, "name", "it holds an invisible character"),
        ({"accessibility_needs": "Large\x00print"}, "accessibility_needs", "invisible character"),
        ({"preferred_contact": "owl"}, "preferred_contact", "Please choose one of the answers"),
    ],
)
def test_contact_step_refuses_bad_details(
    client, librarian, topic, branch, details, field, message
):
    start(client, topic)
    value = f"{branch.pk}-0-{int(local(next_weekday(1), 10).timestamp())}"
    client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
    data = {
        "slot": value,
        "name": "Marcus Lee",
        "email": "marcus@example.org",
        "phone": "",
        "preferred_contact": "email",
        **details,
    }
    response = client.post(reverse("appointments:contact", args=[topic.slug]), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert field in response.context["form"].errors
    # The page shown again still books the time it showed.
    assert f'name="slot" value="{value}"' in response.content.decode()
    assert Patron.objects.count() == 0 and Appointment.objects.count() == 0
    # Never in Django's own words.
    for django_words in ["Ensure this value", "Null characters", "Select a valid choice"]:
        assert django_words not in response.content.decode()


def test_the_long_answers_say_their_limit_and_take_a_whole_paste(client, librarian, topic):
    """A browser's maxlength would cut a pasted text short without a word: the limit is told
    beforehand instead, and a text too long comes back whole, in its box, to be shortened."""
    need = client.get(reverse("appointments:need", args=[topic.slug])).content.decode()
    goal = re.search(r"<textarea[^>]*>", need).group()
    assert "maxlength" not in goal
    assert "at most 1,000 characters" in need
    pasted = "I want to learn email. " * 50
    page = start(client, topic, learning_goal=pasted).content.decode()
    assert "Please keep this to 1000 characters or fewer (it has 1149)." in page
    assert pasted.strip() in page

    start(client, topic)
    value = f"{librarian.branches.first().pk}-0-{int(local(next_weekday(1), 10).timestamp())}"
    details = client.get(reverse("appointments:contact", args=[topic.slug]), {"slot": value})
    page = details.content.decode()
    needs_box = re.search(r'<textarea[^>]*name="accessibility_needs"[^>]*>', page).group()
    assert "maxlength" not in needs_box
    assert "At most 500 characters." in page


def test_each_patron_form_says_what_the_star_means(client, librarian, topic):
    explained = "Please answer each question marked with a star (*)."
    need = client.get(reverse("appointments:need", args=[topic.slug])).content.decode()
    assert need.count(explained) == 1 and 'class="asteriskField"' in need
    start(client, topic)
    value = f"{librarian.branches.first().pk}-0-{int(local(next_weekday(1), 10).timestamp())}"
    details = client.get(reverse("appointments:contact", args=[topic.slug]), {"slot": value})
    assert details.content.decode().count(explained) == 1
    waitlist = client.get(reverse("appointments:join_waitlist", args=[topic.slug]))
    assert waitlist.content.decode().count(explained) == 1


def test_a_returning_patron_is_recognised_and_kindly_limited(client, librarian, topic, branch):
    tuesday, thursday = next_weekday(1), next_weekday(3, weeks_ahead=2)

    def book_at(day, hour):
        start(client, topic)
        value = f"{branch.pk}-0-{int(local(day, hour).timestamp())}"
        client.post(reverse("appointments:time", args=[topic.slug]), {"slot": value})
        return client.post(
            reverse("appointments:contact", args=[topic.slug]),
            {
                "slot": value,
                "name": "Marcus",
                "email": "MARCUS@example.org",
                "preferred_contact": "email",
            },
        )

    book_at(tuesday, 10)
    book_at(thursday, 10)
    # Each online booking keeps its own record (nobody proves who they are online) ...
    assert Patron.objects.count() == 2
    # ... but the limit counts every session of the same email, whatever its case.
    response = book_at(next_weekday(3, weeks_ahead=4), 11)
    assert response.content.decode().count("more than we can book online") == 1
    assert Appointment.objects.count() == 2


def test_the_waiting_list_and_the_follow_up_refuse_bad_input_in_plain_words(
    client, librarian, topic, branch
):
    start(client, topic)
    waitlist = reverse("appointments:join_waitlist", args=[topic.slug])
    page = client.post(
        waitlist,
        {
            "weekdays": ["9"],
            "branch": "999999",
            "name": "Harold\x00",
            "phone": "312-555-0142",
            "preferred_contact": "call",
            "accessibility_needs": "x" * 501,
        },
    ).content.decode()
    assert page.count("Please choose one of the answers shown.") >= 2
    assert "it holds an invisible character" in page
    assert "Please keep this to 500 characters or fewer (it has 501)." in page
    assert "Select a valid choice" not in page and "Null characters" not in page
    assert WaitlistEntry.objects.count() == 0 and Patron.objects.count() == 0

    session = make_appointment(
        staff=librarian, topic=topic, branch=branch, start=local(next_weekday(1), 10)
    )
    follow_up = reverse("appointments:feedback", args=[make_feedback_token(session)])
    assert "At most 1,000 characters." in client.get(follow_up).content.decode()
    page = client.post(follow_up, {"helpful": 5, "comment": "Thank you! " * 100}).content.decode()
    assert "Please keep this to 1000 characters or fewer (it has 1099)." in page
    for django_words in ["Ensure this value", "Null characters", "Select a valid choice"]:
        assert django_words not in page
    assert Feedback.objects.count() == 0
