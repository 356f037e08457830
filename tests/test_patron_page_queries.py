"""The pages every patron opens cost a fixed, small number of queries, however many topics."""

from __future__ import annotations

from django.urls import reverse

from .factories import make_staff, make_topic


def test_the_home_page_takes_one_query_for_any_number_of_topics(
    client, librarian, branch, django_assert_num_queries
):
    make_topic("Not offered", is_active=False)
    nobody_books = make_topic("Nobody takes bookings")
    bo = make_staff("Bo K.", branch=branch, topics=[nobody_books])
    bo.is_bookable = False
    bo.save()
    for n in range(5):
        librarian.topics.add(make_topic(f"Topic {n}", lengths=(30, 60)))

    with django_assert_num_queries(1):
        page = client.get(reverse("appointments:home")).content.decode()

    assert page.count('card-title"') == 6
    assert "Topic 4" in page and "30 minutes or 60 minutes" in page
    assert "Not offered" not in page and "Nobody takes bookings" not in page


def test_the_need_page_takes_one_query_and_one_more_for_a_returning_patron(
    client, librarian, topic, django_assert_num_queries
):
    url = reverse("appointments:need", args=[topic.slug])
    with django_assert_num_queries(1):  # the topic: no session yet
        assert client.get(url).status_code == 200

    answers = {"skill_level": "new", "learning_goal": "Attach a photo", "party_size": 1}
    assert client.post(url, answers).status_code == 302
    with django_assert_num_queries(2):  # the session (the answers so far), then the topic
        page = client.get(url).content.decode()
    assert "Attach a photo" in page
