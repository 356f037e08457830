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


# The time page's loop over a week's times, as the template wrote it before `{% time_options %}`.
TIME_LOOP = engines["django"].from_string(
    """{% for day, day_label, items in form.days %}
        <fieldset class="day mb-3">
          <legend class="h6">{{ day_label }}</legend>
          <div class="d-flex flex-wrap gap-2">
            {% for value, label in items %}
              <div class="time-option">
                <input class="btn-check" type="radio" name="slot" id="slot-{{ value }}"
                  value="{{ value }}"{% if value == form.slot.value %} checked{% endif %} required>
                <label class="btn btn-outline-primary" for="slot-{{ value }}">{{ label }}
                  <span class="visually-hidden">on {{ day_label }}</span></label>
              </div>
            {% endfor %}
          </div>
        </fieldset>
      {% endfor %}"""
)
TIME_TAG = engines["django"].from_string("{% load library_help %}{% time_options form %}")


def test_the_time_buttons_have_the_markup_the_template_loop_gave_them(db):
    from appointments.forms import TimeChoiceForm
    from appointments.slots import Slot

    from .factories import make_branch

    branches = {b.pk: b for b in (make_branch("Central <Library>"), make_branch("Riverside"))}
    central, riverside = branches
    monday, tuesday = next_weekday(0), next_weekday(1)
    slots = [
        Slot(start=local(monday, 10), end=local(monday, 11), staff_id=1, branch_id=central),
        Slot(start=local(monday, 14, 30), end=local(monday, 15), staff_id=2, branch_id=riverside),
        Slot(start=local(tuesday, 12), end=local(tuesday, 13), staff_id=1, branch_id=central),
    ]
    names = {1: "Ana P.", 2: 'Ben "O."'}
    chosen = f"{riverside}-2-{int(local(monday, 14, 30).timestamp())}"
    for any_staff in (True, False):
        for data in (None, {"slot": chosen}, {"slot": "<b>9-9-9</b>"}):
            form = TimeChoiceForm(
                data, slots=slots, branches=branches, staff_names=names, any_staff=any_staff
            )
            form.is_valid()
            ours = TIME_TAG.render({"form": form})
            assert parse_html(ours) == parse_html(TIME_LOOP.render({"form": form}))
            assert ("checked" in ours) == (data == {"slot": chosen} and not any_staff)


def test_the_time_filters_have_the_markup_django_gave_them(db):
    from .factories import make_branch, make_staff

    topic = make_topic("Email")
    ana = make_staff("Ana <P.>", branch=make_branch("Central"), topics=[topic])
    for branches in ([], [make_branch("Riverside & Co")]):
        make_staff("Ben O.", branch=branches[0] if branches else ana.branches.get(), topics=[topic])
        _same_filter_markup(topic, ana)


def _same_filter_markup(topic, ana):
    from django import forms as django_forms

    from appointments.forms import TimeFilterForm

    for data in (None, {}, {"staff": str(ana.pk), "week": "2026-12-01"}, {"branch": '"><x'}):
        ours = TimeFilterForm(data, topic=topic)
        django = TimeFilterForm(data, topic=topic)
        for field in django.fields.values():
            field.widget = (
                django_forms.HiddenInput(attrs=field.widget.attrs)
                if field.widget.is_hidden
                else django_forms.Select(attrs=field.widget.attrs, choices=field.choices)
            )
        for name in ours.fields:
            assert parse_html(str(ours[name])) == parse_html(str(django[name])), (data, name)
