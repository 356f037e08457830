from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = "Help sessions"

    def ready(self) -> None:
        from . import schedule_changes  # noqa: F401  (connects its signals)
