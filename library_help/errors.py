"""Server errors reach staff without carrying patron data with them.

A patron's private link is a secret in the address (/booking/<secret>/), and what they typed
(name, phone, what they want to learn) sits in the form data and in the program's variables.
Django's error mail to ADMINS and the optional Sentry report would carry all of that, so both
are cleaned here: private addresses are cut short, form data and variables are hidden.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import traceback
from collections.abc import Mapping

from django.conf import settings
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# The addresses whose last part is a secret: a patron's booking, a waiting-list offer, a
# feedback form, a staff calendar feed.
PRIVATE_PATH = re.compile(r"/(booking|waiting-list|feedback|calendar)/[^/?#\s]+")
HIDDEN = "********"


QUERY = re.compile(r"\?\S*")


def hide_private_paths(text: str) -> str:
    return PRIVATE_PATH.sub(lambda match: f"/{match.group(1)}/{HIDDEN}", text or "")


def hide_private_address(text: str) -> str:
    """An address without its query string (the desk's searches hold names and numbers) and
    without the secret in a private link."""
    return hide_private_paths(QUERY.sub("", text or ""))


# A query string inside free text (a log line, a request line): "?" right after an address.
QUERY_IN_TEXT = re.compile(r"(?<=[\w/.%-])\?[^\s'\"]+")


def hide_private_text(text: str) -> str:
    """Any text (a log line, a traceback) without private links or query strings in it."""
    return hide_private_paths(QUERY_IN_TEXT.sub("", text or ""))


def first_line(message) -> str:
    """An error's first line only: a database error's DETAIL line spells out the failing row
    ("Failing row contains (..., Rosa Martinez, ...)")."""
    return str(message).strip().split("\n", 1)[0]


class PrivateReporterFilter(SafeExceptionReporterFilter):
    """Hides every form field and every variable, not only those named like passwords."""

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return {name: self.cleansed_substitute for name in request.POST}

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        for key in ("PATH_INFO", "RAW_URI", "REQUEST_URI", "HTTP_REFERER", "SCRIPT_URL"):
            if isinstance(meta.get(key), str):
                meta[key] = hide_private_address(meta[key])
        if meta.get("QUERY_STRING"):
            meta["QUERY_STRING"] = self.cleansed_substitute
        return meta


class _RequestWithoutSecrets:
    """The request as the error report's templates read it, with its address cut short."""

    def __init__(self, request):
        self._request = request
        self.path = hide_private_paths(request.path)
        self.path_info = hide_private_paths(request.path_info)

    def __getattr__(self, name):
        return getattr(self._request, name)


class PrivateReporter(ExceptionReporter):
    def _get_raw_insecure_uri(self):
        return hide_private_address(super()._get_raw_insecure_uri())

    def get_traceback_frames(self):
        frames = super().get_traceback_frames()
        for frame in frames:
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = first_line(frame["exc_cause"])
        return frames

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if data.get("exception_value"):
            data["exception_value"] = first_line(data["exception_value"])
        if self.request is not None:
            data["request"] = _RequestWithoutSecrets(self.request)
            hidden = self.filter.cleansed_substitute
            data["request_GET_items"] = [(name, hidden) for name in self.request.GET]
        return data


class HidePrivatePaths(logging.Filter):
    """For every log line and the error mail's subject ("Not Found: /booking/...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        def hide(value):
            return hide_private_address(value) if isinstance(value, str) else value

        if isinstance(record.args, Mapping):
            record.args = {key: hide(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(hide(arg) for arg in record.args)
        return True


class RefusedRequestAsWarning(logging.Filter):
    """For django.security.*: a request Django refused as suspicious (a body too large, too many
    fields, a host name not ours) is anyone's doing, not a fault of the app. One line at WARNING
    with the method and address, no traceback, never mailed."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        request = getattr(record, "request", None)
        if request is not None and "%" not in str(record.msg):
            record.msg = f"{record.msg} ({request.method} {hide_private_address(request.path)})"
        return True


def kind_of_error(record: logging.LogRecord) -> str:
    """What makes two errors "the same": the exception's type, the line it was raised at, and
    the line of our own code that led there (every database error is raised inside psycopg;
    a database outage fails each page at its first query), or, for an error logged without an
    exception, where it was logged and its message before the values were put in."""
    if record.exc_info and record.exc_info[0] is not None:
        error_type, _, trace = record.exc_info
        frames = traceback.extract_tb(trace)
        ours = [
            frame
            for frame in frames
            if frame.filename.startswith(str(settings.BASE_DIR))
            and "site-packages" not in frame.filename
        ]
        places = [f"{frame.filename}:{frame.lineno}" for frame in frames[-1:] + ours[-1:]]
        where = " from ".join(dict.fromkeys(places))
        return f"{error_type.__module__}.{error_type.__qualname__} at {where or record.name}"
    return f"{record.name} {record.pathname}:{record.lineno} {record.msg}"


class AdminEmailInBackground(AdminEmailHandler):
    """Django's error mail to ADMINS, sent from a thread: the failing request answers at once,
    even when the mail server hangs (EMAIL_TIMEOUT bounds the thread). At most two are on their
    way at a time.

    A storm of one error (the database down for ten minutes, every page failing) is one mail, not
    thousands: each kind of error (kind_of_error) is mailed at most once every
    ERROR_MAIL_INTERVAL_MINUTES, counted in the shared cache so that every gunicorn worker and
    server agrees. Every occurrence is still in the log. When the cache cannot be reached (the
    database cache, during a database outage), each process counts on its own."""

    on_the_way = threading.BoundedSemaphore(2)
    # kind -> when this process last let it through (time.monotonic()).
    _mailed: dict[str, float] = {}
    _mailed_lock = threading.Lock()

    @classmethod
    def forget_mailed(cls) -> None:
        """For the tests: every kind may be mailed again (the shared cache is cleared apart)."""
        with cls._mailed_lock:
            cls._mailed.clear()

    @classmethod
    def _first_here(cls, kind: str, interval: float) -> bool:
        """Whether this process has not let this kind through within the interval (and, if so,
        it now has): each process asks the shared cache at most once a kind an interval."""
        now = time.monotonic()
        with cls._mailed_lock:
            last = cls._mailed.get(kind)
            if last is not None and now - last < interval:
                return False
            cls._mailed[kind] = now
            return True

    def emit(self, record: logging.LogRecord) -> None:
        if not settings.ADMINS:
            return
        interval = settings.ERROR_MAIL_INTERVAL_MINUTES * 60
        kind = kind_of_error(record)
        if interval > 0 and not self._first_here(kind, interval):
            return
        # Read by send_mail, which emit calls; logging holds the handler's lock around emit.
        self._kind, self._interval = kind, interval
        super().emit(record)

    @classmethod
    def _not_mailed(cls, kind: str) -> None:
        """This kind was let through but no mail went: the next one of its kind may try."""
        with cls._mailed_lock:
            cls._mailed.pop(kind, None)

    def send_mail(self, subject, message, *args, **kwargs):
        kind, interval = getattr(self, "_kind", ""), getattr(self, "_interval", 0)
        if not self.on_the_way.acquire(blocking=False):
            # Two mails already on their way (a slow mail server): this one is dropped, so it
            # must not keep its kind quiet for the interval.
            self._not_mailed(kind)
            return
        send = super().send_mail
        if interval > 0:
            message += (
                f"\n\nMore errors of this kind in the next {interval / 60:g} minutes are only in"
                " the log (ERROR_MAIL_INTERVAL_MINUTES)."
            )

        def in_background():
            try:
                if interval <= 0 or first_everywhere(kind, interval):
                    send(subject, message, *args, **kwargs)
            finally:
                self.on_the_way.release()

        threading.Thread(target=in_background, daemon=True).start()


def first_everywhere(kind: str, interval: float) -> bool:
    """Whether no process has mailed this kind of error within the interval (and, if so, this
    one now has), by the shared cache. Run on the mail's own thread, with its own database
    connection: the failing request neither waits for it nor has its transaction touched."""
    from django.core.cache import cache
    from django.db import connections

    key = "error-mail:" + hashlib.sha256(kind.encode()).hexdigest()
    try:
        return cache.add(key, 1, timeout=interval)
    except Exception:  # the cache is down too (the database cache during an outage)
        return True
    finally:
        connections.close_all()


def scrub_event(event: dict, hint=None) -> dict:
    """Sentry's before_send: keep the error and where it happened, drop what the patron sent."""
    request = event.get("request") or {}
    for key in ("data", "cookies", "query_string", "headers", "env"):
        request.pop(key, None)
    if "url" in request:
        request["url"] = hide_private_address(request["url"])
    for exception in (event.get("exception") or {}).get("values", []):
        if exception.get("value"):
            exception["value"] = first_line(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    if event.get("transaction"):
        event["transaction"] = hide_private_paths(event["transaction"])
    event.pop("user", None)
    for breadcrumb in (event.get("breadcrumbs") or {}).get("values", []):
        breadcrumb.pop("data", None)
        if isinstance(breadcrumb.get("message"), str):
            breadcrumb["message"] = hide_private_address(first_line(breadcrumb["message"]))
    return event


def start_sentry(dsn: str, *, environment: str) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        traces_sample_rate=0,
    )
