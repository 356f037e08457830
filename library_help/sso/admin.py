"""Managers map the provider's groups to roles; superusers link existing accounts.

Both show only when a provider is configured. Linking lets whoever holds that provider account
sign in as the user, so it is for superusers alone, and always an explicit act: nothing is ever
linked by a matching email address.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import BLANK_CHOICE_DASH
from django.utils.translation import gettext_lazy as _

from .models import LinkedIdentity, RoleMapping
from .providers import configured_providers, get_provider


class SingleSignOnAdmin(admin.ModelAdmin):
    """Left out of the admin's index and menu while no provider is configured."""

    def has_module_permission(self, request):
        return bool(configured_providers()) and super().has_module_permission(request)


class RoleMappingForm(forms.ModelForm):
    provider = forms.ChoiceField(label=_("Provider"))

    class Meta:
        model = RoleMapping
        fields = ["provider", "claim_value", "group", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A blank first choice: a mapping made before mappings had a provider must be given
        # one on purpose, not the first in the list by default.
        self.fields["provider"].choices = BLANK_CHOICE_DASH + [
            (p.key, p.name) for p in configured_providers()
        ]
        self.fields["provider"].help_text = RoleMapping._meta.get_field("provider").help_text


@admin.register(RoleMapping)
class RoleMappingAdmin(SingleSignOnAdmin):
    form = RoleMappingForm
    list_display = ["provider_name", "claim_value", "group", "note"]
    list_filter = ["provider", "group"]
    search_fields = ["claim_value", "note"]

    @admin.display(description=_("Provider"), ordering="provider")
    def provider_name(self, mapping):
        provider = get_provider(mapping.provider)
        if provider is not None:
            return provider.name
        if not mapping.provider:
            return _("None: gives no role")
        return _("%(key)s, not configured: gives no role") % {"key": mapping.provider}


class LinkForm(forms.ModelForm):
    provider = forms.ChoiceField(label=_("Provider"))
    user = forms.ModelChoiceField(
        label=_("User"),
        queryset=get_user_model().objects.order_by("username"),
        help_text=_("The existing account in Library Help that this sign-in should open."),
    )

    class Meta:
        model = LinkedIdentity
        fields = ["user", "provider", "subject"]
        help_texts = {
            "subject": _(
                "The sign-in ID the person was shown when their sign-in was refused (the part "
                "after the provider's name), or the 'sub' claim of their id_token."
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(p.key, p.name) for p in configured_providers()]

    def clean(self):
        cleaned = super().clean()
        provider = get_provider(cleaned.get("provider", ""))
        if provider is None:
            return cleaned
        self.instance.issuer = provider.issuer
        taken = LinkedIdentity.objects.filter(
            issuer=provider.issuer, subject=cleaned.get("subject", "")
        ).exclude(pk=self.instance.pk)
        if taken.exists():
            self.add_error(
                "subject",
                _("This sign-in is already linked to %(user)s.") % {"user": taken[0].user},
            )
        return cleaned


@admin.register(LinkedIdentity)
class LinkedIdentityAdmin(SingleSignOnAdmin):
    form = LinkForm
    list_display = ["user", "provider", "subject", "linked_by", "created_at", "last_sign_in"]
    list_filter = ["provider"]
    search_fields = ["user__username", "subject"]
    readonly_fields = ["linked_by", "created_at", "last_sign_in"]

    def has_add_permission(self, request):
        return (
            request.user.is_superuser
            and bool(configured_providers())
            and super().has_add_permission(request)
        )

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.linked_by = request.user
        super().save_model(request, obj, form, change)
