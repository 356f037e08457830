"""The patron's private link to a booking: signed, so it cannot be guessed or altered.

The link names the booking by its random reference (never its database id) and is signed with
the site's secret key. It stops working some days after the session. The signature carries no
timestamp, so every message about one booking holds the very same link.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from .models import Appointment

SALT = "appointments.patron-link"


class LinkError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def make_token(appointment: Appointment) -> str:
    return signing.Signer(salt=SALT).sign(appointment.reference.hex)


def private_path(appointment: Appointment) -> str:
    return reverse("appointments:manage", args=[make_token(appointment)])


def private_url(appointment: Appointment) -> str:
    return settings.SITE_URL.rstrip("/") + private_path(appointment)


def appointment_from_token(token: str) -> Appointment:
    """The booking a private link points to, or LinkError for a damaged or expired link."""
    try:
        reference = signing.Signer(salt=SALT).unsign(token)
        appointment = Appointment.objects.select_related("patron", "staff", "branch", "topic").get(
            reference=reference
        )
    except (signing.BadSignature, Appointment.DoesNotExist, ValueError) as error:
        raise LinkError(
            gettext(
                "This link does not work. Please check that you copied all of it, "
                "or call us at %(phone)s."
            )
            % {"phone": settings.LIBRARY_PHONE}
        ) from error
    expires = appointment.ends_at + timedelta(days=settings.PATRON_LINK_DAYS_AFTER)
    if timezone.now() > expires or appointment.patron_id is None:
        # With no patron, the record is gone: deleted at the patron's request, or kept no
        # longer after the session. Which, nothing left here can say, so the words fit both.
        raise LinkError(
            gettext(
                "This link no longer works: either the session it was for is over, or the "
                "details behind it were deleted at the patron's request. If you need help with "
                "a booking, call us at %(phone)s."
            )
            % {"phone": settings.LIBRARY_PHONE}
        )
    return appointment


FEEDBACK_SALT = "appointments.feedback-link"
FEEDBACK_DAYS = 30


def make_feedback_token(appointment: Appointment) -> str:
    return signing.dumps(appointment.reference.hex, salt=FEEDBACK_SALT)


def feedback_url(appointment: Appointment) -> str:
    path = reverse("appointments:feedback", args=[make_feedback_token(appointment)])
    return settings.SITE_URL.rstrip("/") + path


def appointment_from_feedback_token(token: str) -> Appointment:
    """The session a follow-up link asks about. Works for FEEDBACK_DAYS after it was sent."""
    try:
        reference = signing.loads(token, salt=FEEDBACK_SALT, max_age=timedelta(days=FEEDBACK_DAYS))
        return Appointment.objects.select_related("topic", "branch").get(reference=reference)
    except signing.SignatureExpired as error:
        raise LinkError(gettext("This link has expired. Thank you all the same.")) from error
    except (signing.BadSignature, Appointment.DoesNotExist, ValueError) as error:
        raise LinkError(
            gettext("This link does not work. Please check that you copied all of it.")
        ) from error


def calendar_feed_url(staff) -> str:
    path = reverse("appointments:staff_calendar", args=[staff.calendar_key])
    return settings.SITE_URL.rstrip("/") + path
