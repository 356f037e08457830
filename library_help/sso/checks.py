"""`manage.py check` (run at every deploy) refuses a provider that is not on https."""

from django.core.checks import Error, register

from .providers import UnsafeProvider, check_address, configured_providers


@register()
def providers_use_https(app_configs, **kwargs):
    errors = []
    for provider in configured_providers():
        try:
            check_address(provider.issuer)
        except UnsafeProvider as error:
            errors.append(Error(str(error), id="sso.E001", obj=provider.key))
    return errors
