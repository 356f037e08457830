"""Health checks for load balancers and uptime monitors.

/healthz/live: the process answers (no database work), through the same middleware as every
page: the "bare Django view" that the benchmarks compare every page with.
/healthz/web: this server answers and reaches the database. Point a load balancer here, so a
stopped message worker never takes the web servers out of service.
/healthz: the whole service, for monitoring: the database, and messages (the oldest email or
text that is written and still not sent). 503 when the database is down or a message has
waited longer than HEALTH_MESSAGE_DELAY_MINUTES: the worker has stopped, or the mail server or
text provider keeps failing (a retried message keeps its age). 503 too while a channel's last
message in the day failed and nothing has gone out on it since: the mail server is still down
after the messages written during the outage have failed. The first message sent on that
channel (the worker tries one every few minutes) makes it healthy again. A failure that was the
address's fault (the mail server answered and refused it) does not count.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

from appointments.messaging import ADDRESS_REFUSED

OLDEST_UNSENT_MESSAGE = """
    SELECT extract(epoch FROM now() - min(created_at))
    FROM appointments_message
    WHERE state = 'pending'
"""


# Per channel: the last failure in the day that was not the address's fault, if nothing has
# been sent on that channel since. A failed message's send_after is when it was last tried.
CHANNELS_STILL_FAILING = """
    SELECT failed.channel, extract(epoch FROM now() - failed.last_try)
    FROM (
        SELECT channel, max(send_after) AS last_try
        FROM appointments_message
        WHERE state = 'failed'
          AND send_after > now() - interval '1 day'
          AND NOT last_error LIKE ANY(%s)
        GROUP BY channel
    ) AS failed
    WHERE NOT EXISTS (
        SELECT 1 FROM appointments_message AS sent
        WHERE sent.channel = failed.channel AND sent.state = 'sent'
          AND sent.sent_at >= failed.last_try
    )
    ORDER BY failed.channel
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


# Failures that were the address's fault (the mail server answered): messaging's own list.
_ADDRESS_REFUSED_PATTERNS = [f"{error}%" for error in ADDRESS_REFUSED]


def channels_still_failing() -> list[tuple[str, float]]:
    """(channel, seconds since its last failed try) for each channel that is still failing."""
    with connection.cursor() as cursor:
        cursor.execute(CHANNELS_STILL_FAILING, [_ADDRESS_REFUSED_PATTERNS])
        return [(channel, float(seconds)) for channel, seconds in cursor.fetchall()]


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
        failing = channels_still_failing()
    except DatabaseError:
        return _answer(["database: unreachable"], healthy=False)
    limit = settings.HEALTH_MESSAGE_DELAY_MINUTES * 60
    line = (
        "messages: none waiting"
        if waited is None
        else f"oldest unsent message: written {waited:.0f} s ago"
    )
    trouble = []
    if waited is not None and waited > limit:
        line = f"{line} (over {limit} s)"
        trouble.append("is the message worker running, and the mail server answering?")
    for channel, seconds in failing:
        trouble.append(
            f"{channel} messages failing: the last failed {seconds:.0f} s ago and none has"
            " been sent since; is the mail server or text provider answering?"
        )
    if trouble:
        return _answer(["database: ok", line, *trouble], healthy=False)
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
