"""The two steps of a sign-in: off to the provider, and back with the provider's answer.

Both ask django-axes first, as the password form does: a client locked out of the admin login
is locked out here too. A callback that answers a sign-in this browser started (its state
matches one stored in the session) and then cannot be verified (a code the provider refuses, a
bad id_token) counts as a failed login for that client. A callback that answers no sign-in of
this session does not: anyone can make a browser fetch the callback address (an <img> on any
page), and staff at a branch share one outside address, so counting those would let anyone
there lock the whole branch out.
"""

from __future__ import annotations

import logging

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import OAuthError
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.contrib.auth import login, user_login_failed
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from joserfc.errors import JoseError

from . import accounts
from .providers import (
    Provider,
    UnsafeProvider,
    checked_metadata,
    client,
    get_provider,
    pending_sign_in,
)

log = logging.getLogger(__name__)

NEXT_KEY = "sso_next"


def start(request: HttpRequest, key: str) -> HttpResponse:
    provider = _provider(key)
    if not AxesProxyHandler.is_allowed(request, {"username": provider.axes_username}):
        return _locked_out(request, provider.axes_username)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    request.session[NEXT_KEY] = next_url
    try:
        checked_metadata(provider)
        redirect_uri = request.build_absolute_uri(reverse("sso:callback", args=[key]))
        return client(provider).authorize_redirect(request, redirect_uri)
    except (requests.RequestException, ValueError, UnsafeProvider) as error:
        return _unavailable(request, provider, error)


def callback(request: HttpRequest, key: str) -> HttpResponse:
    provider = _provider(key)
    if not AxesProxyHandler.is_allowed(request, {"username": provider.axes_username}):
        return _locked_out(request, provider.axes_username)
    if not pending_sign_in(provider, request):
        log.info("Single sign-on with %s: a callback for no sign-in of this session.", provider.key)
        return _start_again(request, provider)
    try:
        checked_metadata(provider)
        token = client(provider).authorize_access_token(
            request,
            claims_options={
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": provider.client_id},
            },
        )
        claims = token.get("userinfo")
        if not claims:
            raise OAuthError(description="no id_token")
    except OAuthError as error:
        if error.error in ("invalid_client", "unauthorized_client"):
            # Our own credentials were refused (an expired client secret): no client's fault.
            return _unavailable(request, provider, error)
        return _refused(request, provider, error)
    except (AuthlibBaseError, JoseError) as error:
        return _refused(request, provider, error)
    except (requests.RequestException, ValueError, UnsafeProvider) as error:
        return _unavailable(request, provider, error)

    outcome = accounts.sign_in(provider, dict(claims))
    if outcome.user is None:
        context = {"provider": provider, "reason": outcome.refusal, "subject": claims["sub"]}
        return render(request, "sso/refused.html", context, status=403)
    user = outcome.user
    if not AxesProxyHandler.is_allowed(request, {"username": user.get_username()}):
        return _locked_out(request, user.get_username())
    next_url = request.session.pop(NEXT_KEY, "") or reverse("admin:index")
    # Sends user_logged_in: django-axes writes the access log and clears earlier failures,
    # exactly as for a password sign-in.
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(next_url)


def _provider(key: str) -> Provider:
    provider = get_provider(key)
    if provider is None:
        raise Http404("No such sign-in provider.")
    return provider


def _refused(request: HttpRequest, provider: Provider, error: Exception) -> HttpResponse:
    """The answer to a sign-in this session started that we cannot trust (a refused code, a bad
    id_token: its signature, issuer, audience or nonce): a failed login for django-axes."""
    log.warning("Single sign-on with %s refused: %s", provider.key, error)
    user_login_failed.send(
        sender=__name__, credentials={"username": provider.axes_username}, request=request
    )
    if getattr(request, "axes_locked_out", False):
        return _locked_out(request, provider.axes_username)
    return _start_again(request, provider)


def _start_again(request: HttpRequest, provider: Provider) -> HttpResponse:
    return render(request, "sso/failed.html", {"provider": provider}, status=403)


def _locked_out(request: HttpRequest, username: str) -> HttpResponse:
    return get_lockout_response(request, credentials={"username": username})


def _unavailable(request: HttpRequest, provider: Provider, error: Exception) -> HttpResponse:
    """The provider could not be reached, answered nonsense or refused our client id and secret:
    not the client's fault, and something IT must fix (logged as an error, mailed to ADMINS)."""
    log.error("Single sign-on with %s unavailable: %s", provider.key, error)
    return render(request, "sso/unavailable.html", {"provider": provider}, status=503)
