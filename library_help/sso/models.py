"""Who a provider's account is here, and which roles its groups give."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from appointments.access import DESK, LIBRARIANS, MANAGERS

ROLE_NAMES = [LIBRARIANS, DESK, MANAGERS]


class RoleMapping(models.Model):
    """A value of one provider's groups claim that gives one of the staff roles.

    Entra ID sends group object IDs, Okta group names. Roles that appear in some mapping of a
    provider follow that provider at every sign-in through it (given and taken away); the
    others are left to the admin. A mapping applies to its own provider only: another provider
    may well have a group of the same name, run by other people.
    """

    provider = models.CharField(
        _("provider"),
        max_length=50,
        help_text=_(
            "The provider that sends this group. A mapping with no provider (made before each "
            "mapping had one) gives no role until you choose its provider."
        ),
    )
    claim_value = models.CharField(
        _("group in the provider"),
        max_length=255,
        help_text=_(
            "As the provider sends it: the group's object ID for Microsoft Entra ID, its name "
            "for Okta."
        ),
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        related_name="sso_mappings",
        limit_choices_to={"name__in": ROLE_NAMES},
        verbose_name=_("role in Library Help"),
    )
    note = models.CharField(
        _("note"),
        max_length=200,
        blank=True,
        help_text=_("For people: the group's name, when the provider sends an ID."),
    )

    class Meta:
        verbose_name = _("group to role mapping")
        verbose_name_plural = _("group to role mappings")
        ordering = ["provider", "claim_value", "group__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "claim_value", "group"],
                name="sso_one_mapping_per_provider_group_and_role",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.claim_value} → {self.group}"


class LinkedIdentity(models.Model):
    """An account at a provider (issuer and subject, as the id_token names it) that signs in
    as this user. Made by the account's first sign-in, or by a superuser linking an existing
    local account; never from a matching email address."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sso_identities",
        verbose_name=_("user"),
    )
    provider = models.CharField(_("provider"), max_length=50)
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("linked by"),
        help_text=_("Empty when the first sign-in made the account."),
    )
    created_at = models.DateTimeField(_("linked at"), auto_now_add=True)
    last_sign_in = models.DateTimeField(_("last sign-in"), null=True, blank=True)

    class Meta:
        verbose_name = _("linked sign-in")
        verbose_name_plural = _("linked sign-ins")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_one_user_per_identity")
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.subject}"
