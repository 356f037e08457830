"""Busy times from a staff member's published Outlook or Google calendar.

Ana publishes her calendar and pastes its address; the worker reads it from a server the test
runs on 127.0.0.1. The fixtures (tests/fixtures/calendars) hold the week of 1 November 2027, when
Chicago's clocks go back (Sunday 7 November); those tests read them as if it were 25 October
2027. Tests of the patron's page and of booking write a feed for next week instead.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from appointments import calendar_feeds, locks, worker
from appointments.booking import SLOT_TAKEN, BookingError, BookingWindow, find_open_slots
from appointments.calendar_feeds import FeedError, fetch, parse_busy, problems, refresh_feed
from appointments.models import BusyTime, CalendarFeed, Message, MessageKind
from appointments.open_times import TopicTimes
from appointments.schedule_changes import version_key
from appointments.schedule_health import booked_clashes

from .factories import (
    CHICAGO,
    book,
    local,
    make_appointment,
    make_staff,
    make_user,
    next_weekday,
)
from .servers import connect_directly

FIXTURES = Path(__file__).parent / "fixtures" / "calendars"
NOW = datetime(2027, 10, 25, 9, 0, tzinfo=CHICAGO)
START, END = NOW, NOW + timedelta(days=61)
WINDOW = BookingWindow(NOW, NOW + timedelta(days=60))


def ics(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return local(day, hour, minute).astimezone(UTC)


def chicago(year, month, day, hour, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO).astimezone(UTC)


def busy_of(name: str, **options) -> list[tuple[datetime, datetime]]:
    return parse_busy(ics(name), start=START, end=END, **options).busy


def feed_of(*events: tuple[date, int, int], busy_status: str = "BUSY") -> bytes:
    """A feed of events (day, start hour, end hour) on Chicago's clock, as Outlook writes them."""
    body = "".join(
        "BEGIN:VEVENT\r\n"
        f"UID:{day}-{start}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;TZID=Central Standard Time:{day:%Y%m%d}T{start:02}0000\r\n"
        f"DTEND;TZID=Central Standard Time:{day:%Y%m%d}T{end:02}0000\r\n"
        f"SUMMARY:Private meeting\r\nX-MICROSOFT-CDO-BUSYSTATUS:{busy_status}\r\n"
        "END:VEVENT\r\n"
        for day, start, end in events
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n{body}END:VCALENDAR\r\n".encode()


def one_event(day: date, start_hour: int, end_hour: int) -> bytes:
    return feed_of((day, start_hour, end_hour))


EMPTY = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nEND:VCALENDAR\r\n"


class FeedServer:
    """A calendar server on 127.0.0.1: `routes` maps a path to (status, headers, body) or to a
    function that answers the request itself."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                route = server.routes.get(self.path, (404, {}, b"Not found"))
                if callable(route):
                    route(self)
                    return
                status, headers, body = route
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    if value is not None:
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, status: int = 200, **headers) -> str:
        self.routes[path] = (status, {"Content-Type": "text/calendar", **headers}, body)
        return self.url(path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def feed_settings(settings):
    settings.CALENDAR_FEEDS_ALLOW_LOOPBACK = True
    settings.CALENDAR_FEED_TIMEOUT_SECONDS = 1
    settings.CALENDAR_TENTATIVE_BLOCKS = True


@pytest.fixture
def server():
    running = FeedServer()
    yield running
    running.close()


@pytest.fixture
def ana(branch, topic):
    """Ana helps with computer basics at Central every weekday, 9 am to 5 pm."""
    return make_staff("Ana P.", branch=branch, topics=[topic], hours=[(d, 9, 17) for d in range(5)])


def connect(staff, address: str) -> CalendarFeed:
    return CalendarFeed.objects.create(staff=staff, address=address)


def starts_on(topic, day: date, now_window=WINDOW) -> set[tuple[int, int]]:
    slots = find_open_slots(topic, length=60, first_day=day, last_day=day, window=now_window)
    return {(s.start.astimezone(CHICAGO).hour, s.start.astimezone(CHICAGO).minute) for s in slots}


# --- What counts as busy -------------------------------------------------------------------


def test_outlook_busy_tentative_and_out_of_office_block_and_free_ones_do_not():
    busy = busy_of("outlook.ics")
    assert (chicago(2027, 11, 2, 10), chicago(2027, 11, 2, 11)) in busy  # BUSY
    assert (chicago(2027, 11, 2, 14), chicago(2027, 11, 2, 15)) in busy  # TENTATIVE
    assert (chicago(2027, 11, 4, 10), chicago(2027, 11, 4, 11, 30)) in busy  # OOF
    starts = {start for start, _end in busy}
    assert chicago(2027, 11, 4, 14) not in starts  # FREE
    assert chicago(2027, 11, 9, 10) not in starts  # WORKINGELSEWHERE
    assert chicago(2027, 11, 9, 14) not in starts  # cancelled


def test_tentative_stays_bookable_when_the_library_says_so():
    busy = busy_of("outlook.ics", tentative_blocks=False)
    assert chicago(2027, 11, 2, 14) not in {start for start, _end in busy}
    assert (chicago(2027, 11, 2, 10), chicago(2027, 11, 2, 11)) in busy


def test_windows_time_zone_names_are_read_as_their_iana_zones():
    busy = busy_of("outlook.ics")
    # "Pacific Standard Time", 8 am there on 11 November: 10 am in Chicago.
    assert (chicago(2027, 11, 11, 10), chicago(2027, 11, 11, 11)) in busy


def test_all_day_events_block_the_whole_local_day_only_when_busy():
    busy = busy_of("outlook.ics")
    assert (chicago(2027, 11, 18, 0), chicago(2027, 11, 19, 0)) in busy  # out of office
    assert not any(
        start < chicago(2027, 11, 17, 0) and end > chicago(2027, 11, 16, 0) for start, end in busy
    )


def test_recurring_meeting_with_exceptions_moved_instances_and_this_and_future():
    busy = busy_of("recurring.ics")
    # The weekly team meeting on Tuesdays at 10:30, across the change of clocks...
    assert (chicago(2027, 11, 2, 10, 30), chicago(2027, 11, 2, 11, 30)) in busy
    assert (chicago(2027, 11, 23, 10, 30), chicago(2027, 11, 23, 11, 30)) in busy
    # ...but not on 9 November (EXDATE), and on 16 November moved to Wednesday at 3 pm.
    starts = {start for start, _end in busy}
    assert chicago(2027, 11, 9, 10, 30) not in starts
    assert chicago(2027, 11, 16, 10, 30) not in starts
    assert (chicago(2027, 11, 17, 15), chicago(2027, 11, 17, 16)) in busy
    # Training three days (COUNT) and once more on 12 November (RDATE).
    for day in (1, 2, 3, 12):
        assert chicago(2027, 11, day, 9) in starts
    assert chicago(2027, 11, 4, 9) not in starts
    # The one-on-one on Thursdays at 10 moves to 11 from 18 November on (THISANDFUTURE).
    assert (chicago(2027, 11, 11, 10), chicago(2027, 11, 11, 10, 30)) in busy
    assert (chicago(2027, 11, 18, 11), chicago(2027, 11, 18, 11, 30)) in busy
    assert (chicago(2027, 12, 2, 11), chicago(2027, 12, 2, 11, 30)) in busy
    assert chicago(2027, 11, 25, 10) not in starts


def test_daylight_saving_week_keeps_the_wall_clock_time():
    busy = busy_of("daylight_saving.ics")
    assert (datetime(2027, 11, 6, 18, tzinfo=UTC), datetime(2027, 11, 6, 19, tzinfo=UTC)) in busy
    assert (datetime(2027, 11, 8, 19, tzinfo=UTC), datetime(2027, 11, 8, 20, tzinfo=UTC)) in busy
    assert len(busy) == 10


def test_google_floating_times_follow_x_wr_timezone():
    busy = busy_of("google.ics")
    assert busy == [
        (chicago(2027, 11, 3, 10), chicago(2027, 11, 3, 11)),  # floating, America/Chicago
        (chicago(2027, 11, 10, 9), chicago(2027, 11, 10, 10)),  # in UTC
    ]


def test_overlapping_busy_times_are_merged_and_nothing_else_is_kept():
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n"
        b"BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20271102T150000Z\r\n"
        b"DTEND:20271102T160000Z\r\nSUMMARY:Secret\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20271102T153000Z\r\n"
        b"DTEND:20271102T170000Z\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:x@library-help\r\nDTSTAMP:20270101T000000Z\r\n"
        b"DTSTART:20271103T150000Z\r\nDTEND:20271103T160000Z\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n"
    )
    busy = parse_busy(data, start=START, end=END).busy
    # One of our own sessions, copied into Outlook, is not a busy time of its own.
    assert busy == [(datetime(2027, 11, 2, 15, tzinfo=UTC), datetime(2027, 11, 2, 17, tzinfo=UTC))]
    assert {f.name for f in BusyTime._meta.get_fields()} == {"id", "staff", "starts_at", "ends_at"}


def with_repeating_event(
    rule: str, first: datetime, length: str = "PT1S", calendar: str = "recurring.ics"
) -> bytes:
    """Ana's calendar (weekly meetings), and an event repeating by `rule` from `first` (on
    Chicago's clock)."""
    event = (
        "BEGIN:VEVENT\r\nUID:often\r\nDTSTAMP:20270101T000000Z\r\n"
        f"DTSTART;TZID=America/Chicago:{first:%Y%m%dT%H%M%S}\r\nDURATION:{length}\r\n"
        f"RRULE:{rule}\r\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nEND:VEVENT\r\n"
    ).encode()
    return ics(calendar).replace(b"END:VCALENDAR", event + b"END:VCALENDAR")


EVERY_MINUTE_OF_THE_DAY = "FREQ=DAILY;BYHOUR={};BYMINUTE={}".format(
    ",".join(map(str, range(24))), ",".join(map(str, range(60)))
)


@pytest.mark.parametrize(
    "rule, first",
    [
        ("FREQ=MINUTELY", datetime(2027, 10, 25, 9)),  # from this morning on
        ("FREQ=SECONDLY", datetime(2027, 10, 25, 9)),
        ("FREQ=SECONDLY", datetime(2026, 10, 25, 9)),  # since a year ago
        ("FREQ=MINUTELY;UNTIL=20270101T000000Z", datetime(2020, 1, 1)),  # long over
        (EVERY_MINUTE_OF_THE_DAY, datetime(2027, 10, 25)),  # every minute, said otherwise
    ],
)
def test_an_event_repeating_every_minute_or_second_is_refused_quickly(server, ana, rule, first):
    feed = connect(ana, server.serve("/ana.ics", ics("recurring.ics")))
    refresh_feed(feed, now=NOW)
    kept = list(BusyTime.objects.values_list("starts_at", "ends_at"))
    assert kept

    server.serve("/ana.ics", with_repeating_event(rule, first))
    feed.refresh_from_db()
    started = time.monotonic()
    assert refresh_feed(feed, now=NOW + timedelta(minutes=5)) == "failed"
    assert time.monotonic() - started < 2
    assert list(BusyTime.objects.values_list("starts_at", "ends_at")) == kept
    feed.refresh_from_db()
    assert feed.last_status.startswith("Too many repeating events to read")


def test_long_running_series_are_read_and_one_too_dense_starting_later_costs_nothing():
    # A stand-up every weekday since 2007, and a lunch break every day since 2012.
    standup = with_repeating_event(
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", datetime(2007, 1, 1, 8), "PT30M"
    )
    lunch = b"BEGIN:VEVENT\r\nUID:lunch\r\nDTSTAMP:20270101T000000Z\r\n" + (
        b"DTSTART;TZID=America/Chicago:20120102T123000\r\nDURATION:PT30M\r\n"
        b"RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n"
    )
    busy = parse_busy(
        standup.replace(b"END:VCALENDAR", lunch + b"END:VCALENDAR"), start=START, end=END
    ).busy
    assert (chicago(2027, 11, 2, 8), chicago(2027, 11, 2, 8, 30)) in busy
    assert (chicago(2027, 11, 6, 12, 30), chicago(2027, 11, 6, 13)) in busy
    # Every second, but only from next spring, in a calendar whose meetings end in November:
    # nothing of it in what is read, it is something later, and it is not worked out.
    started = time.monotonic()
    later = with_repeating_event("FREQ=SECONDLY", datetime(2028, 4, 1), calendar="outlook.ics")
    parsed = parse_busy(later, start=START, end=END)
    assert time.monotonic() - started < 2
    assert parsed.busy == busy_of("outlook.ics")
    assert parsed.data_ends_at is None
    assert parse_busy(ics("outlook.ics"), start=START, end=END).data_ends_at is not None


def test_something_that_is_not_a_calendar_is_refused():
    with pytest.raises(FeedError, match="did not give a calendar"):
        parse_busy(b"<html>Sign in</html>", start=START, end=END)


# --- Fetching with limits ------------------------------------------------------------------


def test_a_feed_is_fetched(server):
    assert fetch(server.serve("/ana.ics", ics("google.ics"))) == ics("google.ics")


def test_an_oversize_feed_is_refused(server, settings):
    settings.CALENDAR_FEED_MAX_BYTES = 1000
    with pytest.raises(FeedError, match="larger than the limit"):
        fetch(server.serve("/big.ics", b"X" * 5000))

    def streamed(handler):
        # No length said: read as a stream, and stopped at the cap.
        handler.send_response(200)
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"Y" * 500)

    server.routes["/stream.ics"] = streamed
    with pytest.raises(FeedError, match="larger than the limit"):
        fetch(server.url("/stream.ics"))


