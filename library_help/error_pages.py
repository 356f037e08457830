"""The pages a patron sees when a request goes wrong: Django's own, with what they need added.

The 500 page may be shown because the database is down or stuck, so it is rendered without the
request's context processors (nothing that could touch the database): only the library's phone
number, from the settings. The 400 page says why the request was refused when that is cheap to
tell: a form too large to accept is not an address that was mistyped.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseServerError
from django.template import loader

TOO_MUCH_SENT = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponseBadRequest:
    context = {"too_much_sent": isinstance(exception, TOO_MUCH_SENT)}
    if isinstance(exception, DisallowedHost):
        # Asked by a name that is not this site's (a scanner, a wrong DNS entry): the page, but
        # no language form, so no CSRF cookie for a host we do not serve.
        context["csrf_token"] = ""
    return HttpResponseBadRequest(loader.render_to_string("400.html", context, request))


def server_error(request: HttpRequest) -> HttpResponseServerError:
    context = {"library_phone": settings.LIBRARY_PHONE}
    return HttpResponseServerError(loader.render_to_string("500.html", context))
