"""Remove patron data past its retention period. Run daily from cron; safe on several servers."""

from django.core.management.base import BaseCommand

from appointments.privacy import purge


class Command(BaseCommand):
    help = "Remove patron details, free text, old messages and access records past their periods."

    def handle(self, *args, **options):
        counts = purge()
        if not counts:
            self.stdout.write("Another purge was running at the same time: nothing to do here.")
            return
        self.stdout.write(
            "Removed: " + ", ".join(f"{count} {what}" for what, count in counts.items()) + "."
        )