def test_a_feed_that_answers_too_slowly_times_out(server, settings):
    settings.CALENDAR_FEED_TIMEOUT_SECONDS = 0.3

    def slow(handler):
        time.sleep(1.5)
        handler.send_response(200)
        handler.end_headers()

    server.routes["/slow.ics"] = slow
    started = time.monotonic()
    with pytest.raises(FeedError, match="too long"):
        fetch(server.url("/slow.ics"))
    assert time.monotonic() - started < 1.4


@pytest.mark.parametrize(
    "target",
    [
        "https://10.0.0.1/cal.ics",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/",
        # IPv6 addresses that lead to a private or local IPv4 address: IPv4-mapped, NAT64...
        "https://[::ffff:a9fe:a9fe]/latest/meta-data",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "https://[64:ff9b:1::808:808]/",  # a network's own NAT64 prefix: never
        # ...6to4 (169.254.169.254, and 127.0.0.1 even where loopback is allowed)...
        "https://[2002:a9fe:a9fe::1]/latest/meta-data",
        "https://[2002:7f00:1::1]/",
        # ...and Teredo, whose client (10.0.0.1) or server (10.0.0.1) is private.
        "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
        "https://[2001:0:a00:1:8000:63bf:f7f7:f7f7]/",
    ],
)
def test_a_redirect_to_a_private_address_is_refused(server, target):
    url = server.serve("/moved.ics", b"", status=302, Location=target)
    with pytest.raises(FeedError, match="private or local network"):
        fetch(url)


