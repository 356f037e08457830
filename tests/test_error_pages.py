"""The pages a patron sees when something goes wrong: in their language, with the library's
phone number, the reason that fits, and the same security headers as every other page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.utils import translation

from library_help.error_pages import server_error

from .servers import connect_directly


@pytest.mark.django_db(transaction=True)  # another connection holds a lock on a table
def test_a_page_that_fails_shows_the_phone_number_in_the_patrons_language(settings, topic):
    settings.LIBRARY_PHONE = "555-0142"
    client = Client(raise_request_exception=False)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")  # a web request's limit, made short
    try:
        with connect_directly() as other, other.transaction():
            other.execute("LOCK TABLE appointments_topic IN ACCESS EXCLUSIVE MODE")
            response = client.get("/", HTTP_ACCEPT_LANGUAGE="es")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Algo salió mal de nuestra parte" in page
    assert 'href="tel:555-0142"' in page


def test_the_error_page_needs_no_database(settings):
    """No django_db mark: any query would fail this test."""
    settings.LIBRARY_PHONE = "555-0142"
    with translation.override("en"):
        page = server_error(RequestFactory().get("/")).content.decode()
    assert "call the library at" in page and "555-0142" in page


@pytest.mark.django_db
def test_a_form_too_large_is_told_so_not_that_the_address_changed():
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32  # so the form is read, and found too large
    too_many = {f"field{number}": "x" for number in range(2000)}
    for data in (too_many, {"learning_goal": "x" * 3_000_000}):
        response = client.post("/i18n/setlang/", data)
        assert response.status_code == 400
        page = response.content.decode()
        assert "The form sent more than we can accept" in page
        assert "The address may be incomplete" not in page


@pytest.mark.django_db
def test_a_host_name_not_ours_gets_the_security_headers_and_no_cookie(settings):
    settings.ALLOWED_HOSTS = ["help.library.example"]
    response = Client().get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert not response.cookies
    assert "The address may be incomplete or changed" in response.content.decode()
