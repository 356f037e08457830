"""Send reminders, follow-ups and every waiting message. Safe to run from cron every minute,
on several servers at once: each message is claimed with a row lock before it is sent."""

from django.core.management.base import BaseCommand

from appointments import messaging
from appointments.waitlist import offer_open_times


class Command(BaseCommand):
    help = "Write due reminders and follow-ups, then send every waiting email and text message."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max", type=int, default=None, help="Send at most this many messages in this run."
        )

    def handle(self, *args, **options):
        offers = offer_open_times()
        reminders = messaging.enqueue_reminders()
        follow_ups = messaging.enqueue_follow_ups()
        counts = messaging.send_due(max_messages=options["max"])
        self.stdout.write(
            f"Waiting-list offers made: {offers['offered']}. "
            f"Reminders written: {reminders}. Follow-ups written: {follow_ups}. "
            f"Sent: {counts['sent']}. To retry: {counts['retry']}. Failed: {counts['failed']}."
        )
