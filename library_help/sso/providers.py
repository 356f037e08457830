"""The configured providers and the OpenID Connect client for each (Authlib).

Authlib checks state, nonce and PKCE, and verifies the id_token's signature against the
provider's published keys (JWKS), its issuer, audience and expiry. This module adds what a
library's deployment needs on top: https everywhere (the tests' provider too), a discovery
document whose issuer is the one configured, and short timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

# Seconds to wait for the provider's discovery document, keys and token endpoint.
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    issuer: str
    client_id: str
    client_secret: str
    groups_claim: str = ""
    hosted_domain: str = ""
    scopes: str = "openid email profile"
    # Store the id_token's email even without email_verified: for a provider whose addresses
    # only the library's own administrators set (Entra ID, single tenant).
    trust_email: bool = False

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def axes_username(self) -> str:
        """Failed callbacks count against this name (and the client's address): before the
        id_token is verified there is no user to count them against."""
        return f"sso:{self.key}"


class UnsafeProvider(Exception):
    """The provider's configuration or discovery document asks for something we refuse."""


def configured_providers() -> list[Provider]:
    return _providers(_frozen(settings.SSO_PROVIDERS))


def get_provider(key: str) -> Provider | None:
    return next((p for p in configured_providers() if p.key == key), None)


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


@cache
def _providers(frozen: tuple) -> list[Provider]:
    providers = []
    for entry in frozen:
        try:
            provider = Provider(**dict(entry))
        except TypeError as error:
            raise ImproperlyConfigured(f"SSO_PROVIDERS: {error}") from None
        providers.append(provider)
    if len({p.key for p in providers}) != len(providers):
        raise ImproperlyConfigured("SSO_PROVIDERS: two providers have the same key.")
    return providers


def check_address(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise UnsafeProvider(f"single sign-on needs https: {url!r}")


@cache
def client(provider: Provider) -> DjangoOAuth2App:
    """One client per provider and process: the discovery document and keys are fetched once,
    and the keys again when the provider signs with a key not seen before (rotation)."""
    return DjangoOAuth2App(
        DjangoIntegration(f"sso_{provider.key}"),
        name=f"sso_{provider.key}",
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        server_metadata_url=provider.discovery_url,
        client_kwargs={
            "scope": provider.scopes,
            "code_challenge_method": "S256",
            "default_timeout": TIMEOUT_SECONDS,
        },
    )


def pending_sign_in(provider: Provider, request: HttpRequest) -> bool:
    """Whether the callback's state is one that this session's start step stored (Authlib
    keeps it in the session, under the state, until the callback uses it)."""
    state = request.GET.get("state", "")
    return (
        bool(state)
        and client(provider).framework.get_state_data(request.session, state) is not None
    )


def checked_metadata(provider: Provider) -> dict:
    """The discovery document, refused unless it names the configured issuer and every
    endpoint we will call is https."""
    check_address(provider.issuer)
    metadata = client(provider).load_server_metadata()
    if metadata.get("issuer") != provider.issuer:
        raise UnsafeProvider(
            f"the provider calls itself {metadata.get('issuer')!r}, not {provider.issuer!r}"
        )
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        check_address(metadata.get(endpoint) or "")
    return metadata


@receiver(setting_changed)
def _forget_clients(setting, **kwargs):
    if setting == "SSO_PROVIDERS":
        _providers.cache_clear()
        client.cache_clear()
