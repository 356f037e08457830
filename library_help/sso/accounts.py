"""Who a verified id_token signs in as, and the roles its groups give: one function, sign_in.

The account is found by (issuer, subject) alone. An email address is never used to find an
existing account: providers let people change their own email, and matching on it would let
one account take over another. When a first sign-in brings an email address that an account
here already has, it is refused and a superuser links the two by hand (admin: linked sign-ins).

Only an email address the provider vouches for (email_verified, or a provider configured with
trust_email) is stored or compared: staff emails go to that address, and many providers let
people type in any address.

A group-to-role mapping belongs to one provider: a group called "staff" at one provider says
nothing about a group of that name (or ID) at another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import LinkedIdentity
from .providers import Provider

log = logging.getLogger(__name__)

# Why a verified account may still not sign in; each has its own page.
NO_ROLE = "no_role"
EMAIL_TAKEN = "email_taken"
INACTIVE = "inactive"
WRONG_DOMAIN = "wrong_domain"


@dataclass
class SignIn:
    user: object | None
    refusal: str = ""


def sign_in(provider: Provider, claims: dict) -> SignIn:
    """The user this verified id_token (its claims) signs in as, their roles brought up to date
    with the provider's groups; or why not."""
    if provider.hosted_domain and claims.get("hd") != provider.hosted_domain:
        return SignIn(None, WRONG_DOMAIN)
    granted = mapped_roles(provider, claims)
    try:
        user = _find_or_make_user(provider, claims, granted)
    except IntegrityError:
        # The same first sign-in twice at once (a double click): the other one made the account.
        user = _find_or_make_user(provider, claims, granted)
    if user is None:
        return SignIn(None, EMAIL_TAKEN)
    if not user.is_active:
        return SignIn(None, INACTIVE)
    if not (user.is_superuser or (user.is_staff and user.groups.exists())):
        return SignIn(None, NO_ROLE)
    return SignIn(user)


def _find_or_make_user(provider: Provider, claims: dict, granted: set[Group] | None):
    """The linked user, made on the first sign-in (None if their email is taken), with the
    roles brought up to date."""
    with transaction.atomic():
        identity = (
            LinkedIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=provider.issuer, subject=claims["sub"])
            .first()
        )
        if identity is None:
            email = verified_email(provider, claims)
            if _email_taken(email):
                return None
            user = _create_user(provider, claims, email, has_role=bool(granted))
            identity = LinkedIdentity.objects.create(
                user=user, provider=provider.key, issuer=provider.issuer, subject=claims["sub"]
            )
        user = identity.user
        if granted is None:
            _log_missing_groups(provider, claims, user)
        else:
            apply_roles(provider, user, granted)
        LinkedIdentity.objects.filter(pk=identity.pk).update(last_sign_in=timezone.now())
    return user


def mapped_roles(provider: Provider, claims: dict) -> set[Group] | None:
    """The roles the token's groups give, or None when the token says nothing about groups
    (a provider without a groups claim, or Entra's group overage)."""
    if not provider.groups_claim or provider.groups_claim not in claims:
        return None
    values = claims[provider.groups_claim]
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return None
    # One filter(): provider and value must be those of the same mapping.
    return set(
        Group.objects.filter(
            sso_mappings__provider=provider.key,
            sso_mappings__claim_value__in=[str(v) for v in values],
        )
    )


def apply_roles(provider: Provider, user, granted: set[Group]) -> None:
    """Give the roles this provider's mappings grant and take away the ones they do not; roles
    no mapping of this provider mentions stay as the admin (or another provider) left them."""
    mapped = set(Group.objects.filter(sso_mappings__provider=provider.key))
    held = set(user.groups.all())
    user.groups.remove(*((mapped - granted) & held))
    user.groups.add(*(granted - held))
    if granted and not user.is_staff:
        # The provider and the managers' mapping vouch for them: they may use the admin.
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def verified_email(provider: Provider, claims: dict) -> str:
    """The token's email address if the provider vouches for it, else ""."""
    email = claims.get("email")
    if not isinstance(email, str):
        return ""
    # Some providers send the flag as the string "true".
    if provider.trust_email or claims.get("email_verified") in (True, "true"):
        return email
    return ""


def _email_taken(email: str) -> bool:
    return bool(email) and get_user_model().objects.filter(email__iexact=email).exists()


def _create_user(provider: Provider, claims: dict, email: str, *, has_role: bool):
    User = get_user_model()
    # Not an unverified email either: the username is how staff and the access log name them.
    base = (email or claims.get("preferred_username") or claims["sub"])[:140]
    username, n = base, 1
    while User.objects.filter(username__iexact=username).exists():
        n += 1
        username = f"{base}-{provider.key}" if n == 2 else f"{base}-{provider.key}{n}"
    user = User(
        username=username,
        email=email,
        first_name=claims.get("given_name", "")[:150],
        last_name=claims.get("family_name", "")[:150],
        is_staff=has_role,
    )
    user.set_unusable_password()  # only the provider signs them in
    user.save()
    return user


def _log_missing_groups(provider: Provider, claims: dict, user) -> None:
    if not provider.groups_claim:
        log.info(
            "Single sign-on: %s sends no groups; roles of user %s left as they are.",
            provider.key,
            user.pk,
        )
        return
    overage = provider.groups_claim in claims.get("_claim_names", {}) or claims.get("hasgroups")
    log.warning(
        "Single sign-on: no %r claim from %s for user %s (%s); roles left as they are.",
        provider.groups_claim,
        provider.key,
        user.pk,
        "too many groups: overage" if overage else "claim missing",
    )
