"""The patron's time page from the cache: a topic's open times and filter choices, kept until
its schedule changes.

Each topic has a version in the cache (`slots-version:<topic id>`): a random token.
Everything cached for the topic is tagged with, or keyed by, the token read *before* the
database was read; a schedule change deletes the token (schedule_changes), and the next reader
makes a new one. So whatever was computed from data read before a change is never read again.

Only the plain patron path is cached (the online notice, no held time shown to its holder, no
session left out for a move); the desk and moves compute as before. Time passing moves the
notice window: entries live a minute at most, and times now inside the notice are dropped on
read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from django.core.cache import cache

from .booking import bookable_staff, booking_window, find_open_slots
from .models import Branch, StaffProfile, Topic
from .schedule_changes import choices_key, version_key
from .slots import Slot

# Long enough to serve a busy minute from the cache; short enough that the far end of the
# booking window (which moves with the clock) is never more than a minute behind.
LIFETIME_SECONDS = 60


@dataclass(frozen=True)
class FilterChoices:
    """Who and where a patron may narrow the times to."""

    staff: list[StaffProfile]
    branches: list[Branch]


def load_filter_choices(topic: Topic) -> FilterChoices:
    staff = bookable_staff(topic)
    return FilterChoices(
        staff=list(staff.only("pk", "public_name", "introduction")),
        branches=list(Branch.objects.filter(staff__in=staff).distinct()),
    )


class TopicTimes:
    """A topic's cached open times for one request. Reading the version and the filter choices
    costs one cache read; each week (or span) of times one more."""

    def __init__(self, topic: Topic):
        self.topic = topic
        found = cache.get_many([version_key(topic.pk), choices_key(topic.pk)])
        self.version = found.get(version_key(topic.pk))
        if self.version is None:
            token = uuid.uuid4().hex
            if not cache.add(version_key(topic.pk), token, timeout=None):
                token = cache.get(version_key(topic.pk)) or token
            self.version = token
        self._choices = found.get(choices_key(topic.pk))

    def filter_choices(self) -> FilterChoices:
        if self._choices is not None and self._choices[0] == self.version:
            return self._choices[1]
        choices = load_filter_choices(self.topic)
        cache.set(choices_key(self.topic.pk), (self.version, choices), timeout=LIFETIME_SECONDS)
        return choices

    def open_slots(
        self,
        *,
        length: int,
        first_day: date,
        last_day: date,
        branch: Branch | None,
        staff: StaffProfile | None,
    ) -> list[Slot]:
        """`find_open_slots` for the online window, from the cache when the schedule has not
        changed in the last minute."""
        window = booking_window(self.topic)
        key = ":".join(
            str(part)
            for part in (
                "open-times",
                self.topic.pk,
                self.version,
                length,
                first_day.isoformat(),
                last_day.isoformat(),
                branch.pk if branch else "-",
                staff.pk if staff else "-",
            )
        )
        slots = cache.get(key)
        if slots is None:
            slots = find_open_slots(
                self.topic,
                length=length,
                first_day=first_day,
                last_day=last_day,
                branch=branch,
                staff=staff,
                window=window,
            )
            cache.set(key, slots, timeout=LIFETIME_SECONDS)
        # Computed up to a minute ago: the notice has moved on since.
        return [slot for slot in slots if window.earliest <= slot.start <= window.latest]
