"""Benchmark: what the sending job costs per 1,000 messages, in time and queries.

    scripts/with-db .venv/bin/python scripts/bench_messages.py

Runs in a throwaway database on the same server (created and dropped here), with Django's
in-memory email backend and the in-memory text backend, so it measures our code and PostgreSQL,
not a mail server.
"""

import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "library_help_bench_messages"


def main() -> None:
    url = urlsplit(os.environ["DATABASE_URL"])
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path="/" + BENCH_DB))
    os.environ["EMAIL_URL"] = "memorymail://"
    os.environ["TEXT_BACKEND"] = "appointments.texting.MemoryTextBackend"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "library_help.settings")
    import django
    import psycopg

    admin_url = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    try:
        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        call_command("migrate", verbosity=0)
        from appointments import messaging
        from appointments.models import Message, MessageState
        from patrons.models import Patron

        patron = Patron.objects.create(
            name="Bench", email="b@example.org", phone="555-0100", preferred_contact="text"
        )
        for n_messages in (1000, 1000):
            Message.objects.all().delete()
            Message.objects.bulk_create(
                Message(
                    kind="reminder",
                    channel="text" if n % 2 else "email",
                    patron=patron,
                    to="555-0100" if n % 2 else "b@example.org",
                    subject="Reminder",
                    body=f"Reminder {n}",
                    state=MessageState.PENDING,
                    key=f"bench:{n}",
                    send_after=timezone.now() - timedelta(minutes=1),
                )
                for n in range(n_messages)
            )
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                counts = messaging.send_due()
                elapsed = time.perf_counter() - start
            sent = Message.objects.filter(state=MessageState.SENT).count()
            print(
                f"{n_messages} messages (half email, half text): sent {counts['sent']} "
                f"(checked {sent}) in {elapsed:.2f} s = {n_messages / elapsed:.0f} per second; "
                f"{len(queries)} queries ({len(queries) / n_messages:.1f} per message)"
            )
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
