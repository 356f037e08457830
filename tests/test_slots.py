"""Open times from plain data: weekly hours, busy stretches, closures. No database here.

The days are fixed dates in 2026 so daylight-saving changes fall where we expect: in
America/Chicago clocks spring forward on Sunday 8 March and fall back on Sunday 1 November.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from appointments.slots import Busy, ClosedDays, WeeklyHours, open_slots

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
CENTRAL, EASTSIDE = 1, 2
ANA, BEN = 10, 20
TUESDAY = date(2026, 6, 2)
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = CHICAGO) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def hours(weekday, start, end, *, staff=ANA, branch=CENTRAL, valid_from=None, valid_until=None):
    start = start if isinstance(start, time) else time(start)
    end = end if isinstance(end, time) else time(end)
    return WeeklyHours(staff, branch, weekday, start, end, valid_from, valid_until)


def every_day(start, end, **extra) -> list[WeeklyHours]:
    return [hours(weekday, start, end, **extra) for weekday in range(7)]


def slots(
    weekly,
    *,
    first_day=TUESDAY,
    last_day=None,
    busy=(),
    closures=(),
    length=60,
    step=30,
    earliest=datetime(2000, 1, 1, tzinfo=UTC),
    latest=datetime(2100, 1, 1, tzinfo=UTC),
    zones=None,
    **padding,
):
    return open_slots(
        hours=list(weekly),
        busy=list(busy),
        closures=list(closures),
        zones=zones or {CENTRAL: CHICAGO, EASTSIDE: CHICAGO},
        first_day=first_day,
        last_day=last_day or first_day,
        length=length,
        step=step,
        earliest=earliest,
        latest=latest,
        **padding,
    )


def starts(found) -> list[datetime]:
    return [slot.start for slot in found]


def test_slots_fall_on_the_step_grid_inside_weekly_hours():
    found = slots([hours(1, 10, 12)], length=60)

    assert starts(found) == [at(TUESDAY, 10), at(TUESDAY, 10, 30), at(TUESDAY, 11)]
    assert all(slot.end - slot.start == timedelta(minutes=60) for slot in found)
    assert {(slot.staff_id, slot.branch_id) for slot in found} == {(ANA, CENTRAL)}


def test_a_finer_step_offers_more_start_times():
    found = slots([hours(1, 10, 11)], length=30, step=15)

    assert starts(found) == [at(TUESDAY, 10), at(TUESDAY, 10, 15), at(TUESDAY, 10, 30)]


def test_no_slots_on_days_without_weekly_hours():
    wednesday = TUESDAY + timedelta(days=1)

    assert slots([hours(1, 10, 12)], first_day=wednesday) == []


def test_a_session_that_would_run_past_closing_is_not_offered():
    assert starts(slots([hours(1, 10, 12)], length=90)) == [at(TUESDAY, 10), at(TUESDAY, 10, 30)]
    assert slots([hours(1, 10, 11)], length=120) == []


def test_a_block_hides_only_the_starts_that_overlap_it():
    meeting = Busy(ANA, at(TUESDAY, 10, 30), at(TUESDAY, 11))

    thirty = slots([hours(1, 10, 12)], busy=[meeting], length=30)
    hour = slots([hours(1, 10, 12)], busy=[meeting], length=60)

    # A session may end exactly when the meeting starts, or start when it ends.
    assert starts(thirty) == [at(TUESDAY, 10), at(TUESDAY, 11), at(TUESDAY, 11, 30)]
    assert starts(hour) == [at(TUESDAY, 11)]


def test_a_booked_session_hides_overlapping_starts():
    booked = Busy(ANA, at(TUESDAY, 11), at(TUESDAY, 12))

    assert starts(slots([hours(1, 10, 13)], busy=[booked])) == [at(TUESDAY, 10), at(TUESDAY, 12)]


def test_busy_time_of_a_colleague_does_not_hide_my_slots():
    bens_meeting = Busy(BEN, at(TUESDAY, 10), at(TUESDAY, 12))

    found = slots([hours(1, 10, 12)], busy=[bens_meeting])

    assert len(found) == 3


def test_being_busy_at_another_branch_hides_the_time_at_this_one():
    # Ana works Tuesdays at both branches; a session booked at Eastside is busy time at Central.
    weekly = [hours(1, 10, 12, branch=CENTRAL), hours(1, 13, 15, branch=EASTSIDE)]
    at_eastside = Busy(ANA, at(TUESDAY, 10), at(TUESDAY, 11))

    found = slots(weekly, busy=[at_eastside])

    assert [(s.start, s.branch_id) for s in found] == [
        (at(TUESDAY, 11), CENTRAL),
        (at(TUESDAY, 13), EASTSIDE),
        (at(TUESDAY, 13, 30), EASTSIDE),
        (at(TUESDAY, 14), EASTSIDE),
    ]


def test_padding_after_keeps_wrap_up_time_before_the_next_session():
    booked = Busy(ANA, at(TUESDAY, 11), at(TUESDAY, 12))

    plain = slots([hours(1, 9, 12)], busy=[booked])
    padded = slots([hours(1, 9, 12)], busy=[booked], padding_after=15)

    assert at(TUESDAY, 10) in starts(plain)
    assert starts(padded) == [at(TUESDAY, 9), at(TUESDAY, 9, 30)]


def test_padding_before_keeps_preparation_time_after_the_last_session():
    booked = Busy(ANA, at(TUESDAY, 10), at(TUESDAY, 10, 30))

    plain = slots([hours(1, 10, 12)], busy=[booked])
    padded = slots([hours(1, 10, 12)], busy=[booked], padding_before=15)

    assert starts(plain) == [at(TUESDAY, 10, 30), at(TUESDAY, 11)]
    assert starts(padded) == [at(TUESDAY, 11)]


def test_a_closure_removes_whole_days_at_that_branch_only():
    weekly = [
        hours(1, 10, 12, staff=ANA, branch=CENTRAL),
        hours(1, 10, 12, staff=BEN, branch=EASTSIDE),
    ]
    renovation = ClosedDays(CENTRAL, TUESDAY, TUESDAY + timedelta(days=7))
    last_day = TUESDAY + timedelta(days=14)

    found = slots(weekly, closures=[renovation], last_day=last_day)

    central_days = {s.start.astimezone(CHICAGO).date() for s in found if s.branch_id == CENTRAL}
    eastside_days = {s.start.astimezone(CHICAGO).date() for s in found if s.branch_id == EASTSIDE}
    assert central_days == {last_day}
    assert eastside_days == {TUESDAY, TUESDAY + timedelta(days=7), last_day}
    assert len([s for s in found if s.branch_id == EASTSIDE]) == 9


def test_nothing_is_offered_before_the_earliest_or_after_the_latest_start():
    found = slots(
        [hours(1, 9, 13)],
        earliest=at(TUESDAY, 10, 30),
        latest=at(TUESDAY, 11, 30),
    )

    assert starts(found) == [at(TUESDAY, 10, 30), at(TUESDAY, 11), at(TUESDAY, 11, 30)]


def test_weekly_hours_apply_only_between_valid_from_and_valid_until():
    second, third = TUESDAY + timedelta(days=7), TUESDAY + timedelta(days=14)
    summer_hours = hours(1, 10, 11, valid_from=second, valid_until=third)

    found = slots([summer_hours], last_day=TUESDAY + timedelta(days=28))

    assert starts(found) == [at(second, 10), at(third, 10)]


def test_overlapping_weekly_hours_do_not_offer_a_time_twice():
    found = slots([hours(1, 10, 12), hours(1, 11, 13)])

    assert starts(found) == [at(TUESDAY, h, m) for h in (10, 11) for m in (0, 30)] + [
        at(TUESDAY, 12)
    ]


def test_slots_come_in_time_order_across_staff_and_branches():
    weekly = [
        hours(1, 11, 12, staff=BEN, branch=EASTSIDE),
        hours(1, 10, 11, staff=ANA, branch=CENTRAL),
    ]

    found = slots(weekly, zones={CENTRAL: CHICAGO, EASTSIDE: NEW_YORK})

    # 11:00 in New York is 10:00 in Chicago: same instant, both offered.
    assert [(s.start, s.staff_id) for s in found] == [
        (at(TUESDAY, 10), ANA),
        (at(TUESDAY, 10), BEN),
    ]


def test_ten_oclock_stays_ten_oclock_across_spring_forward():
    thursday, wednesday = date(2026, 3, 5), date(2026, 3, 11)

    found = slots(every_day(10, 12), first_day=thursday, last_day=wednesday, length=120)

    assert [s.start.astimezone(CHICAGO).time() for s in found] == [time(10)] * 7
    assert starts(found) == [
        utc(date(2026, 3, 5), 16),
        utc(date(2026, 3, 6), 16),
        utc(date(2026, 3, 7), 16),
        utc(date(2026, 3, 8), 15),
        utc(date(2026, 3, 9), 15),
        utc(date(2026, 3, 10), 15),
        utc(date(2026, 3, 11), 15),
    ]


def test_ten_oclock_stays_ten_oclock_across_fall_back():
    thursday, wednesday = date(2026, 10, 29), date(2026, 11, 4)

    found = slots(every_day(10, 12), first_day=thursday, last_day=wednesday, length=120)

    assert [s.start.astimezone(CHICAGO).time() for s in found] == [time(10)] * 7
    assert starts(found) == [
        utc(date(2026, 10, 29), 15),
        utc(date(2026, 10, 30), 15),
        utc(date(2026, 10, 31), 15),
        utc(date(2026, 11, 1), 16),
        utc(date(2026, 11, 2), 16),
        utc(date(2026, 11, 3), 16),
        utc(date(2026, 11, 4), 16),
    ]


def test_the_hour_skipped_in_spring_is_never_offered():
    early = hours(SPRING_FORWARD.weekday(), 2, 4)

    thirty = slots([early], first_day=SPRING_FORWARD, length=30)
    hour = slots([early], first_day=SPRING_FORWARD, length=60)

    # 02:00 to 03:00 does not exist that night; 03:00 CDT is 08:00 UTC.
    assert starts(thirty) == [utc(SPRING_FORWARD, 8), utc(SPRING_FORWARD, 8, 30)]
    assert starts(hour) == [utc(SPRING_FORWARD, 8)]
    local_times = {s.start.astimezone(CHICAGO).time() for s in thirty}
    assert time(2, 30) not in local_times
    assert time(2) not in local_times


def test_the_repeated_hour_in_autumn_gives_real_distinct_instants():
    early = hours(FALL_BACK.weekday(), 1, 3)

    found = slots([early], first_day=FALL_BACK, length=30)

    instants = starts(found)
    assert len(instants) == len(set(instants))
    assert instants == sorted(instants)
    for slot in found:
        assert slot.end - slot.start == timedelta(minutes=30)
        # Every start is a time the clock really shows, and it reads back as itself.
        local = slot.start.astimezone(CHICAGO)
        assert local.astimezone(UTC) == slot.start
        assert time(1) <= local.time() < time(3)
        assert slot.end <= utc(FALL_BACK, 9)  # 03:00 CST
    # 01:00 and 01:30 the first time round (CDT), again the second time round (CST), then
    # 02:00 and 02:30 CST.
    assert instants == [
        utc(FALL_BACK, 6),
        utc(FALL_BACK, 6, 30),
        utc(FALL_BACK, 7),
        utc(FALL_BACK, 7, 30),
        utc(FALL_BACK, 8),
        utc(FALL_BACK, 8, 30),
    ]
