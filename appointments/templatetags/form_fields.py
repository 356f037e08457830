"""The patron's busiest forms, field by field, without crispy-forms' cost per request.

`{% form_field field %}` gives the markup of crispy's Bootstrap 5 pack (the same ids and
classes, a fieldset whose legend is the question for a group of choices, aria-describedby for
help and errors, aria-invalid), built here in Python: crispy's templates, or templates of our
own, cost milliseconds a form on pages every patron sees. Crispy stays on the staff pages.
tests/test_patron_form_markup.py holds the markup to crispy's.
"""

from __future__ import annotations

from django import template
from django.forms import BoundField, RadioSelect
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

ASTERISK = mark_safe('<span class="asteriskField">*</span>')


@register.simple_tag
def form_field(field: BoundField) -> SafeString:
    widget = field.field.widget
    if widget.is_hidden:
        return field.as_widget()
    if isinstance(widget, RadioSelect):
        return _radio_group(field)
    if getattr(widget, "input_type", None) in ("checkbox", "file", "select") or hasattr(
        widget, "allow_multiple_selected"
    ):
        # Not yet on a patron page: add it here, with a test beside the others, when one is.
        raise ValueError(f"form_field cannot render {type(widget).__name__} ({field.name})")
    return _text_box(field)


def _text_box(field: BoundField) -> SafeString:
    """A text box or text area under its label, then its errors, then its help."""
    widget = field.field.widget
    # Crispy's classes: the widget's own name ("textinput", "textarea"), then Bootstrap's.
    css = widget.attrs.get("class") or type(widget).__name__.lower()
    css += " form-control is-invalid" if field.errors else " form-control"
    # Django adds required, aria-invalid and aria-describedby (help text, then errors).
    return format_html(
        '<div id="div_{}" class="mb-3"><label for="{}" class="form-label{}">{}{}</label>'
        "{}{}{}</div>",
        field.auto_id,
        field.id_for_label,
        " requiredField" if field.field.required else "",
        field.label,
        ASTERISK if field.field.required else "",
        field.as_widget(attrs={"class": css}),
        _errors(field),
        _help(field),
    )


def _radio_group(field: BoundField) -> SafeString:
    """Radio buttons in a fieldset, its legend the question, described by its help and errors
    (which follow the last choice, as crispy has them)."""
    required = field.field.required
    invalid = bool(field.errors)
    chosen = field.field.widget.format_value(field.value())
    choices = list(field.field.choices)
    options = format_html_join(
        "",
        '<div class="form-check"><input type="radio" class="form-check-input{}" name="{}" '
        'value="{}" id="{}_{}"{}{}{}><label for="{}_{}" class="form-check-label">{}</label>'
        "{}</div>",
        (
            (
                " is-invalid" if invalid else "",
                field.html_name,
                value,
                field.auto_id,
                index,
                mark_safe(" required") if required else "",
                mark_safe(" checked") if str(value) in chosen else "",
                mark_safe(' aria-invalid="true"') if invalid else "",
                field.auto_id,
                index,
                label,
                _errors(field) if index == len(choices) - 1 else "",
            )
            for index, (value, label) in enumerate(choices)
        ),
    )
    described_by = field.aria_describedby
    return format_html(
        '<div id="div_{}" class="mb-3"><fieldset{}><legend class="form-label{} fs-6">{}{}'
        "</legend><div>{}</div>{}</fieldset></div>",
        field.auto_id,
        format_html(' aria-describedby="{}"', described_by) if described_by else "",
        " requiredField" if required else "",
        field.label,
        ASTERISK if required else "",
        options,
        _help(field),
    )


def _errors(field: BoundField) -> SafeString | str:
    if not field.errors:
        return ""
    return format_html(
        '<div id="{}_error" class="invalid-feedback">{}</div>',
        field.auto_id,
        format_html_join(
            "",
            '<p id="error_{}_{}"><strong>{}</strong></p>',
            ((number, field.auto_id, error) for number, error in enumerate(field.errors, 1)),
        ),
    )


def _help(field: BoundField) -> SafeString | str:
    if not field.help_text:
        return ""
    # Unescaped, as Django and crispy show help text: it is ours, never a patron's.
    help_text = mark_safe(field.help_text)
    return format_html('<div id="{}_helptext" class="form-text">{}</div>', field.auto_id, help_text)