def test_ipv6_spellings_of_a_public_ipv4_address_are_judged_by_it():
    # 8.8.8.8, as a dual-stack socket, DNS64 on an IPv6-only server, or 6to4 writes it.
    for address in ("8.8.8.8", "::ffff:808:808", "64:ff9b::808:808", "2002:808:808::1"):
        assert calendar_feeds.allowed_ip(address), address
    for address in ("::ffff:a00:1", "64:ff9b::a00:1", "2002:a00:1::1", "2002:c0a8:101::1"):
        assert not calendar_feeds.allowed_ip(address), address


def test_too_many_redirects_are_refused(server):
    for n in range(5):
        server.serve(f"/r{n}", b"", status=302, Location=f"/r{n + 1}")
    server.serve("/r5", EMPTY)
    with pytest.raises(FeedError, match="redirects too many times"):
        fetch(server.url("/r0"))
    assert fetch(server.url("/r2")) == EMPTY  # three redirects are fine


@pytest.mark.parametrize(
    "address",
    [
        "http://calendar.example.org/ana.ics",
        "ftp://calendar.example.org/ana.ics",
        "file:///etc/passwd",
    ],
)
def test_plain_http_and_other_schemes_are_refused(address):
    with pytest.raises(FeedError, match="https"):
        fetch(address)


