"""The need and details forms look and read as they did under crispy-forms, for less.

`{% form_field %}` builds the patron's busiest forms without crispy's cost; these tests hold
its markup to crispy's (which still draws the staff pages) for a new form, an empty POST and a
wrong one, and check what a screen reader relies on: legends, ids, aria attributes and the
error summary's links.
"""

from __future__ import annotations

import re

import pytest
from django.template import engines
from django.test.html import parse_html
from django.urls import reverse

from appointments.forms import NeedForm
from patrons.forms import PatronForm

from .factories import local, make_topic, next_weekday

CRISPY = engines["django"].from_string("{% load crispy_forms_tags %}{{ form|crispy }}")
OURS = engines["django"].from_string(
    "{% load form_fields %}{% for field in form %}{% form_field field %}{% endfor %}"
)

NEED_ANSWERS = {"skill_level": "new", "learning_goal": "Attach a photo", "party_size": 2}
WRONG_NEED = {"skill_level": "bogus", "learning_goal": "x" * 1001, "party_size": 9, "length": 45}
WRONG_DETAILS = {"name": " ", "email": "nope", "phone": "12", "preferred_contact": "owl"}


def need_forms(topic):
    return {
        "new": NeedForm(topic=topic),
        "answered before": NeedForm(topic=topic, initial={**NEED_ANSWERS, "length": 30}),
        "empty": NeedForm({}, topic=topic),
        "wrong": NeedForm(WRONG_NEED, topic=topic),
        "right": NeedForm({**NEED_ANSWERS, "length": 30}, topic=topic),
    }


def details_forms():
    return {
        "new": PatronForm(),
        "empty": PatronForm({}),
        "wrong": PatronForm(WRONG_DETAILS),
        "partly right": PatronForm({"name": "Marcus Lee", "preferred_contact": "email"}),
    }


@pytest.mark.parametrize("lengths", [(30, 60), (60,)])
def test_the_need_form_has_the_markup_crispy_gave_it(db, lengths):
    topic = make_topic("Email", lengths=lengths)
    for case, form in need_forms(topic).items():
        assert parse_html(OURS.render({"form": form})) == parse_html(
            CRISPY.render({"form": form})
        ), case


def test_the_details_form_has_the_markup_crispy_gave_it(db):
    for case, form in details_forms().items():
        assert parse_html(OURS.render({"form": form})) == parse_html(
            CRISPY.render({"form": form})
        ), case


def test_a_wrong_need_is_explained_beside_each_question_and_in_the_summary(client, librarian):
    topic = make_topic("Email", lengths=(30, 60))
    librarian.topics.add(topic)
    page = client.post(reverse("appointments:need", args=[topic.slug]), WRONG_NEED)
    html = page.content.decode()

    # Each group of choices is a fieldset named by its question and described by its errors.
    assert '<legend class="form-label requiredField fs-6">How confident' in html
    assert '<fieldset aria-describedby="id_skill_level_error">' in html
    assert '<fieldset aria-describedby="id_length_helptext id_length_error">' in html
    assert html.count('aria-invalid="true"') == 3 + 1 + 3 + 2  # every choice, and the text
    assert 'id="error_1_id_party_size"' in html
    textarea = re.search(r"<textarea[^>]*>", html).group()
    assert 'aria-describedby="id_learning_goal_helptext id_learning_goal_error"' in textarea
    assert "is-invalid" in textarea
    # The summary at the top links to the first choice of a group, or to the text box.
    for anchor in ("id_skill_level_0", "id_learning_goal", "id_party_size_0", "id_length_0"):
        assert f'<a class="alert-link" href="#{anchor}">' in html
        assert f'id="{anchor}"' in html


def test_the_details_form_says_what_is_wrong_where(client, librarian, branch):
    topic = make_topic("Email", lengths=(30, 60))
    librarian.topics.add(topic)
    need = {**NEED_ANSWERS, "length": 60}
    client.post(reverse("appointments:need", args=[topic.slug]), need)
    slot = f"{branch.pk}-0-{int(local(next_weekday(1), 10).timestamp())}"
    url = reverse("appointments:contact", args=[topic.slug])

    fresh = client.get(url, {"slot": slot}).content.decode()
    assert "aria-invalid" not in fresh
    assert 'aria-describedby="id_name_helptext"' in fresh
    assert '<fieldset><legend class="form-label requiredField fs-6">How should we reach' in fresh

    html = client.post(url, {"slot": slot, **WRONG_DETAILS}).content.decode()
    assert 'aria-describedby="id_name_helptext id_name_error"' in html
    assert '<div id="id_email_error" class="invalid-feedback">' in html
    assert '<fieldset aria-describedby="id_preferred_contact_error">' in html
    assert '<a class="alert-link" href="#id_preferred_contact_0">' in html
    assert '<a class="alert-link" href="#id_phone">' in html
    # The hidden time rides along, and the summary is the only list of errors: no repeat.
    assert f'<input type="hidden" name="slot" value="{slot}" id="id_slot">' in html
    assert html.count("Please tell us your name.") == 2  # beside the box, and in the summary
