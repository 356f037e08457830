"""The languages a patron can be served in, from settings.LANGUAGES.

A patron's language is kept on their record (and on each session booked), and every message to
them is written in it, whatever language the request that caused the message was in. Model
fields take their choices from the callables here, so a library that adds a language to
LANGUAGES needs no new migration.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation


def language_choices() -> list[tuple[str, str]]:
    """Every language offered, each named in itself ("Español")."""
    return list(settings.LANGUAGES)


def other_language_choices() -> list[tuple[str, str]]:
    """The languages other than the default: those that need their own texts."""
    return [(code, name) for code, name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def supported(code: str | None) -> str:
    """The offered language for this code ("es-mx" is served in "es"), else the default."""
    if code:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


def active_language() -> str:
    """The language of the request being answered: what a patron booking online reads."""
    return supported(translation.get_language())


def language_name(code: str) -> str:
    """The language named in the reader's own language: "Spanish" to English staff, "español"
    to Spanish-speaking staff."""
    try:
        return str(translation.get_language_info(code)["name_translated"])
    except KeyError:
        return code
