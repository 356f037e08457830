"""Health checks for load balancers and uptime monitors.

/healthz/live: the process answers (no database work), through the same middleware as every
page: the "bare Django view" that the benchmarks compare every page with.
/healthz/web: this server answers and reaches the database. Point a load balancer here, so a
stopped message worker never takes the web servers out of service.
/healthz: the whole service, for monitoring: the database, and messages (the oldest email or
text that is written and still not sent). 503 when the database is down or a message has
waited longer than HEALTH_MESSAGE_DELAY_MINUTES: the worker has stopped, or the mail server or
text provider keeps failing (a retried message keeps its age).
"""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

OLDEST_UNSENT_MESSAGE = """
    SELECT extract(epoch FROM now() - min(created_at))
    FROM appointments_message
    WHERE state = 'pending'
"""


def _answer(lines: list[str], healthy: bool) -> HttpResponse:
    response = HttpResponse(
        "\n".join(lines) + "\n", content_type="text/plain", status=200 if healthy else 503
    )
    # A monitor asks every minute: its alert is the report, not a server-error mail each time.
    response._has_been_logged = True
    return response


def oldest_unsent_message_seconds() -> float | None:
    with connection.cursor() as cursor:
        cursor.execute(OLDEST_UNSENT_MESSAGE)
        (seconds,) = cursor.fetchone()
    return None if seconds is None else float(seconds)


@never_cache
def live(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
def web(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return _answer(["database: unreachable"], healthy=False)
    return _answer(["ok", "database: ok"], healthy=True)


@never_cache
def service(request: HttpRequest) -> HttpResponse:
    try:
        waited = oldest_unsent_message_seconds()
    except DatabaseError:
        return _answer(["database: unreachable"], healthy=False)
    limit = settings.HEALTH_MESSAGE_DELAY_MINUTES * 60
    if waited is None:
        return _answer(["ok", "database: ok", "messages: none waiting"], healthy=True)
    line = f"oldest unsent message: written {waited:.0f} s ago"
    if waited > limit:
        return _answer(
            [
                "database: ok",
                f"{line} (over {limit} s)",
                "is the message worker running, and the mail server answering?",
            ],
            healthy=False,
        )
    return _answer(["ok", "database: ok", line], healthy=True)


# Answered before any other middleware. Not /healthz/live: as the benchmarks' bare view it
# must pay what every page pays.
CHECKS = {"/healthz": service, "/healthz/web": web}


def answer_health_checks(get_response):
    """First in MIDDLEWARE: health checks answer whatever host name a load balancer asks by
    (often a bare IP address, which ALLOWED_HOSTS would refuse with a 400). They show nothing
    private, and nothing after this middleware runs for them."""

    def middleware(request: HttpRequest) -> HttpResponse:
        check = CHECKS.get(request.path_info)
        return check(request) if check else get_response(request)

    return middleware
