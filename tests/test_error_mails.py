"""Error mails to ADMINS: one per kind of error per few minutes, however many pages fail, and
none for requests Django refuses as suspicious (anyone on the internet can send those)."""

from __future__ import annotations

import io
import logging
import time

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import IntegrityError
from django.test import Client, RequestFactory

from library_help.errors import AdminEmailInBackground, RefusedRequestAsWarning
from patrons.models import Patron

pytestmark = pytest.mark.django_db(transaction=True)  # the mail's thread reads the shared cache


@pytest.fixture(autouse=True)
def staff_get_error_mails(settings):
    settings.DEBUG = False
    settings.ADMINS = [("", "it@library.example")]
    settings.ERROR_MAIL_INTERVAL_MINUTES = 5
    cache.clear()
    AdminEmailInBackground.forget_mailed()
    yield
    cache.clear()
    AdminEmailInBackground.forget_mailed()


def _page_fails(path: str) -> None:
    """What Django does when a page fails: the error is logged with the request."""
    request = RequestFactory().get(path)
    try:
        Patron.objects.create(name="Rosa Martinez", email="", phone="")  # breaks a constraint
    except IntegrityError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            request.path,
            exc_info=True,
            extra={"status_code": 500, "request": request},
        )


def _other_page_fails(path: str) -> None:
    request = RequestFactory().get(path)
    try:
        {}["branch"]
    except KeyError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            request.path,
            exc_info=True,
            extra={"status_code": 500, "request": request},
        )


def _mails_after_a_moment(expected: int) -> list:
    """The mails are sent from threads: wait for the expected number, then a little longer
    to see that no more come."""
    deadline = time.monotonic() + 10
    while len(mail.outbox) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    return list(mail.outbox)


def test_the_same_error_on_every_page_is_mailed_once():
    for _ in range(6):
        for path in ("/", "/book/email/", "/desk/today/"):
            _page_fails(path)
    (report,) = _mails_after_a_moment(1)
    assert "IntegrityError" in report.body
    assert "only in the log" in report.body


def test_another_kind_of_error_is_mailed_too():
    _page_fails("/")
    _other_page_fails("/desk/today/")
    _page_fails("/")
    _other_page_fails("/desk/today/")
    reports = _mails_after_a_moment(2)
    assert len(reports) == 2
    assert sorted("KeyError" in report.body for report in reports) == [False, True]


def test_an_error_dropped_while_two_mails_are_on_their_way_is_mailed_next_time():
    # A slow mail server: two mails are still on their way, so this error's mail is dropped.
    AdminEmailInBackground.on_the_way.acquire()
    AdminEmailInBackground.on_the_way.acquire()
    try:
        _other_page_fails("/desk/today/")
    finally:
        AdminEmailInBackground.on_the_way.release()
        AdminEmailInBackground.on_the_way.release()
    assert _mails_after_a_moment(0) == []
    # It did not keep its kind quiet: the next one is mailed.
    _other_page_fails("/desk/today/")
    (report,) = _mails_after_a_moment(1)
    assert "KeyError" in report.body


def test_every_process_counts_in_the_shared_cache():
    """A second gunicorn worker (here: this process with its own memory of what it mailed
    wiped) finds the error already mailed in the shared cache, and sends nothing."""
    _page_fails("/")
    assert len(_mails_after_a_moment(1)) == 1
    AdminEmailInBackground.forget_mailed()
    _page_fails("/book/email/")
    assert len(_mails_after_a_moment(1)) == 1


def test_the_same_error_is_mailed_again_after_the_interval(settings):
    settings.ERROR_MAIL_INTERVAL_MINUTES = 0.02  # 1.2 s
    _page_fails("/")
    assert len(_mails_after_a_moment(1)) == 1
    _page_fails("/")
    assert len(_mails_after_a_moment(1)) == 1
    time.sleep(2.5)  # the cache keeps whole seconds
    _page_fails("/")
    assert len(_mails_after_a_moment(2)) == 2


@pytest.fixture
def refused_requests_log():
    """What the log handler for refused requests writes, with each line's level."""
    (handler,) = [
        handler
        for handler in logging.getLogger("django.security").handlers
        if any(isinstance(f, RefusedRequestAsWarning) for f in handler.filters)
    ]
    stream = io.StringIO()
    old_stream, old_formatter = handler.setStream(stream), handler.formatter
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    yield stream
    handler.setStream(old_stream)
    handler.setFormatter(old_formatter)


def test_refused_requests_are_noted_as_warnings_and_never_mailed(settings, refused_requests_log):
    settings.ALLOWED_HOSTS = ["help.library.example"]
    client = Client(enforce_csrf_checks=True, HTTP_HOST="help.library.example")
    client.cookies["csrftoken"] = "a" * 32  # so the form's fields are read, and found too many
    fields = {f"field{number}": "x" for number in range(2000)}
    assert client.post("/i18n/setlang/", fields).status_code == 400
    assert client.post("/booking/qqprivate-token/", {"x": "y" * 3_000_000}).status_code == 400
    assert client.get("/", HTTP_HOST="evil.example").status_code == 400
    assert _mails_after_a_moment(0) == []
    lines = refused_requests_log.getvalue().splitlines()
    assert lines == [
        "WARNING The number of GET/POST parameters exceeded "
        "settings.DATA_UPLOAD_MAX_NUMBER_FIELDS. (POST /i18n/setlang/)",
        "WARNING Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE. "
        "(POST /booking/********/)",
        "WARNING Invalid HTTP_HOST header: 'evil.example'. You may need to add 'evil.example' "
        "to ALLOWED_HOSTS. (GET /)",
    ]