def test_loopback_is_refused_unless_the_test_setting_allows_it(server, settings):
    url = server.serve("/ana.ics", EMPTY)
    settings.CALENDAR_FEEDS_ALLOW_LOOPBACK = False
    with pytest.raises(FeedError, match="https"):
        fetch(url)
    for address in (url.replace("http://", "https://"), "https://[::1]:1/", "https://localhost/"):
        with pytest.raises(FeedError, match="private or local network"):
            fetch(address)
    assert server.requests == []


# --- Storing, and what patrons and staff see -----------------------------------------------


def test_busy_times_hide_open_times_and_free_ones_stay_offered(server, ana, topic):
    connect(ana, server.serve("/ana.ics", ics("outlook.ics")))
    assert refresh_feed(ana.busy_calendar, now=NOW) == "changed"
    assert (10, 0) not in starts_on(topic, date(2027, 11, 2))  # busy 10 to 11
    assert (11, 0) in starts_on(topic, date(2027, 11, 2))
    assert {(14, 0), (13, 30)} & starts_on(topic, date(2027, 11, 2)) == set()  # tentative
    assert (14, 0) in starts_on(topic, date(2027, 11, 4))  # free
    assert (10, 0) in starts_on(topic, date(2027, 11, 9))  # working elsewhere
    assert (14, 0) in starts_on(topic, date(2027, 11, 9))  # cancelled
    assert starts_on(topic, date(2027, 11, 16))  # a free all-day event
    assert starts_on(topic, date(2027, 11, 18)) == set()  # out of office all day


@pytest.mark.parametrize(
    "name", ["outlook.ics", "recurring.ics", "daylight_saving.ics", "google.ics"]
)
def test_each_feed_read_from_the_server_stores_its_busy_times(server, ana, name):
    refresh_feed(connect(ana, server.serve(f"/{name}", ics(name))), now=NOW)
    stored = list(BusyTime.objects.filter(staff=ana).values_list("starts_at", "ends_at"))
    horizon = calendar_feeds.horizon(NOW)
    assert stored == parse_busy(ics(name), start=horizon[0], end=horizon[1]).busy
    assert stored


def test_the_last_good_busy_times_survive_a_failing_feed(server, ana, topic):
    feed = connect(ana, server.serve("/ana.ics", ics("recurring.ics")))
    refresh_feed(feed, now=NOW)
    kept = list(BusyTime.objects.values_list("starts_at", "ends_at"))
    assert kept

    for failure in [(500, {}, b"oops"), (200, {}, b"<html>maintenance</html>")]:
        server.routes["/ana.ics"] = failure
        assert refresh_feed(feed, now=NOW + timedelta(minutes=5)) == "failed"
    assert list(BusyTime.objects.values_list("starts_at", "ends_at")) == kept
    feed.refresh_from_db()
    assert feed.consecutive_failures == 2
    assert feed.last_success_at == NOW
    assert feed.last_status == "The address did not give a calendar (.ics) file."
    assert (10, 30) not in starts_on(topic, date(2027, 11, 2))


