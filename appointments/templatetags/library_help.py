"""Template filters for dates and times in plain words, in the page's language."""

from django import template
from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import localize
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from appointments import access, formatting
from library_help.languages import language_choices, supported
from patrons.phones import format_phone

register = template.Library()


@register.filter
def when(moment) -> str:
    """ "Tuesday 3 March, 2:30 pm" (give it a local time)."""
    return formatting.format_when(moment) if moment else ""


@register.filter
def day(moment) -> str:
    return formatting.format_day(moment) if moment else ""


@register.filter
def clock(moment) -> str:
    return formatting.format_time(moment) if moment else ""


@register.filter
def session_lengths(minutes: list[int]) -> str:
    """A topic's session lengths: "30 minutes or 60 minutes"."""
    return formatting.format_lengths(minutes)


@register.filter
def minutes(n: int) -> str:
    """ "30 minutes"."""
    return formatting.format_minutes(n)


@register.simple_tag
def languages_by_own_name() -> list[tuple[str, str]]:
    """(code, name) of each language offered, named in itself ("Español") whatever the page's
    language: Django's get_available_languages would translate the names ("Inglés")."""
    return language_choices()


@register.filter
def lang_attr(language) -> str:
    """` lang="en"` when a text is in another language than the page's (a topic's name that
    fell back to English on a Spanish page), else nothing: `<h1{{ code|lang_attr }}>`.
    "default" stands for the library's default language (staff introductions)."""
    code = settings.LANGUAGE_CODE if language == "default" else str(language or "")
    if not code or code == supported(translation.get_language()):
        return ""
    return format_html(' lang="{}"', code)


@register.filter
def phone(number) -> str:
    """A stored number as people here write it: "(312) 555-0142"; anything else as it is."""
    return format_phone(str(number or ""))


@register.filter
def get_item(mapping, key):
    return mapping.get(key)


@register.filter
def full_stop(text) -> str:
    """End a sentence on this text, without a second full stop after "Ben O."."""
    text = str(text)
    return text if text.endswith(".") else f"{text}."


@register.filter
def error_anchor(field) -> str:
    """The id an error summary links to: a group of choices has none, so its first choice."""
    widget = field.field.widget
    if getattr(widget, "input_type", "") in ("radio", "checkbox") and hasattr(widget, "choices"):
        return f"{field.auto_id}_0"
    return field.auto_id


@register.filter
def add_class(field, css: str):
    """Render a form field with a Bootstrap class ("form-control" for text, "form-select")."""
    is_select = getattr(field.field.widget, "input_type", "") == "select"
    css = "form-select" if is_select else "form-control"
    return field.as_widget(attrs={"class": css})


@register.simple_tag
def schedule_warnings(user) -> dict:
    """Booked sessions inside a closure or blocked time, for whoever sees them; and for
    managers, schedules broken before patrons notice (nothing to book, no hours set)."""
    from appointments.calendar_feeds import feed_warnings
    from appointments.schedule_health import (
        booked_clashes,
        failed_messages_to_handle,
        staff_without_hours,
        topics_without_open_time,
    )

    warnings = {"clashes": booked_clashes(user), "feeds": feed_warnings(user)}
    if user.has_perm("appointments.view_message"):
        warnings["failed_messages"] = failed_messages_to_handle()
    if access.is_manager(user):
        warnings |= {"topics": topics_without_open_time(), "staff": staff_without_hours()}
    return warnings


@register.filter
def localtime_in(moment, branch):
    """A stored (UTC) time on the branch's clock (the library's, when no branch is chosen)."""
    if not moment:
        return moment
    return moment.astimezone(branch.tz) if branch else timezone.localtime(moment)


@register.simple_tag
def time_options(form) -> str:
    """The open times of `form` (a TimeChoiceForm) as radio buttons, one fieldset per day.

    Written here rather than as a template loop: a week of 50 times cost the time page about
    two thirds of its rendering that way. The markup is the one tests/e2e checks by keyboard.
    """
    chosen = form["slot"].value()
    parts = []
    for _day, day_label, items in form.days():
        day_label = escape(day_label)
        parts.append(
            f'<fieldset class="day mb-3">\n<legend class="h6">{day_label}</legend>\n'
            '<div class="d-flex flex-wrap gap-2">\n'
        )
        on_day = escape(gettext("on %(day_label)s")) % {"day_label": day_label}
        on_day = f'<span class="visually-hidden">{on_day}</span>'
        for value, label in items:
            value = escape(value)
            checked = " checked" if value == chosen else ""
            parts.append(
                f'<div class="time-option"><input class="btn-check" type="radio" name="slot"'
                f' id="slot-{value}" value="{value}"{checked} required>'
                f'<label class="btn btn-outline-primary" for="slot-{value}">{escape(label)}'
                f" {on_day}</label></div>\n"
            )
        parts.append("</div>\n</fieldset>\n")
    return mark_safe("".join(parts))


@register.simple_tag
def report_rows(table) -> str:
    """The body rows of a report table (appointments.reports.Table): a heading cell, then each
    figure with its column's name for the narrow-screen layout, and a dash read as "none" where
    there is no figure. Numbers are written as the page's language writes them.

    Written here rather than as a template loop: a year's tables hold about 1,000 cells, and the
    loop cost the reports page more time than its figures' query.
    """
    none = escape(gettext("none"))
    none = f'<span aria-hidden="true">–</span><span class="visually-hidden">{none}</span>'
    labels = [escape(label) for label in table.columns[1:]]
    parts = []
    for heading, *cells in table.rows:
        parts.append(f'<tr><th scope="row">{escape(localize(heading))}</th>')
        for label, cell in zip(labels, cells, strict=True):
            shown = none if cell is None else escape(localize(cell))
            parts.append(f'<td data-label="{label}">{shown}</td>')
        parts.append("</tr>\n")
    return mark_safe("".join(parts))
