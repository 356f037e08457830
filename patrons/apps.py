from django.apps import AppConfig
from django.core import checks


class PatronsConfig(AppConfig):
    name = "patrons"
    verbose_name = "Patrons"

    def ready(self):
        checks.register(check_phone_region)


def check_phone_region(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A region the phone library does not know would refuse every number typed without +."""
    import phonenumbers
    from django.conf import settings

    if settings.PHONE_REGION in phonenumbers.SUPPORTED_REGIONS:
        return []
    return [
        checks.Error(
            f"PHONE_REGION is {settings.PHONE_REGION!r}, which is not a region code that phone "
            "numbers can be read for.",
            hint='Use a two-letter country code, such as "US", "CA" or "GB".',
            id="patrons.E001",
        )
    ]