def test_a_calendar_that_comes_back_empty_keeps_its_busy_times_and_warns(
    server, ana, topic, client
):
    ana.user.email = "ana@library.example"
    ana.user.save()
    make_user(groups=["Managers"], email="boss@library.example")
    feed = connect(ana, server.serve("/ana.ics", ics("recurring.ics")))
    refresh_feed(feed, now=NOW)
    kept = list(BusyTime.objects.values_list("starts_at", "ends_at"))
    assert kept

    # Publishing switched to another calendar, with nothing in it: a 200 answer, no events.
    server.serve("/ana.ics", EMPTY)
    feed.refresh_from_db()
    later = NOW + timedelta(minutes=5)
    assert refresh_feed(feed, now=later) == "failed"
    assert list(BusyTime.objects.values_list("starts_at", "ends_at")) == kept
    assert (10, 30) not in starts_on(topic, date(2027, 11, 2))
    feed.refresh_from_db()
    assert feed.consecutive_failures == 1
    assert feed.last_success_at == NOW
    assert feed.last_status.startswith("The calendar came back empty")
    assert [p.code for p in problems(feed, later)] == ["empty"]
    # Said once, not again as "not read since" when it lasts.
    assert [p.code for p in problems(feed, later + timedelta(hours=3))] == ["empty"]

    calendar_feeds.enqueue_warnings(now=later)
    sent = Message.objects.filter(kind=MessageKind.CALENDAR_FEED)
    assert sorted(sent.values_list("to", flat=True)) == [
        "ana@library.example",
        "boss@library.example",
    ]
    assert all("came back empty" in m.body for m in sent.all())
    client.force_login(ana.user)
    assert "came back empty" in client.get(reverse("admin:index")).content.decode()

    # Published again: read as before, and the warning is over.
    server.serve("/ana.ics", ics("recurring.ics"))
    assert refresh_feed(feed, now=later + timedelta(minutes=5)) == "unchanged"
    feed.refresh_from_db()
    assert feed.consecutive_failures == 0
    assert problems(feed, later + timedelta(minutes=5)) == []


def test_a_new_calendar_with_nothing_in_it_yet_is_read(server, ana):
    feed = connect(ana, server.serve("/ana.ics", EMPTY))
    assert refresh_feed(feed, now=NOW) != "failed"
    feed.refresh_from_db()
    assert refresh_feed(feed, now=NOW + timedelta(minutes=5)) == "unchanged"
    feed.refresh_from_db()
    assert (feed.consecutive_failures, feed.last_http_status) == (0, 200)
    assert feed.last_status == "Read: 0 busy times ahead."
    assert problems(feed, NOW + timedelta(minutes=5)) == []
    assert not BusyTime.objects.exists()


def test_an_unchanged_feed_is_not_rewritten(server, ana):
    feed = connect(ana, server.serve("/ana.ics", ics("google.ics")))
    assert refresh_feed(feed, now=NOW) == "changed"
    first_ids = set(BusyTime.objects.values_list("pk", flat=True))
    feed.refresh_from_db()
    assert refresh_feed(feed, now=NOW + timedelta(minutes=5)) == "unchanged"
    assert set(BusyTime.objects.values_list("pk", flat=True)) == first_ids
    feed.refresh_from_db()
    assert feed.content_changed_at == NOW
    assert feed.last_success_at == NOW + timedelta(minutes=5)


def test_a_session_booked_before_a_new_busy_time_shows_as_a_clash(server, ana, topic, branch):
    tuesday = next_weekday(1)
    session = make_appointment(staff=ana, topic=topic, branch=branch, start=local(tuesday, 10))
    refresh_feed(connect(ana, server.serve("/ana.ics", one_event(tuesday, 9, 11))))
    session.refresh_from_db()
    assert session.status == "confirmed"  # not moved
    manager = make_user(groups=["Managers"])
    clashes = booked_clashes(manager)
    assert [(c.pk, c.clash) for c in clashes] == [
        (session.pk, "Booked inside a busy time in Outlook/Google")
    ]
    assert [c.pk for c in booked_clashes(ana.user)] == [session.pk]


@pytest.mark.django_db(transaction=True)
def test_a_booking_rechecks_busy_times(server, ana, topic, branch):
    tuesday = next_weekday(1)
    feed = connect(ana, server.serve("/ana.ics", EMPTY))
    refresh_feed(feed)
    shown = find_open_slots(topic, length=60, first_day=tuesday, last_day=tuesday)
    assert local(tuesday, 10) in {slot.start for slot in shown}
    # The patron reads the page; meanwhile Ana accepts a meeting at 10 in Outlook.
    server.serve("/ana.ics", one_event(tuesday, 10, 11))
    feed.refresh_from_db()
    assert refresh_feed(feed) == "changed"
    with pytest.raises(BookingError) as refused:
        book(topic=topic, branch=branch, start=local(tuesday, 10), staff=ana)
    assert (refused.value.code, refused.value.message) == ("taken", SLOT_TAKEN)
    assert book(topic=topic, branch=branch, start=local(tuesday, 11), staff=ana)


