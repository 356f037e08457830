"""Text message backends: small classes with one `send()` each, chosen by settings.TEXT_BACKEND.

The console backend prints messages (development and tests). The Twilio backend sends real ones;
it needs the optional extra: pip install '.[twilio]'.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.utils.module_loading import import_string


class TextSendError(Exception):
    pass


class ConsoleTextBackend:
    def send(self, to: str, body: str) -> None:
        sys.stdout.write(f"--- Text message to {to} ---\n{body}\n")
        sys.stdout.flush()


class MemoryTextBackend:
    """Keeps texts in `outbox` (a class attribute), like Django's locmem email backend."""

    outbox: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> None:
        MemoryTextBackend.outbox.append((to, body))


class FailingTextBackend:
    """Always fails, as a provider outage would. For trying the retry path."""

    def send(self, to: str, body: str) -> None:
        raise TextSendError("The text message provider is not answering.")


class TwilioTextBackend:
    def __init__(self):
        try:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client
        except ImportError as error:  # pragma: no cover - depends on the optional extra
            raise TextSendError("Install the twilio extra: pip install '.[twilio]'") from error
        # A provider that hangs costs the worker at most TEXT_TIMEOUT_SECONDS per message.
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=settings.TEXT_TIMEOUT_SECONDS),
        )

    def send(self, to: str, body: str) -> None:
        try:
            self.client.messages.create(to=to, from_=settings.TWILIO_FROM_NUMBER, body=body)
        except Exception as error:
            raise TextSendError(str(error)) from error


def get_text_backend():
    return import_string(settings.TEXT_BACKEND)()
