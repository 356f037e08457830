"""María books on her phone in Spanish; a patron switches language with the keyboard alone.

Her phone's browser asks for Spanish (es-US), so the first page is already in Spanish. Each page
of the booking path passes the accessibility audit at 375 pixels wide. With UPDATE_SCREENSHOTS=1
the path is saved as docs/spanish-1-home.png … docs/spanish-5-booked.png.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from appointments.models import Appointment, Status

from ..factories import make_branch, make_staff, make_topic
from .conftest import ROOT, _assert_same_origin, _new_page, audit

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def library():
    """Central Library; Ana helps with job search on weekdays, 10 am to 4 pm."""
    branch = make_branch()
    topic = make_topic("Job search and résumés", lengths=(30, 60))
    topic.translations.create(
        language="es",
        name="Búsqueda de empleo y currículum",
        description="Escriba o actualice su currículum y busque empleo por internet.",
    )
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(day, 10, 16) for day in range(5)])
    return topic


@pytest.fixture
def spanish_phone(browser, app_server):
    """A phone 375 pixels wide whose browser asks for Spanish."""
    context, page = _new_page(
        browser, app_server, locale="es-US", viewport={"width": 375, "height": 800}
    )
    yield page
    _assert_same_origin(page)
    context.close()


def check(page, name: str | None = None) -> None:
    """The page is in Spanish, passes the audit and fits the phone's width; saved on request."""
    expect(page.locator("html")).to_have_attribute("lang", "es")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways at 375 px"
    audit(page)
    if name and os.environ.get("UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / f"spanish-{name}.png"), full_page=True)


def test_maria_books_on_her_phone_in_spanish(spanish_phone, library):
    page = spanish_phone
    page.goto(page.base + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Reciba ayuda individual en la biblioteca"
    )
    check(page, "1-home")

    page.get_by_role("link", name="Búsqueda de empleo y currículum").click()
    page.get_by_label("Soy principiante").check()
    page.get_by_label("¿Qué le gustaría aprender o hacer?").fill(
        "Quiero llenar una solicitud de empleo por internet."
    )
    page.get_by_label("60 minutos").check()
    check(page, "2-need")

    page.get_by_role("button", name="Siguiente: elegir una hora").click()
    expect(page.get_by_role("heading", name="Elija una hora")).to_be_visible()
    check(page, "3-time")

    page.locator("fieldset.day label").first.click()
    page.get_by_role("button", name="Siguiente: sus datos").click()
    expect(page.get_by_role("heading", name="Sus datos")).to_be_visible()
    page.get_by_label("Su nombre").fill("María Gómez")
    page.get_by_label("Número de teléfono (opcional").fill("312-555-0142")
    page.get_by_label("Mensaje de texto").check()
    check(page, "4-details")

    page.get_by_role("button", name="Reservar esta sesión").click()
    expect(page.get_by_text("Ya tiene su reserva.")).to_be_visible()
    check(page, "5-booked")
    assert Appointment.objects.get().status == Status.CONFIRMED


def test_form_errors_in_spanish_pass_the_audit(spanish_phone, library):
    page = spanish_phone
    page.goto(page.base + "/book/job-search-and-resumes/")
    page.get_by_role("button", name="Siguiente: elegir una hora").click()
    expect(page.get_by_role("heading", name="Por favor, revise el formulario")).to_be_visible()
    goal = page.get_by_label("¿Qué le gustaría aprender o hacer?")
    expect(goal).to_have_attribute("aria-invalid", "true")
    check(page)


def test_the_language_switcher_works_by_keyboard_alone(page, library):
    page.goto(page.base + "/book/job-search-and-resumes/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    spanish = page.get_by_role("button", name="Español")
    expect(spanish).to_have_attribute("lang", "es")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Español":
            break
    expect(spanish).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused language button shows no focus"
    page.keyboard.press("Enter")

    # Back on the same page, now in Spanish; English is the button, Spanish the current one.
    expect(page.locator("html")).to_have_attribute("lang", "es")
    assert page.url.endswith("/book/job-search-and-resumes/")
    expect(page.get_by_label("Soy principiante")).to_be_visible()
    expect(page.get_by_role("button", name="English")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Español")).to_have_count(0)
    expect(page.locator('[aria-current="true"]')).to_have_text("Español")
    audit(page)
