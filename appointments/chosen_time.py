"""Why the time on a patron's details page cannot be booked online, in the patron's words.

The time travels with the page (views.contact), so it may be one the time page never offered:
an old tab, a bookmark, an edited address. The details page checks it as it opens, and again
when the patron books, so that the patron hears the real reason (too soon to book online,
further ahead than we book, not a time we offer) rather than "just taken". The booking itself
still re-checks everything inside its transaction (booking.book_appointment): that is where
the real race, two patrons for one time, is decided.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext, ngettext

from .booking import SLOT_TAKEN, bookable_staff, booking_window
from .models import Availability, Branch, Closure, StaffProfile, Topic
from .open_times import TopicTimes
from .slots import ClosedDays, WeeklyHours, open_slots


def not_offered() -> str:
    return gettext("That is not one of the times we offer. Please choose a time from the list.")


def outside_online_window(topic: Topic, branch: Branch, start: datetime) -> str | None:
    """Too soon to book online, or further ahead than patrons may book: no query."""
    window = booking_window(topic)
    if start < window.earliest:
        return ngettext(
            "That time is too soon to book online: online, sessions are booked at least "
            "%(hours)s hour ahead. Please call us at %(phone)s or come to the desk, and we "
            "will help if we can.",
            "That time is too soon to book online: online, sessions are booked at least "
            "%(hours)s hours ahead. Please call us at %(phone)s or come to the desk, and we "
            "will help if we can.",
            topic.notice_hours,
        ) % {"hours": topic.notice_hours, "phone": branch.phone or settings.LIBRARY_PHONE}
    if start > window.latest:
        return ngettext(
            "That time is further ahead than we book: we book up to %(days)s day ahead. "
            "Please choose an earlier time.",
            "That time is further ahead than we book: we book up to %(days)s days ahead. "
            "Please choose an earlier time.",
            topic.window_days,
        ) % {"days": topic.window_days}
    return None


def is_offered(
    topic: Topic, branch: Branch, staff: StaffProfile | None, start: datetime, length: int
) -> bool:
    """Would this time be offered if nobody had booked it? Someone who helps with the topic
    works then at the branch, it starts on the page's grid of times and the branch is open
    that day. Two queries (their hours, the branch's closures)."""
    day = start.astimezone(branch.tz).date()
    people = bookable_staff(topic, branch)
    if staff is not None:
        people = people.filter(pk=staff.pk)
    hours = [
        WeeklyHours.of(row)
        for row in Availability.objects.filter(
            staff__in=people, branch=branch, weekday=day.weekday()
        )
    ]
    if not hours:
        return False
    closed = [
        ClosedDays(branch.pk, row.first_day, row.last_day)
        for row in Closure.objects.filter(branch=branch, first_day__lte=day, last_day__gte=day)
    ]
    window = booking_window(topic)
    times = open_slots(
        hours=hours,
        busy=[],
        closures=closed,
        zones={branch.pk: branch.tz},
        first_day=day,
        last_day=day,
        length=length,
        step=settings.SLOT_STEP_MINUTES,
        earliest=window.earliest,
        latest=window.latest,
    )
    return any(slot.start == start for slot in times)


def not_open_reason(
    topic: Topic, branch: Branch, staff: StaffProfile | None, start: datetime, length: int
) -> str:
    """Why a time that is not open cannot be had: outside the online window, never offered,
    or taken by someone else."""
    reason = outside_online_window(topic, branch, start)
    if reason:
        return reason
    if not is_offered(topic, branch, staff, start, length):
        return not_offered()
    return str(SLOT_TAKEN)


def problem_as_page_opens(
    topic: Topic, branch: Branch, staff: StaffProfile | None, start: datetime, length: int
) -> str | None:
    """Why the details page should not offer this time, or None if it is open: from the
    cached open times of that day (the time page's own), the reason only when it is not."""
    reason = outside_online_window(topic, branch, start)
    if reason:
        return reason
    day = start.astimezone(branch.tz).date()
    open_that_day = TopicTimes(topic).open_slots(
        length=length, first_day=day, last_day=day, branch=branch, staff=staff
    )
    if any(slot.start == start for slot in open_that_day):
        return None
    return not_open_reason(topic, branch, staff, start, length)
