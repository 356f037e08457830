"""Read the staff members' published Outlook and Google calendars (appointments/calendar_feeds).

The message worker (send_notifications --loop) already does this every
CALENDAR_REFRESH_MINUTES; this command is for cron, for a first read after pasting many
addresses, or for a process of its own (--loop) where the worker should not wait on calendar
servers. Only one process refreshes at a time: a run that finds another at it leaves at once.
"""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from appointments.calendar_feeds import refresh_due
from appointments.worker import Stop


class Command(BaseCommand):
    help = "Read every staff calendar feed once (--loop: keep reading those due)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop",
            action="store_true",
            help="Keep running: read each feed every CALENDAR_REFRESH_MINUTES.",
        )

    def handle(self, *args, **options):
        if not options["loop"]:
            self._report(refresh_due(every_feed=True))
            return
        stop = Stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(
            f"Reading calendar feeds every {settings.CALENDAR_REFRESH_MINUTES} minutes "
            "(Ctrl-C or SIGTERM stops)."
        )
        while not stop.is_set():
            counts = refresh_due()
            if counts and any(counts.values()):
                self._report(counts)
            stop.wait(60)
        self.stdout.write("Stopped.")

    def _report(self, counts) -> None:
        if counts is None:
            self.stdout.write("Another process is reading the calendars: nothing to do.")
            return
        self.stdout.write(
            f"Calendar feeds: {counts['changed']} changed, {counts['unchanged']} unchanged, "
            f"{counts['failed']} failed; {counts['warned']} warnings written."
        )
