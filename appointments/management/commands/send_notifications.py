"""Send reminders, follow-ups, waiting-list offers and every waiting message.

Run it for real as a long-running worker: `manage.py send_notifications --loop` (see
appointments/worker.py). Without --loop it does one pass and exits, for cron every minute;
a run that finds another sender at work leaves at once.
"""

import signal

from django.core.management.base import BaseCommand

from appointments.worker import Stop, one_pass, run_worker


class Command(BaseCommand):
    help = "Send every waiting email and text message (--loop: keep sending, as the worker)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop",
            action="store_true",
            help="Keep running: send as soon as a message is written (the production worker).",
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=5.0,
            help="With --loop: look for due messages at least this often, in seconds.",
        )
        parser.add_argument(
            "--max", type=int, default=None, help="Send at most this many messages in this run."
        )

    def handle(self, *args, **options):
        if options["loop"]:
            stop = Stop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            self.stdout.write("Sending messages as they are written (Ctrl-C or SIGTERM stops).")
            run_worker(poll_seconds=options["poll"], stop=stop)
            self.stdout.write("Stopped.")
            return
        counts = one_pass(max_messages=options["max"])
        if counts is None:
            self.stdout.write("Another sender is at work: nothing to do.")
            return
        self.stdout.write(
            f"Waiting-list offers made: {counts['offered']}. "
            f"Reminders written: {counts['reminders']}. "
            f"Follow-ups written: {counts['follow_ups']}. "
            f"Sent: {counts['sent']}. To retry: {counts['retry']}. Failed: {counts['failed']}."
        )