@pytest.mark.django_db(transaction=True)
def test_a_refresh_that_changes_busy_times_forgets_the_cached_open_times(
    server, ana, topic, branch, client
):
    tuesday = next_weekday(1)
    feed = connect(ana, server.serve("/ana.ics", EMPTY))
    refresh_feed(feed)
    times = TopicTimes(topic)
    wanted = {"length": 60, "first_day": tuesday, "last_day": tuesday, "branch": None}
    assert local(tuesday, 10) in {s.start for s in times.open_slots(staff=None, **wanted)}
    assert cache.get(version_key(topic.pk)) is not None

    server.serve("/ana.ics", one_event(tuesday, 10, 11))
    feed.refresh_from_db()
    refresh_feed(feed)
    assert cache.get(version_key(topic.pk)) is None
    starts = {s.start for s in TopicTimes(topic).open_slots(staff=None, **wanted)}
    assert local(tuesday, 10) not in starts and local(tuesday, 11) in starts

    # The patron's time page says the same.
    need = {"skill_level": "new", "learning_goal": "Send photos to my grandson", "party_size": 1}
    client.post(reverse("appointments:need", args=[topic.slug]), need)
    page = client.get(
        reverse("appointments:time", args=[topic.slug]), {"week": tuesday.isoformat()}
    ).content.decode()
    offered = {
        int(epoch) for epoch in re.findall(r'name="slot" id="[^"]+" value="\d+-\d+-(\d+)"', page)
    }
    assert int(local(tuesday, 11).timestamp()) in offered
    assert int(local(tuesday, 10).timestamp()) not in offered


# --- Health and warnings -------------------------------------------------------------------


def test_a_feed_that_answers_404_warns_the_staff_member_and_managers_once(server, ana, client):
    ana.user.email = "ana@library.example"
    ana.user.save()
    manager = make_user(groups=["Managers"], email="boss@library.example")
    make_user(groups=["Librarians"], email="colleague@library.example")
    feed = connect(ana, server.serve("/ana.ics", b"", status=404))
    calendar_feeds.refresh_due()
    feed.refresh_from_db()
    assert feed.last_http_status == 404
    assert [p.code for p in problems(feed, feed.last_refreshed_at)] == ["gone"]

    sent = Message.objects.filter(kind=MessageKind.CALENDAR_FEED)
    assert sorted(sent.values_list("to", flat=True)) == [
        "ana@library.example",
        "boss@library.example",
    ]
    assert all("publishing was turned off or the link was reset" in m.body for m in sent.all())
    assert all(feed.address not in m.body for m in sent.all())
    calendar_feeds.refresh_due(every_feed=True)
    assert sent.count() == 2  # once per problem, not once per pass
    # Published again: the problem is over. If it comes back, they hear of it again.
    server.serve("/ana.ics", EMPTY)
    calendar_feeds.refresh_due(every_feed=True)
    assert sent.count() == 2
    server.serve("/ana.ics", b"", status=404)
    calendar_feeds.refresh_due(every_feed=True)
    assert sent.count() == 4

    client.force_login(ana.user)
    home = client.get(reverse("admin:index")).content.decode()
    assert "publishing was turned off or the link was reset" in home
    assert feed.address not in home
    client.force_login(manager)
    assert "Ana P." in client.get(reverse("admin:index")).content.decode()


def test_a_frozen_clock_raises_the_stale_warning(server, ana):
    feed = connect(ana, server.serve("/ana.ics", ics("google.ics")))
    refresh_feed(feed, now=NOW)
    feed.refresh_from_db()
    assert "stale" not in [p.code for p in problems(feed, NOW + timedelta(hours=1))]
    server.routes["/ana.ics"] = (500, {}, b"")
    refresh_feed(feed, now=NOW + timedelta(hours=2, minutes=30))
    feed.refresh_from_db()
    stale = [p for p in problems(feed, NOW + timedelta(hours=2, minutes=30)) if p.code == "stale"]
    assert len(stale) == 1
    assert "answered 500" in stale[0].words


def test_a_feed_unchanged_for_two_weeks_or_ending_early_warns(server, ana):
    feed = connect(ana, server.serve("/ana.ics", ics("outlook.ics")))
    refresh_feed(feed, now=NOW)
    feed.refresh_from_db()
    # Its events end on 19 November, long before patrons stop booking (24 December).
    assert [p.code for p in problems(feed, NOW)] == ["ends_early"]
    later = NOW + timedelta(days=15)
    refresh_feed(feed, now=later)
    feed.refresh_from_db()
    assert "unchanged" in [p.code for p in problems(feed, later)]

    server.serve("/ana.ics", ics("recurring.ics"))  # weekly meetings with no end
    refresh_feed(feed, now=later)
    feed.refresh_from_db()
    assert problems(feed, later) == []


# --- Running it ----------------------------------------------------------------------------


