"""The translations stay whole: CI fails on a patron-facing word that is not marked for
translation, on a catalogue entry that is missing, untranslated or fuzzy, on a compiled .mo
that no longer matches its .po, and on a translation that drops or renames a placeholder.

Nothing here needs GNU gettext: the catalogues are read with polib, the templates with
Django's own lexer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
TEMPLATES = ROOT / "templates"

# Every template a patron can see (staff-only desk and admin pages are checked beside them).
PATRON_TEMPLATES = sorted(
    [
        TEMPLATES / "base.html",
        *TEMPLATES.glob("appointments/*.html"),
        *TEMPLATES.glob("includes/*.html"),
        *(TEMPLATES / name for name in ["privacy.html", "lockout.html", "rate_limited.html"]),
        *(TEMPLATES / f"{code}.html" for code in ["400", "403", "403_csrf", "404", "500"]),
        TEMPLATES / "bootstrap5" / "errors.html",
    ]
)
# The Python modules whose strings reach the patron pages.
PATRON_PYTHON = [
    ROOT / "appointments" / "forms.py",
    ROOT / "appointments" / "views.py",
    ROOT / "appointments" / "formatting.py",
    ROOT / "appointments" / "links.py",
    ROOT / "appointments" / "templatetags" / "library_help.py",
    ROOT / "patrons" / "forms.py",
    ROOT / "patrons" / "phones.py",
]

# Visible text allowed unmarked: none so far. Add a word here only with a reason, like a
# brand name that is the same in every language.
ALLOWED_WORDS: set[str] = set()

# Attributes whose value a person reads or hears.
READ_ATTRIBUTES = ("alt", "aria-label", "title", "placeholder", "aria-description")

CATALOGUES = sorted((ROOT / "locale").glob("*/LC_MESSAGES/django.po"))

PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
TAG = re.compile(r"<[!/]?[a-zA-Z][^>]*>")


def unmarked_text(source: str) -> list[str]:
    """What a template shows that no {% translate %} or {% blocktranslate %} covers: visible
    text between the tags, and the words of attributes that are read out (alt, aria-label…)."""
    shown = []
    skipping_until = None
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0]
            if skipping_until:
                if name == skipping_until:
                    skipping_until = None
                continue
            if name in ("blocktranslate", "blocktrans"):
                skipping_until = "end" + name
            elif name == "comment":
                skipping_until = "endcomment"
            shown.append("\x00")  # a tag's output: not text we wrote
        elif token.token_type == TokenType.VAR:
            shown.append("\x00")
        elif token.token_type == TokenType.TEXT and not skipping_until:
            shown.append(token.contents)
    html = re.sub(r"<!--.*?-->", "", "".join(shown), flags=re.S)
    problems = []
    for tag in TAG.findall(html):
        for attribute in READ_ATTRIBUTES:
            for value in re.findall(rf'\s{attribute}="([^"]*)"', tag):
                value = value.replace("\x00", "{{ }}")
                problems += [f'{attribute}="{value}"'] if _words(value.replace("{{ }}", "")) else []
    text = TAG.sub(" ", html).replace("\x00", " ")
    text = re.sub(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", " ", text)
    problems += [line.strip() for line in text.splitlines() if _words(line)]
    return problems


def _words(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", text)
    return any(word not in ALLOWED_WORDS for word in words)


def test_the_checker_finds_unmarked_words():
    assert unmarked_text("<p>Hello {{ name }}</p>") == ["Hello"]
    assert unmarked_text('<img src="x.png" alt="Our library">') == ['alt="Our library"']
    assert unmarked_text('<nav aria-label="Site">') == ['aria-label="Site"']
    assert unmarked_text('{% load i18n %}<p class="lead">{% translate "Hello" %}</p>') == []
    assert unmarked_text("{% blocktranslate trimmed %}Hi {{ x }}{% endblocktranslate %}") == []
    assert unmarked_text('<li{% if a %} class="current"{% endif %}>{{ b }}</li>') == []
    assert unmarked_text("{% comment %}A note for us{% endcomment %}<!-- and this -->") == []
    assert unmarked_text("<p>{{ when }} &ndash; 10</p>") == []


@pytest.mark.parametrize("template", PATRON_TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_word_on_a_patron_page_is_marked_for_translation(template):
    assert unmarked_text(template.read_text()) == []


def _template_messages(path: Path) -> set[tuple[str | None, str]]:
    """(context, msgid) of each string a template marks, as makemessages would extract it."""
    call = re.compile(
        r"\b(npgettext|pgettext|ngettext|gettext)\(((?:u?'(?:[^'\\]|\\.)*'\s*,\s*)*"
        r"u?'(?:[^'\\]|\\.)*')"
    )
    found = set()
    for function, arguments in call.findall(templatize(path.read_text(), origin=str(path))):
        strings = ast.literal_eval(f"({arguments},)")
        found.add(
            (strings[0], strings[1]) if function.startswith(("p", "np")) else (None, strings[0])
        )
    return found


GETTEXT_CALLS = {
    "_": False,
    "gettext": False,
    "gettext_lazy": False,
    "ngettext": False,
    "ngettext_lazy": False,
    "pgettext": True,
    "pgettext_lazy": True,
    "npgettext": True,
    "npgettext_lazy": True,
}


def _python_messages(path: Path) -> set[tuple[str | None, str]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        has_context = GETTEXT_CALLS.get(node.func.id)
        if has_context is None:
            continue
        strings = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if has_context:
            found.add((strings[0], strings[1]))
        elif strings:
            found.add((None, strings[0]))
    return found


def _entries(po) -> dict[tuple[str | None, str], polib.POEntry]:
    return {(entry.msgctxt, entry.msgid): entry for entry in po if not entry.obsolete}


@pytest.fixture(params=CATALOGUES, ids=lambda p: p.parts[-3])
def catalogue(request):
    return polib.pofile(str(request.param)), request.param


def test_there_is_a_spanish_catalogue():
    assert ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po" in CATALOGUES
    codes = {code for code, _ in settings.LANGUAGES}
    assert {path.parts[-3] for path in CATALOGUES} == codes - {settings.LANGUAGE_CODE}


def test_every_marked_string_is_in_the_catalogue(catalogue):
    po, path = catalogue
    known = _entries(po)
    marked = set()
    for template in PATRON_TEMPLATES:
        marked |= _template_messages(template)
    for module in PATRON_PYTHON:
        marked |= _python_messages(module)
    missing = sorted(marked - known.keys(), key=str)
    assert missing == [], f"run `make messages`, then translate them in {path}"


def test_the_catalogue_is_complete_and_nothing_is_fuzzy(catalogue):
    po, _ = catalogue
    assert not po.metadata_is_fuzzy
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    forms = int(re.search(r"nplurals\s*=\s*(\d+)", po.metadata["Plural-Forms"]).group(1))
    for entry in po:
        if entry.msgid_plural:
            # Every form the language has (Spanish has three), as `msgfmt -c` demands.
            assert sorted(entry.msgstr_plural) == list(range(forms)), entry.msgid
            assert all(entry.msgstr_plural.values()), entry.msgid


def test_the_compiled_catalogue_matches_its_source(catalogue):
    """The .mo is committed (a fresh CI machine has no msgfmt); it must say what the .po says."""
    po, path = catalogue
    mo_path = path.with_suffix(".mo")
    assert mo_path.exists(), f"run `make messages` to compile {path}"
    mo = polib.mofile(str(mo_path))

    def contents(catalogue) -> dict:
        return {
            (e.msgctxt, e.msgid): (e.msgstr_plural and dict(sorted(e.msgstr_plural.items())))
            or e.msgstr
            for e in catalogue
            if e.msgid and not e.obsolete and (e.msgstr or e.msgstr_plural)
        }

    assert contents(mo) == contents(po), f"{mo_path} is stale: run `make messages`"


def _placeholders(text: str) -> list[str]:
    return sorted(name or spec for name, spec in _placeholders_raw(text))


def _placeholders_raw(text: str):
    for match in PLACEHOLDER.finditer(text):
        if match.group(0) != "%%":
            yield match.group(1), match.group(0)[-1]


def test_each_translation_keeps_the_placeholders_and_markup_of_its_original(catalogue):
    po, _ = catalogue
    for entry in po.translated_entries():
        originals = [entry.msgid, entry.msgid_plural] if entry.msgid_plural else [entry.msgid]
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        wanted = set(_placeholders(originals[-1]))
        for form, text in enumerate(translations):
            # A plural's first form may leave the number out, as English does: "One session".
            given = set(_placeholders(text))
            assert given <= wanted if form == 0 and entry.msgid_plural else given == wanted, (
                entry.msgid,
                text,
            )
            assert sorted(TAG.findall(text)) == sorted(TAG.findall(originals[0])), entry.msgid
        if "python-format" in entry.flags and wanted:
            for text in translations:
                assert isinstance(text % dict.fromkeys(wanted, 1), str), entry.msgid
