"""Open times and their wording on the nights the clocks change, in America/Chicago.

Clocks go back on Sunday 1 November 2026 (and Sunday 7 November 2027): the clock shows 1:00 to
2:00 am twice. They spring forward on Sunday 14 March 2027: 2:00 to 3:00 am never happens. The
slot functions are called with explicit dates, so the booking window does not matter; the page
test uses the 2027 autumn night, which is still ahead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from appointments.formatting import format_time, format_when
from appointments.forms import TimeChoiceForm
from appointments.links import private_path
from appointments.models import Branch
from appointments.slots import WeeklyHours, open_slots, wall_clock_end

CHICAGO = ZoneInfo("America/Chicago")
FALL_BACK = date(2026, 11, 1)
FALL_BACK_2027 = date(2027, 11, 7)
SPRING_FORWARD = date(2027, 3, 14)
CENTRAL, ANA = 1, 10


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def open_times(day: date, start: time, end: time, *, length: int) -> list:
    return open_slots(
        hours=[WeeklyHours(ANA, CENTRAL, day.weekday(), start, end)],
        busy=[],
        closures=[],
        zones={CENTRAL: CHICAGO},
        first_day=day,
        last_day=day,
        length=length,
        step=30,
        earliest=datetime(2000, 1, 1, tzinfo=UTC),
        latest=datetime(2100, 1, 1, tzinfo=UTC),
    )


def test_both_times_the_clock_shows_half_past_one_are_offered():
    found = open_times(FALL_BACK, time(1), time(2), length=30)

    # 1:00 and 1:30 CDT (06:00, 06:30 UTC), then 1:00 and 1:30 CST (07:00, 07:30 UTC).
    assert [s.start for s in found] == [
        utc(FALL_BACK, 6),
        utc(FALL_BACK, 6, 30),
        utc(FALL_BACK, 7),
        utc(FALL_BACK, 7, 30),
    ]
    assert all(s.end <= utc(FALL_BACK, 8) for s in found)  # 2:00 am CST


def test_the_two_half_past_ones_are_told_apart_in_words():
    first, second = utc(FALL_BACK, 6, 30), utc(FALL_BACK, 7, 30)

    assert format_time(first.astimezone(CHICAGO)) == "1:30 am (first time, before clocks go back)"
    assert format_time(second.astimezone(CHICAGO)) == "1:30 am (second time, after clocks go back)"
    # Any other time of that night reads as usual.
    assert format_time(utc(FALL_BACK, 5, 30).astimezone(CHICAGO)) == "12:30 am"
    assert format_time(utc(FALL_BACK, 8).astimezone(CHICAGO)) == "2 am"


def test_the_time_picker_offers_both_with_different_words():
    found = open_times(FALL_BACK, time(1), time(2), length=30)
    central = Branch(pk=CENTRAL, name="Central Library", time_zone="America/Chicago")

    form = TimeChoiceForm(slots=found, branches={CENTRAL: central}, staff_names={}, any_staff=True)

    [(day, day_label, items)] = form.days()
    labels = [label for _, label in items]
    assert day_label == "Sunday 1 November"
    assert labels == [
        "1 am (first time, before clocks go back)",
        "1:30 am (first time, before clocks go back)",
        "1 am (second time, after clocks go back)",
        "1:30 am (second time, after clocks go back)",
    ]
    assert len({value for value, _ in items}) == 4


def test_an_hour_from_the_first_half_past_one_reads_right():
    # Sums in UTC: Python adds to a zoned time on the wall clock, which would give 2:30.
    start = utc(FALL_BACK, 6, 30).astimezone(CHICAGO)
    end = (utc(FALL_BACK, 6, 30) + timedelta(minutes=60)).astimezone(CHICAGO)

    assert (
        f"{format_when(start)} to {format_time(end)}"
        == "Sunday 1 November, 1:30 am (first time, before clocks go back) "
        "to 1:30 am (second time, after clocks go back)"
    )


@pytest.mark.django_db
def test_the_private_link_page_reads_the_hour_across_the_change(client, librarian, topic, branch):
    from .factories import make_appointment

    start = utc(FALL_BACK_2027, 6, 30)  # the first 1:30 am (CDT)
    session = make_appointment(staff=librarian, topic=topic, branch=branch, start=start)
    assert session.ends_at - session.starts_at == timedelta(hours=1)

    page = client.get(private_path(session)).content.decode()

    assert (
        "Sunday 7 November, 1:30 am (first time, before clocks go back) "
        "to 1:30 am (second time, after clocks go back)"
    ) in page


def test_hours_ending_inside_the_skipped_hour_end_when_the_clock_jumps():
    # Hours 1:00 to 2:30 am; at 2:00 CST the clock jumps to 3:00 CDT (08:00 UTC).
    jump = utc(SPRING_FORWARD, 8)
    assert wall_clock_end(SPRING_FORWARD, time(2, 30), CHICAGO) == jump

    hour = open_times(SPRING_FORWARD, time(1), time(2, 30), length=60)
    half_hour = open_times(SPRING_FORWARD, time(1), time(2, 30), length=30)

    assert [s.start for s in hour] == [utc(SPRING_FORWARD, 7)]  # 1:00 to 3:00 am CDT
    assert [s.start for s in half_hour] == [utc(SPRING_FORWARD, 7), utc(SPRING_FORWARD, 7, 30)]
    assert all(s.end <= jump for s in hour + half_hour)


def test_no_time_inside_the_skipped_hour_is_offered():
    found = open_times(SPRING_FORWARD, time(1), time(4), length=30)

    local_times = [s.start.astimezone(CHICAGO).time() for s in found]
    assert local_times == [time(1), time(1, 30), time(3), time(3, 30)]
    assert all(s.end - s.start == timedelta(minutes=30) for s in found)


def test_an_ordinary_day_is_unchanged():
    day = date(2027, 3, 21)
    found = open_times(day, time(10), time(12), length=60)

    assert [s.start.astimezone(CHICAGO).time() for s in found] == [time(10), time(10, 30), time(11)]
