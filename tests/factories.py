"""Small factories for the library's people, schedules and sessions: the tests' one vocabulary.

Times are built in the branch's own zone (America/Chicago here) so tests read like a day at
the branch. `book` goes through the booking service, with every rule checked; `make_appointment`
writes the row straight to the database, for setting a scene the rules would not allow.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, User
from django.utils import timezone

from appointments.access import sync_groups
from appointments.booking import book_appointment
from appointments.models import (
    Appointment,
    Availability,
    Block,
    Branch,
    Closure,
    StaffProfile,
    Topic,
)
from patrons.models import Patron

CHICAGO = ZoneInfo("America/Chicago")
_counter = itertools.count(1)


def local(day: date, hour: int, minute: int = 0, tz: ZoneInfo = CHICAGO) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def next_weekday(weekday: int, weeks_ahead: int = 1) -> date:
    """`weekday` (Monday is 0) in the Monday-to-Sunday week `weeks_ahead` weeks after next week.

    With the default that is 8 to 20 days ahead, clear of any notice period, and whatever day the
    tests run on, next_weekday(1) and next_weekday(3) fall in one week, Tuesday before Thursday.
    """
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead + 1)
    return monday + timedelta(days=weekday)


def make_branch(name: str = "Central Library", tz: str = "America/Chicago") -> Branch:
    return Branch.objects.create(name=name, address="1 Main Street", time_zone=tz)


def make_topic(name: str = "Computer basics", lengths=(60,), **extra) -> Topic:
    slug = name.lower().replace(" ", "-").replace("é", "e")
    return Topic.objects.create(
        name=name,
        slug=slug,
        description=f"Help with {name.lower()}.",
        session_lengths=list(lengths),
        **extra,
    )


def ensure_staff_groups() -> None:
    """The role groups come from a data migration; a transactional test's flush removes them."""
    if not Group.objects.filter(name="Librarians").exists():
        sync_groups()


def make_user(username: str | None = None, *, groups=(), **extra) -> User:
    if groups:
        ensure_staff_groups()
    username = username or f"user{next(_counter)}"
    extra.setdefault("is_staff", True)
    user = User.objects.create_user(username, password="a-long-test-password", **extra)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def make_staff(
    name: str = "Ana P.",
    *,
    branch: Branch,
    topics=(),
    hours=(),
    user: User | None = None,
    groups=("Librarians",),
) -> StaffProfile:
    """A staff member; `hours` is a list of (weekday, start_hour, end_hour) at `branch`."""
    user = user or make_user(groups=groups)
    profile = StaffProfile.objects.create(user=user, public_name=name)
    profile.branches.add(branch)
    profile.topics.add(*topics)
    for weekday, start, end in hours:
        Availability.objects.create(
            staff=profile,
            branch=branch,
            weekday=weekday,
            start_time=time(start),
            end_time=time(end),
        )
    return profile


def make_patron(name: str = "Marcus Lee", **extra) -> Patron:
    fields = {"email": f"patron{next(_counter)}@example.org", "preferred_contact": "email"}
    fields.update(extra)
    return Patron.objects.create(name=name, **fields)


def make_appointment(*, staff, topic, branch, patron=None, start: datetime, minutes=60, **extra):
    return Appointment.objects.create(
        patron=patron or make_patron(),
        staff=staff,
        branch=branch,
        topic=topic,
        skill_level=extra.pop("skill_level", "some"),
        learning_goal=extra.pop("learning_goal", "Update my résumé"),
        party_size=extra.pop("party_size", 1),
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        **extra,
    )


def make_block(staff, start: datetime, end: datetime, reason="Staff meeting") -> Block:
    return Block.objects.create(staff=staff, starts_at=start, ends_at=end, reason=reason)


def make_closure(branch, first_day: date, last_day: date | None = None, reason="Holiday"):
    return Closure.objects.create(
        branch=branch, first_day=first_day, last_day=last_day or first_day, reason=reason
    )


def book(
    *,
    patron=None,
    topic,
    branch,
    start,
    length=60,
    staff=None,
    skill_level="some",
    learning_goal="My résumé is ten years old",
    party_size=1,
    **extra,
) -> Appointment:
    """Book through the service, as a patron online would unless `extra` says otherwise."""
    return book_appointment(
        patron=patron or make_patron(),
        topic=topic,
        branch=branch,
        starts_at=start,
        length=length,
        staff=staff,
        skill_level=skill_level,
        learning_goal=learning_goal,
        party_size=party_size,
        **extra,
    )
