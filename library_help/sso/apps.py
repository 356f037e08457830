from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SingleSignOnConfig(AppConfig):
    name = "library_help.sso"
    label = "sso"
    verbose_name = _("Single sign-on")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the check)