def test_only_one_process_refreshes_at_a_time(server, ana):
    connect(ana, server.serve("/ana.ics", EMPTY))
    with connect_directly() as other_process:
        other_process.execute("SELECT pg_advisory_lock(%s, 0)", [int(locks.LockSpace.CALENDARS)])
        assert calendar_feeds.refresh_due() is None
        other_process.execute("SELECT pg_advisory_unlock(%s, 0)", [int(locks.LockSpace.CALENDARS)])
    assert calendar_feeds.refresh_due() == {"changed": 1, "unchanged": 0, "failed": 0, "warned": 0}
    # Read a moment ago: not due again until CALENDAR_REFRESH_MINUTES have passed.
    assert calendar_feeds.refresh_due() == {"changed": 0, "unchanged": 0, "failed": 0, "warned": 0}


def test_the_refresh_command_reads_every_feed(server, ana, capsys):
    connect(ana, server.serve("/ana.ics", one_event(next_weekday(1), 10, 11)))
    call_command("refresh_calendars")
    assert BusyTime.objects.filter(staff=ana).count() == 1
    assert "1 changed" in capsys.readouterr().out


# --- The staff page where the address is pasted --------------------------------------------


def _form_data(response) -> dict:
    """What the browser would send back from the staff page, as it was shown."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            if isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(getattr(v, "pk", v)) for v in value]
            elif value is True:
                data[form.add_prefix(name)] = "on"
            else:
                data[form.add_prefix(name)] = str(getattr(value, "pk", value))
    return data


def _paste(client, staff, address: str):
    url = reverse("admin:appointments_staffprofile_change", args=[staff.pk])
    data = _form_data(client.get(url))
    field = next(name for name in data if name.endswith("-address") and "busy_calendar" in name)
    data[field] = address
    return client.post(url, data)


SECRET = "https://outlook.office365.com/owa/calendar/abc123/secret-part-456/calendar.ics"


def test_a_librarian_pastes_their_own_calendar_address_and_never_sees_it_again(client, ana):
    client.force_login(ana.user)
    response = _paste(client, ana, SECRET.replace("https://", "webcal://"))
    assert response.status_code == 302, response.context["inline_admin_formsets"]
    assert CalendarFeed.objects.get(staff=ana).address == SECRET
    page = client.get(reverse("admin:appointments_staffprofile_change", args=[ana.pk]))
    html = page.content.decode()
    assert "secret-part-456" not in html
    assert "https://outlook.office365.com/…" in html
    # Saving the page again with the box left empty keeps the address.
    assert client.post(page.request["PATH_INFO"], _form_data(page)).status_code == 302
    assert CalendarFeed.objects.get(staff=ana).address == SECRET


def test_a_plain_http_address_is_refused_in_the_form(client, ana):
    client.force_login(ana.user)
    response = _paste(client, ana, "http://calendar.example.org/ana.ics")
    assert response.status_code == 200
    assert "Only https addresses are accepted" in response.content.decode()
    assert not CalendarFeed.objects.exists()


def test_a_manager_pastes_it_for_a_staff_member_and_colleagues_see_nothing_of_it(
    client, ana, branch
):
    client.force_login(make_user(groups=["Managers"]))
    assert _paste(client, ana, SECRET).status_code == 302
    assert CalendarFeed.objects.get(staff=ana).address == SECRET
    desk = make_user(groups=["Desk"])
    client.force_login(desk)
    html = client.get(reverse("admin:appointments_staffprofile_change", args=[ana.pk]))
    assert "outlook.office365.com" not in html.content.decode()


def test_the_staff_calendar_shows_busy_times_without_details(server, client, ana, topic, branch):
    tuesday = next_weekday(1)
    make_appointment(staff=ana, topic=topic, branch=branch, start=local(tuesday, 10))
    feed = connect(ana, server.serve("/ana.ics", feed_of((tuesday, 13, 14), (tuesday, 10, 11))))
    refresh_feed(feed)
    client.force_login(ana.user)
    url = reverse("admin:appointments_calendar")
    html = client.get(url, {"view": "day", "date": tuesday.isoformat()}).content.decode()
    assert "Busy in Outlook/Google" in html
    assert "Booked inside a busy time in Outlook/Google" in html  # the session at 10
    assert "Private meeting" not in html


def test_removing_the_calendar_frees_its_busy_times(server, client, ana):
    refresh_feed(connect(ana, server.serve("/ana.ics", one_event(next_weekday(1), 10, 11))))
    assert BusyTime.objects.filter(staff=ana).exists()
    client.force_login(ana.user)
    url = reverse("admin:appointments_staffprofile_change", args=[ana.pk])
    data = _form_data(client.get(url))
    data["busy_calendar-0-DELETE"] = "on"
    assert client.post(url, data).status_code == 302
    assert not CalendarFeed.objects.exists()
    assert not BusyTime.objects.exists()


def test_the_worker_reads_a_share_of_the_feeds_each_minute(server, branch, topic, settings):
    settings.CALENDAR_REFRESH_MINUTES = 3
    for n in range(5):
        staff = make_staff(f"Staff {n}", branch=branch, topics=[topic])
        connect(staff, server.serve(f"/{n}.ics", EMPTY))
    # Five feeds shared over the first two minutes, and one to spare: four a minute.
    assert worker.housekeeping()["calendar_feeds_failed"] == 0
    assert CalendarFeed.objects.filter(last_refreshed_at__isnull=False).count() == 4
    server.routes.clear()  # now every address answers 404
    assert worker.housekeeping()["calendar_feeds_failed"] == 1
    assert CalendarFeed.objects.filter(last_refreshed_at__isnull=True).count() == 0


def test_the_content_changes_with_the_events_not_with_the_time_of_download():
    again = ics("outlook.ics").replace(b"DTSTAMP:20271020T120000Z", b"DTSTAMP:20271101T080000Z")
    first = parse_busy(ics("outlook.ics"), start=START, end=END).content_hash
    assert parse_busy(again, start=START, end=END).content_hash == first
    edited = ics("outlook.ics").replace(b"BUSYSTATUS:FREE", b"BUSYSTATUS:BUSY")
    assert parse_busy(edited, start=START, end=END).content_hash != first


def test_a_feed_that_keeps_failing_is_read_less_often(server, ana):
    feed = connect(ana, server.serve("/ana.ics", b"", status=500))
    for _ in range(2):
        refresh_feed(feed, now=NOW)
        feed.refresh_from_db()
    due = calendar_feeds.due_feeds
    assert due(NOW + timedelta(minutes=19)) == []  # 5 minutes, twice doubled
    assert due(NOW + timedelta(minutes=20)) == [feed]
    CalendarFeed.objects.update(consecutive_failures=50)
    assert due(NOW + timedelta(minutes=29)) == []
    assert due(NOW + timedelta(minutes=30)) == [feed]  # never more than six intervals apart


def test_a_calendar_of_only_past_meetings_warns_that_it_ends_early(server, ana):
    # Publishing switched to last year's calendar: it has events, none of them ahead. Without a
    # word, Ana's whole schedule would look free.
    past = feed_of((date(2026, 10, 20), 8, 9), (date(2027, 10, 22), 8, 9))
    parsed = parse_busy(past, start=START, end=END)
    assert (parsed.busy, parsed.data_ends_at) == ([], START)
    feed = connect(ana, server.serve("/ana.ics", past))
    refresh_feed(feed, now=NOW)
    feed.refresh_from_db()
    assert [p.code for p in problems(feed, NOW)] == ["ends_early"]
    # A calendar with nothing in it at all is a new one, and one whose events all come after
    # the window reaches past it: neither is said to end early.
    assert parse_busy(feed_of(), start=START, end=END).data_ends_at is None
    later = feed_of((date(2028, 3, 1), 8, 9))
    assert parse_busy(later, start=START, end=END).data_ends_at is None


def test_years_of_past_meetings_change_nothing():
    past = b"".join(
        b"BEGIN:VEVENT\r\nUID:old-%d\r\nDTSTAMP:20200101T000000Z\r\n"
        b"DTSTART;TZID=Central Standard Time:2021%02d%02dT100000\r\n"
        b"DTEND;TZID=Central Standard Time:2021%02d%02dT110000\r\n"
        b"X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nEND:VEVENT\r\n"
        % (n, n % 12 + 1, n % 28 + 1, n % 12 + 1, n % 28 + 1)
        for n in range(500)
    )
    for name in ("outlook.ics", "recurring.ics", "google.ics", "daylight_saving.ics"):
        plain = parse_busy(ics(name), start=START, end=END)
        with_history = ics(name).replace(b"END:VCALENDAR", past + b"END:VCALENDAR")
        assert parse_busy(with_history, start=START, end=END).busy == plain.busy, name
    # What was shown this morning stays: only what ended two days before is left out.
    morning = feed_of((date(2027, 10, 25), 8, 9), (date(2027, 10, 22), 8, 9))
    assert parse_busy(morning, start=START - timedelta(hours=3), end=END).busy == [
        (chicago(2027, 10, 25, 8), chicago(2027, 10, 25, 9))
    ]


def _custom_zone_feed(offset: str) -> bytes:
    """Outlook's "Customized Time Zone": a zone of its own, defined in the feed."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\n"
        f"DTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20270101T000000Z\r\n"
        "DTSTART;TZID=Customized Time Zone:20271102T100000\r\n"
        "DTEND;TZID=Customized Time Zone:20271102T110000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_two_feeds_with_differently_defined_zones_of_one_name_keep_their_own():
    first = parse_busy(_custom_zone_feed("-0600"), start=START, end=END).busy
    second = parse_busy(_custom_zone_feed("+0100"), start=START, end=END).busy
    assert first == [(datetime(2027, 11, 2, 16, tzinfo=UTC), datetime(2027, 11, 2, 17, tzinfo=UTC))]
    assert second == [(datetime(2027, 11, 2, 9, tzinfo=UTC), datetime(2027, 11, 2, 10, tzinfo=UTC))]
