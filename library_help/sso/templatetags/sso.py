from django import template

from library_help.sso.providers import configured_providers

register = template.Library()


@register.simple_tag
def sso_providers():
    """The providers to offer on the login page: none, and no button, unless configured."""
    return configured_providers()
