"""Busy times from each staff member's published Outlook or Google calendar.

A staff member (or a manager for them) pastes the address of their published calendar (an
.ics link: Outlook's "publish calendar", Google's "secret address in iCal format"). The worker
reads every feed every CALENDAR_REFRESH_MINUTES (`refresh_due`, from the worker's housekeeping
or `manage.py refresh_calendars`), keeps only when each staff member is busy (start and end:
no titles, attendees or places), and stores those as BusyTime rows, which hide open times
exactly as blocks do.

Fetching is strict, since the address is typed by a person and read by our server: https only
(plain http only to this machine, and only with CALENDAR_FEEDS_ALLOW_LOOPBACK, for the tests),
connect and read timeouts and a deadline for the whole fetch, a size cap read as a stream, at
most MAX_REDIRECTS redirects each checked like the first address, and no address that
resolves to a private, loopback, link-local, multicast or reserved network. The name is
resolved once, every address it gives is checked, and the connection is made to a checked
address with the name sent as the Host header and for TLS (SNI and the certificate check): a
name that answers differently a moment later (DNS rebinding) cannot steer us elsewhere.

A feed that fails keeps its last good busy times (time is never freed silently: a calendar
that had events and comes back with none at all counts as failing); its health (last success,
failures in a row, what went wrong in words) is kept on CalendarFeed, and the staff member and
managers are warned on the admin home and, once per problem, by email.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import time as clock
import zoneinfo
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import SplitResult, urljoin, urlsplit

import recurring_ical_events
from dateutil.rrule import rrulestr
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from icalendar import Calendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from . import access, locks, messaging, schedule_changes
from .formatting import format_when
from .models import (
    BusyTime,
    CalendarFeed,
    Message,
    MessageChannel,
    MessageKind,
    MessageState,
    StaffProfile,
    Topic,
)

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
# Feeds read at once: fetching waits on the network, so a few threads share one pass.
PARALLEL_FETCHES = 8
# HTTP answers meaning the calendar is no longer published at this address.
GONE_STATUSES = frozenset({401, 403, 404, 410})
# A feed that keeps failing is read at most this many intervals apart (30 minutes by default).
BACKOFF_CAP = 6
STALE_AFTER = timedelta(hours=2)
UNCHANGED_AFTER = timedelta(days=14)
# Nobody's calendar has something every day: a feed whose events stop within a week of the
# booking window's end is taken to reach it.
END_SLACK = timedelta(days=7)
# Our own sessions, added to a staff member's calendar from our feed or an invitation, keep
# our UID: they are sessions here already, not busy time.
OWN_UID_SUFFIX = "@library-help"
# Repeats of recurring events: at most this many in what is read, all events together (each
# becomes an event to read, the costly part; a full calendar has a few thousand)...
MAX_OCCURRENCES = 20_000
# ...and at most this many worked out from each series' first up to the end of what is read,
# all series together: about half a second (a daily meeting kept for twenty years is 7,300).
MAX_REPEATS = 100_000
USER_AGENT = "LibraryHelp-calendar-reader/1.0"


class FeedError(Exception):
    """A feed that could not be read, said in words fit for the staff member (never with the
    address in them); `status` is the HTTP status when the server answered, `code` the
    failure's kind when a warning names it at once (CAME_BACK_EMPTY)."""

    def __init__(self, words: str, status: int | None = None, *, code: str = ""):
        super().__init__(words)
        self.words = words
        self.status = status
        self.code = code


# A feed that had events answered with none at all: the last good busy times are kept.
CAME_BACK_EMPTY = "empty"


# --- Fetching ------------------------------------------------------------------------------


def normalise_address(address: str) -> str:
    """What people paste: Outlook and Apple offer webcal:// links, which are https."""
    address = address.strip()
    if address.lower().startswith("webcal://"):
        address = "https://" + address[len("webcal://") :]
    return address


def _loopback_allowed() -> bool:
    return settings.CALENDAR_FEEDS_ALLOW_LOOPBACK


def check_address(address: str) -> SplitResult:
    """The address split, or FeedError if it may not be read at all (before any lookup)."""
    parts = urlsplit(address)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise FeedError(_("This is not a calendar address: it should start with https://."))
    if parts.username or parts.password:
        raise FeedError(_("Addresses with a user name or password in them are not accepted."))
    try:
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError as error:
        raise FeedError(_("The address has a port that is not a number.")) from error
    if parts.scheme == "http" and not (_loopback_allowed() and _is_loopback_name(parts.hostname)):
        raise FeedError(_("Only https addresses are accepted (this one starts with http://)."))
    return parts


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# NAT64's well-known prefix: 64:ff9b::a.b.c.d is IPv4 address a.b.c.d, reached through a
# translator (an IPv6-only server's DNS64 answers with these).
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# NAT64 prefixes a network chooses for itself (RFC 8215): where the IPv4 address sits depends on
# the prefix length chosen, so it cannot be read, and these are refused outright.
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def allowed_ip(text: str) -> bool:
    """A public address: none in a private, loopback, link-local, multicast, reserved or
    otherwise special network (loopback only when the test setting allows it).

    IPv6 addresses that lead to an IPv4 address are judged by it: IPv4-mapped (::ffff:a.b.c.d)
    and NAT64 (64:ff9b::a.b.c.d) ones are that address; 6to4 (2002::/16) and Teredo
    (2001::/32) tunnel to the IPv4 addresses they carry (Teredo's server and client), which
    must be public as well as the IPv6 address itself (never loopback, whatever the setting)."""
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if ip.version == 6:
        if ip in NAT64_LOCAL:
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        else:
            tunnelled = [ip.sixtofour] if ip.sixtofour else list(ip.teredo or ())
            if not all(_public(inside) for inside in tunnelled):
                return False
    if ip.is_loopback:
        return _loopback_allowed()
    return _public(ip)


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    special = (
        ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (ip.version == 6 and ip.is_site_local)
    )
    return ip.is_global and not special


def checked_addresses(host: str, port: int) -> list[str]:
    """Every address the name resolves to, if all of them may be reached: one bad address
    refuses the name (an attacker's DNS could answer with any of them)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FeedError(_("The calendar's server name could not be found.")) from error
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses or not all(allowed_ip(address) for address in addresses):
        raise FeedError(_("The address leads to a private or local network, which is not allowed."))
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to an address already checked, with the name in the Host header."""

    def __init__(self, host, port, *, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.ip = ip

    def connect(self):
        self.sock = socket.create_connection((self.ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address already checked; the name goes in the Host header, in the TLS
    handshake (SNI) and is what the certificate must prove."""

    def __init__(self, host, port, *, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.ip = ip

    def connect(self):
        sock = socket.create_connection((self.ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _get(parts: SplitResult, deadline: float) -> http.client.HTTPResponse:
    """Send the request to the first checked address that answers."""
    timeout = settings.CALENDAR_FEED_TIMEOUT_SECONDS
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    kind = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_error: Exception | None = None
    for ip in checked_addresses(parts.hostname, port):
        left = deadline - clock.monotonic()
        if left <= 0:
            break
        connection = kind(parts.hostname, port, ip=ip, timeout=min(timeout, left))
        try:
            connection.request(
                "GET",
                target,
                headers={"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"},
            )
            return connection.getresponse()
        except ssl.SSLError as error:
            connection.close()
            raise FeedError(
                _("The calendar's server did not prove who it is (a certificate problem).")
            ) from error
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            connection.close()
            last_error = error
    if isinstance(last_error, TimeoutError) or last_error is None:
        raise FeedError(_("The calendar's server took too long to answer."))
    raise FeedError(_("Could not connect to the calendar's server.")) from last_error


def _read_body(response: http.client.HTTPResponse, deadline: float) -> bytes:
    limit = settings.CALENDAR_FEED_MAX_BYTES
    too_large = FeedError(
        _("The calendar is larger than the limit of %(megabytes)s MB.")
        % {"megabytes": round(limit / 1_000_000, 1)}
    )
    declared = response.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    while True:
        if clock.monotonic() > deadline:
            raise FeedError(_("The calendar's server took too long to answer."))
        chunk = response.read1(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)


def fetch(address: str) -> bytes:
    """The feed's bytes, or FeedError saying in words why not."""
    deadline = clock.monotonic() + 3 * settings.CALENDAR_FEED_TIMEOUT_SECONDS
    current = normalise_address(address)
    for _redirect in range(MAX_REDIRECTS + 1):
        parts = check_address(current)
        response = _get(parts, deadline)
        try:
            status = response.status
            if status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FeedError(_("The calendar's server sent us nowhere."), status)
                current = urljoin(current, location.strip())
                continue
            if status in GONE_STATUSES:
                raise FeedError(
                    _(
                        "The calendar answers %(status)s: publishing was turned off or the "
                        "link was reset."
                    )
                    % {"status": status},
                    status,
                )
            if status != 200:
                raise FeedError(
                    _("The calendar's server answered %(status)s.") % {"status": status}, status
                )
            try:
                return _read_body(response, deadline)
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                raise FeedError(_("The calendar's server took too long to answer.")) from error
        finally:
            response.close()
    raise FeedError(_("The calendar's address redirects too many times."))


# --- Parsing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedFeed:
    busy: list[tuple[datetime, datetime]]
    content_hash: str
    # When the feed's last event ends, if that is before the end of what was read.
    data_ends_at: datetime | None = None

    @property
    def has_events(self) -> bool:
        return self.content_hash != NO_EVENTS


def merge(intervals) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def is_busy(event, *, tentative_blocks: bool) -> bool:
    """Outlook's busy status when there is one (BUSY, OOF, and TENTATIVE if the library says
    so; FREE and WORKINGELSEWHERE stay bookable); otherwise anything not TRANSPARENT.
    Cancelled events never count."""
    status = str(event.get("STATUS", "")).upper()
    if status == "CANCELLED":
        return False
    busy_status = str(event.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper()
    if busy_status:
        return busy_status in ("BUSY", "OOF") or (busy_status == "TENTATIVE" and tentative_blocks)
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    return tentative_blocks or status != "TENTATIVE"


def _aware(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """An event time in UTC. Floating times (no zone, and no X-WR-TIMEZONE: recurring-ical-
    events applies that one) are the library's; Outlook's Windows zone names ("Central
    Standard Time") become their IANA zone, whose rules are right for every year."""
    tz = moment.tzinfo
    if tz is None:
        return moment.replace(tzinfo=zone).astimezone(UTC)
    name = getattr(tz, "_tzid", None) or getattr(tz, "_name", None)
    if name and name in WINDOWS_TO_OLSON:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(WINDOWS_TO_OLSON[name]))
    return moment.astimezone(UTC)


def _interval(event, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    start = event["DTSTART"].dt
    try:
        end = event.end
    except Exception:
        end = start
    if not isinstance(start, datetime):
        # All day: the whole local day (or days) on the library's clock.
        first = start
        last = end if isinstance(end, date) and not isinstance(end, datetime) else start
        if last <= first:
            last = first + timedelta(days=1)
        return (
            datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC),
            datetime.combine(last, time(0), tzinfo=zone).astimezone(UTC),
        )
    if not isinstance(end, datetime):
        end = start
    return _aware(start, zone), _aware(end, zone)


_CONTENT_PROPERTIES = (
    b"UID",
    b"RECURRENCE-ID",
    b"DTSTART",
    b"DTEND",
    b"DURATION",
    b"RRULE",
    b"RDATE",
    b"EXDATE",
    b"STATUS",
    b"TRANSP",
    b"X-MICROSOFT-CDO-BUSYSTATUS",
)
_FOLDED = re.compile(rb"\r?\n[ \t]")
_NAME = re.compile(rb"^([A-Za-z0-9-]+)[;:]")


def _content_hash(data: bytes) -> str:
    """The events as far as busy times go, however far ahead: unlike the busy times read for
    the booking window, it stays the same while nobody changes the calendar (DTSTAMP, which
    Outlook and Google set to the time of each download, is left out). Read from the text:
    a seventh of a feed's parse time when taken from icalendar's objects."""
    events, current, depth = [], None, 0
    for line in _FOLDED.sub(b"", data).splitlines():
        upper = line.upper()
        if upper == b"BEGIN:VEVENT":
            current, depth = [], 1
        elif current is not None and upper.startswith(b"BEGIN:"):
            depth += 1
        elif current is not None and upper.startswith(b"END:"):
            depth -= 1
            if depth == 0:
                events.append(b"\n".join(sorted(current)))
                current = None
        elif current is not None and depth == 1:
            name = _NAME.match(line)
            if name and name.group(1).upper() in _CONTENT_PROPERTIES:
                current.append(line)
    return hashlib.sha256(b"\n\n".join(sorted(events))).hexdigest()


# The content hash of a calendar without a single event, however far back or ahead.
NO_EVENTS = _content_hash(b"")


def busy_hash(busy: list[tuple[datetime, datetime]]) -> str:
    text = "\n".join(f"{start.isoformat()}/{end.isoformat()}" for start, end in busy)
    return hashlib.sha256(text.encode()).hexdigest()


_VTIMEZONE = re.compile(rb"BEGIN:VTIMEZONE\r?\n(.*?)END:VTIMEZONE\r?\n", re.DOTALL)
_TZID = re.compile(rb"^TZID:(.+?)\r?$", re.MULTILINE)


def _standard_zones(data: bytes) -> bytes:
    """Time zones as icalendar should read them, for every feed alike.

    Outlook's VTIMEZONE blocks for Windows zone names ("Central Standard Time") are taken out,
    so icalendar uses the IANA zone it maps the name to: their rules start in 1601 and are only
    this year's (dateutil walked them from 1601 for every time it converted: about four fifths
    of the time a feed took), and they would be wrong for other years.

    Any other block whose name is not an IANA zone ("Customized Time Zone") is renamed after
    its content: icalendar keeps the first VTIMEZONE it sees for a name for the whole process,
    so another feed's block of the same name would otherwise decide this feed's times."""
    renames = {}

    def keep(block: re.Match) -> bytes:
        tzid = _TZID.search(block.group(1))
        name = tzid.group(1).strip() if tzid else b""
        text = name.decode(errors="replace")
        if text in WINDOWS_TO_OLSON:
            return b""
        if not name or text in _iana_names():
            return block.group(0)
        unique = name + b" " + hashlib.sha256(block.group(0)).hexdigest()[:12].encode()
        renames[name] = unique
        return block.group(0).replace(b"TZID:" + name, b"TZID:" + unique, 1)

    data = _VTIMEZONE.sub(keep, data)
    for name, unique in renames.items():
        for end in (b":", b";"):
            data = data.replace(b"TZID=" + name + end, b"TZID=" + unique + end)
        data = data.replace(b'TZID="' + name + b'"', b'TZID="' + unique + b'"')
    return data


@functools.cache
def _iana_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


_EVENT = re.compile(rb"^BEGIN:VEVENT\r?\n.*?^END:VEVENT\r?\n?", re.DOTALL | re.MULTILINE)
_RECURRING = re.compile(rb"^(?:RRULE|RDATE|EXRULE|RECURRENCE-ID)[;:]", re.MULTILINE | re.IGNORECASE)
_DTEND = re.compile(rb"^(?:DTEND|DTSTART)[;:](?:[^:\r\n]*:)?(\d{8})", re.MULTILINE | re.IGNORECASE)
_DURATION = re.compile(rb"^DURATION[;:]", re.MULTILINE | re.IGNORECASE)


def _without_past_events(data: bytes, start: datetime) -> bytes:
    """Single events that ended days before `start` taken out before parsing: a published
    calendar holds years of history, and icalendar's parsing costs about half a millisecond an
    event. Anything recurring (or part of a series), with a DURATION, or unclear is kept; so
    are later events (they tell whether the calendar reaches past the booking window)."""
    before = (start - timedelta(days=2)).strftime("%Y%m%d").encode()

    def keep(match: re.Match) -> bytes:
        event = match.group(0)
        if _RECURRING.search(event) or _DURATION.search(event):
            return event
        dates = _DTEND.findall(_FOLDED.sub(b"", event))
        return b"" if dates and max(dates) < before else event

    return _EVENT.sub(keep, data)


def _walk_repeats(
    calendar: Calendar, start: datetime, end: datetime, zone: zoneinfo.ZoneInfo
) -> bool:
    """FeedError if the recurring events repeat too often to be read; otherwise whether any
    of them repeats after `end`.

    recurring-ical-events has dateutil work out each series' repeats between two times as one
    list, from the series' first one on: an event that repeats every minute or second
    (FREQ=MINUTELY or SECONDLY, or long BYMINUTE and BYSECOND lists) would mean millions of
    them, minutes of work and gigabytes, while the worker's messages wait. Here each rule's
    repeats are walked one at a time, and counted, before that. Times are compared without
    their zones, with a day to spare either side: this is a count, not the busy times."""
    first = (start.astimezone(zone) - timedelta(days=1)).replace(tzinfo=None)
    last = (end.astimezone(zone) + timedelta(days=1)).replace(tzinfo=None)
    worked = inside = 0
    continues = False
    for event in calendar.walk("VEVENT"):
        rules = event.get("RRULE")
        if rules is None or "DTSTART" not in event:
            continue
        begins = event["DTSTART"].dt
        if not isinstance(begins, datetime):
            begins = datetime.combine(begins, time(0))
        for rule in rules if isinstance(rules, list) else [rules]:
            try:
                repeats = rrulestr(
                    rule.to_ical().decode(), dtstart=begins.replace(tzinfo=None), ignoretz=True
                )
            except (ValueError, TypeError, OverflowError):
                continue  # a broken rule: recurring-ical-events leaves its series out
            for moment in repeats:
                if moment > last:
                    continues = True
                    break
                worked += 1
                inside += moment >= first
                if worked > MAX_REPEATS or inside > MAX_OCCURRENCES:
                    raise FeedError(
                        _(
                            "Too many repeating events to read: an event in the calendar may "
                            "repeat every minute or every second."
                        )
                    )
    return continues


def parse_busy(
    data: bytes,
    *,
    start: datetime,
    end: datetime,
    zone: zoneinfo.ZoneInfo | None = None,
    tentative_blocks: bool | None = None,
) -> ParsedFeed:
    """The busy intervals (UTC, merged) of an .ics feed between `start` and `end`."""
    zone = zone or zoneinfo.ZoneInfo(settings.TIME_ZONE)
    if tentative_blocks is None:
        tentative_blocks = settings.CALENDAR_TENTATIVE_BLOCKS
    try:
        calendar = Calendar.from_ical(_without_past_events(_standard_zones(data), start))
    except Exception as error:
        raise FeedError(_("The address did not give a calendar (.ics) file.")) from error
    if getattr(calendar, "name", "") != "VCALENDAR":
        raise FeedError(_("The address did not give a calendar (.ics) file."))
    try:
        repeats_later = _walk_repeats(calendar, start, end, zone)
        query = recurring_ical_events.of(calendar, skip_bad_series=True)
        busy, last_end = [], None
        for event in query.between(start, end):
            interval = _interval(event, zone)
            last_end = max(last_end or interval[1], interval[1])
            if str(event.get("UID", "")).endswith(OWN_UID_SUFFIX):
                continue
            if is_busy(event, tentative_blocks=tentative_blocks) and interval[1] > interval[0]:
                busy.append(interval)
        data_ends_at = None
        content = _content_hash(data)
        # Only past events (publishing switched to an old calendar, or a range that has run
        # out) end where the reading starts; a calendar with no events at all is a new one.
        ends = last_end if last_end is not None else (start if content != NO_EVENTS else None)
        if ends is not None and ends < end - END_SLACK:
            # Nothing in the last week read: is there anything later at all? (A series that
            # repeats later is: looking for it could mean working out a year of its repeats.)
            later = repeats_later or next(iter(query.after(end)), None) is not None
            data_ends_at = None if later else ends
    except FeedError:
        raise
    except Exception as error:
        raise FeedError(
            _("The calendar could not be read (%(problem)s).") % {"problem": type(error).__name__}
        ) from error
    return ParsedFeed(merge(busy), content, data_ends_at)


# --- Refreshing ----------------------------------------------------------------------------


def window_days() -> int:
    """The furthest any topic may be booked ahead."""
    longest = Topic.objects.aggregate(longest=Max("booking_window_days"))["longest"] or 0
    return max(settings.BOOKING_WINDOW_DAYS, longest)


def horizon(now: datetime, days: int | None = None) -> tuple[datetime, datetime]:
    """What is read of each feed: from the start of today (the library's clock), so today's
    calendar shows the morning's meetings too, to a day past the furthest booking window."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time(0), tzinfo=zone).astimezone(UTC)
    return start, now + timedelta(days=(window_days() if days is None else days) + 1)


def _read(address: str, start: datetime, end: datetime) -> ParsedFeed:
    return parse_busy(fetch(address), start=start, end=end)


def refresh_feeds(feeds: list[CalendarFeed], *, now: datetime | None = None) -> dict[str, int]:
    """Read these feeds (a few at once), then store each one's outcome. No transaction is
    open while the network is waited on; each feed's busy times are replaced in one."""
    now = now or timezone.now()
    counts = {"changed": 0, "unchanged": 0, "failed": 0}
    if not feeds:
        return counts
    start, end = horizon(now)
    timeout = settings.CALENDAR_FEED_TIMEOUT_SECONDS
    rounds = -(-len(feeds) // PARALLEL_FETCHES)
    pool = ThreadPoolExecutor(max_workers=min(PARALLEL_FETCHES, len(feeds)))
    try:
        futures = [pool.submit(_read, feed.address, start, end) for feed in feeds]
        # Each fetch keeps its own deadline; this one also covers a name lookup that hangs.
        wait(futures, timeout=rounds * 4 * timeout + 5)
        for feed, future in zip(feeds, futures, strict=True):
            if not future.done():
                outcome = _failed(feed, FeedError(_("The calendar took too long to read.")), now)
            elif isinstance(future.exception(), FeedError):
                outcome = _failed(feed, future.exception(), now)
            elif future.exception() is not None:
                error = future.exception()
                logger.error(
                    "Calendar feed of staff member %s: unexpected %s",
                    feed.staff_id,
                    type(error).__name__,
                )
                outcome = _failed(
                    feed, FeedError(_("The calendar could not be read (an error here).")), now
                )
            else:
                try:
                    outcome = store(feed, future.result(), now)
                except FeedError as error:
                    outcome = _failed(feed, error, now)
            counts[outcome] += 1
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return counts


def refresh_feed(feed: CalendarFeed, *, now: datetime | None = None) -> str:
    """Read one feed now: "changed", "unchanged" or "failed"."""
    counts = refresh_feeds([feed], now=now)
    return next(outcome for outcome, count in counts.items() if count)


def _failed(feed: CalendarFeed, error: FeedError, now: datetime) -> str:
    """Keep the last good busy times; count the failure and say what went wrong."""
    logger.warning("Calendar feed of staff member %s failed: %s", feed.staff_id, error.words)
    CalendarFeed.objects.filter(pk=feed.pk, address=feed.address).update(
        last_refreshed_at=now,
        consecutive_failures=F("consecutive_failures") + 1,
        failing_since=Coalesce(F("failing_since"), now),
        last_status=error.words[:300],
        last_http_status=error.status,
        failure_code=error.code,
    )
    return "failed"


@transaction.atomic
def store(feed: CalendarFeed, parsed: ParsedFeed, now: datetime) -> str:
    """Replace the staff member's busy times with these, in one transaction, if they changed.

    The staff member's row is locked first, as booking locks it before its re-check: a booking
    either commits before the new busy times or sees them.

    FeedError (CAME_BACK_EMPTY) if the calendar had events at its last good read and has none
    at all now: publishing switched to another, empty calendar would otherwise free the staff
    member's whole calendar without a word. A calendar that never had any (a new one) is
    fine, and so is an empty one at a newly pasted address (which forgets the content)."""
    StaffProfile.objects.select_for_update().filter(pk=feed.staff_id).exists()
    current = CalendarFeed.objects.select_for_update().filter(pk=feed.pk).first()
    if current is None or current.address != feed.address:
        return "unchanged"  # removed or replaced while it was read: the new one is read next
    if not parsed.has_events and current.content_hash not in ("", NO_EVENTS):
        raise FeedError(
            _(
                "The calendar came back empty: publishing may have been switched to another "
                "calendar."
            ),
            200,
            code=CAME_BACK_EMPTY,
        )
    new_hash = busy_hash(parsed.busy)
    changed = new_hash != current.busy_hash
    if changed:
        BusyTime.objects.filter(staff_id=feed.staff_id).delete()
        BusyTime.objects.bulk_create(
            BusyTime(staff_id=feed.staff_id, starts_at=start, ends_at=end)
            for start, end in parsed.busy
        )
        schedule_changes.staff_changed([feed.staff_id])
    content_changed = parsed.content_hash != current.content_hash
    CalendarFeed.objects.filter(pk=feed.pk).update(
        last_refreshed_at=now,
        last_success_at=now,
        consecutive_failures=0,
        failing_since=None,
        last_status=ngettext(
            "Read: %(count)s busy time ahead.",
            "Read: %(count)s busy times ahead.",
            len(parsed.busy),
        )
        % {"count": len(parsed.busy)},
        last_http_status=200,
        failure_code="",
        busy_hash=new_hash,
        content_hash=parsed.content_hash,
        content_changed_at=now if content_changed else current.content_changed_at,
        data_ends_at=parsed.data_ends_at,
    )
    return "changed" if changed else "unchanged"


def remove_feed(feed: CalendarFeed) -> None:
    """The staff member no longer shares a calendar: its busy times go with it."""
    with transaction.atomic():
        StaffProfile.objects.select_for_update().filter(pk=feed.staff_id).exists()
        BusyTime.objects.filter(staff_id=feed.staff_id).delete()
        feed.delete()
        schedule_changes.staff_changed([feed.staff_id])


def live_feeds():
    """Feeds of staff members whose accounts are active: the others are neither read nor
    warned about (their busy times stay, for the sessions they still have)."""
    return CalendarFeed.objects.filter(staff__user__is_active=True)


def due_feeds(now: datetime) -> list[CalendarFeed]:
    """Feeds not read for CALENDAR_REFRESH_MINUTES, the longest unread first. One that keeps
    failing waits longer each time (twice, four times... at most BACKOFF_CAP times the
    interval): a dead calendar server costs a fetch's timeout, and the worker's messages wait
    meanwhile."""
    every = timedelta(minutes=settings.CALENDAR_REFRESH_MINUTES)
    feeds = (
        live_feeds()
        .filter(Q(last_refreshed_at__isnull=True) | Q(last_refreshed_at__lte=now - every))
        .select_related("staff")
        .order_by(F("last_refreshed_at").asc(nulls_first=True), "pk")
    )
    return [
        feed
        for feed in feeds
        if feed.last_refreshed_at is None
        or now - feed.last_refreshed_at
        >= every * min(2 ** min(feed.consecutive_failures, 10), BACKOFF_CAP)
    ]


def refresh_due(
    *, now: datetime | None = None, every_feed: bool = False, spread: bool = False
) -> dict | None:
    """One refresh pass: the feeds not read for CALENDAR_REFRESH_MINUTES (or `every_feed`),
    then warnings mailed for new problems. None when another process is at it (the
    CALENDARS lock is held for this connection while the pass runs).

    `spread` (the worker, which calls this every minute): only a share of the feeds, the
    longest unread first, so that each minute's pass is short (reading a feed costs about a
    third of a second of CPU; messages wait meanwhile) and all are read within the interval."""
    if not locks.hold(locks.LockSpace.CALENDARS):
        return None
    try:
        now = now or timezone.now()
        feeds = list(live_feeds().select_related("staff")) if every_feed else due_feeds(now)
        if spread and not every_feed:
            total = live_feeds().count()
            feeds = feeds[: -(-total // max(1, settings.CALENDAR_REFRESH_MINUTES - 1)) + 1]
        counts = refresh_feeds(feeds, now=now)
        counts["warned"] = enqueue_warnings(now=now)
        return counts
    finally:
        locks.let_go(locks.LockSpace.CALENDARS)


# --- Health and warnings -------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    code: str  # gone, empty, stale, unchanged, ends_early
    words: str


def problems(feed: CalendarFeed, now: datetime, *, days: int | None = None) -> list[Problem]:
    """What is wrong with a feed, in words for the staff member and managers."""
    found = []
    gone = feed.consecutive_failures and feed.last_http_status in GONE_STATUSES
    if gone:
        found.append(
            Problem(
                "gone",
                _(
                    "The calendar answers %(status)s: publishing was turned off or the link "
                    "was reset. Publish it again and paste the new address."
                )
                % {"status": feed.last_http_status},
            )
        )
    empty = feed.consecutive_failures and feed.failure_code == CAME_BACK_EMPTY
    if empty:
        found.append(
            Problem(
                CAME_BACK_EMPTY,
                _(
                    "The calendar came back empty, though it had events before: publishing may "
                    "have been switched to another calendar. Publish the calendar in use and "
                    "paste its address."
                ),
            )
        )
    last = max(filter(None, [feed.last_success_at, feed.address_set_at]))
    if not (gone or empty) and last and now - last > STALE_AFTER:
        if feed.last_success_at:
            words = _("Not read since %(when)s. Last try: %(status)s") % {
                "when": format_when(timezone.localtime(feed.last_success_at)),
                "status": feed.last_status or _("not tried yet."),
            }
        else:
            words = _("Never read successfully. Last try: %(status)s") % {
                "status": feed.last_status or _("not tried yet.")
            }
        found.append(Problem("stale", words))
    if feed.content_changed_at and now - feed.content_changed_at > UNCHANGED_AFTER:
        found.append(
            Problem(
                "unchanged",
                _(
                    "Nothing in the calendar has changed since %(when)s: if it is still in use, "
                    "publishing may have stopped. Publish it again and paste the new address."
                )
                % {"when": format_when(timezone.localtime(feed.content_changed_at))},
            )
        )
    window_end = now + timedelta(days=window_days() if days is None else days)
    if feed.data_ends_at and feed.data_ends_at < window_end - END_SLACK:
        found.append(
            Problem(
                "ends_early",
                _(
                    "The calendar shows nothing after %(when)s, but patrons can book until "
                    "%(end)s: publish the whole calendar, not a limited range."
                )
                % {
                    "when": format_when(timezone.localtime(feed.data_ends_at)),
                    "end": format_when(timezone.localtime(window_end)),
                },
            )
        )
    return found


def feed_warnings(user, now: datetime | None = None) -> list[dict]:
    """For the admin home: the feeds with problems that this user looks after (their own;
    managers, everyone's)."""
    now = now or timezone.now()
    feeds = access.calendar_feeds_looked_after(user, live_feeds().select_related("staff"))
    days = window_days()
    found = []
    for feed in feeds.order_by("staff__public_name"):
        feed_problems = problems(feed, now, days=days)
        if feed_problems:
            found.append({"feed": feed, "staff": feed.staff, "problems": feed_problems})
    return found


def enqueue_warnings(*, now: datetime | None = None) -> int:
    """An email to the staff member and to each manager when a problem with a feed begins.

    Each feed remembers the problems it was warned about and since when (`warned`): a problem
    that lasts is mailed once, and again only if it goes away and comes back. The worker sends
    the messages (their key is unique, so a repeated pass writes nothing twice)."""
    now = now or timezone.now()
    feeds = list(live_feeds().select_related("staff__user"))
    if not feeds:
        return 0
    days = window_days()
    managers = None
    messages = []
    site = settings.SITE_URL.rstrip("/")
    with transaction.atomic():
        for feed in feeds:
            current = {problem.code: problem for problem in problems(feed, now, days=days)}
            warned = {code: since for code, since in feed.warned.items() if code in current}
            new = [problem for code, problem in current.items() if code not in warned]
            warned |= {problem.code: int(now.timestamp() * 1_000_000) for problem in new}
            if warned != feed.warned:
                CalendarFeed.objects.filter(pk=feed.pk).update(warned=warned)
            if not new:
                continue
            if managers is None:
                managers = list(access.managers().exclude(email=""))
            people = {user.pk: user for user in managers}
            owner = feed.staff.user
            if owner.email:
                people[owner.pk] = owner
            link = site + reverse("admin:appointments_staffprofile_change", args=[feed.staff_id])
            for problem in new:
                for user in people.values():
                    messages.append(
                        Message(
                            kind=MessageKind.CALENDAR_FEED,
                            channel=MessageChannel.EMAIL,
                            staff_user=user,
                            to=user.email,
                            subject=_("Calendar of %(name)s needs attention")
                            % {"name": feed.staff.public_name},
                            body=_warning_body(feed, problem, link, own=user.pk == owner.pk),
                            state=MessageState.PENDING,
                            key=(
                                f"calendar-feed:{feed.pk}:{problem.code}:"
                                f"{warned[problem.code]}:{user.pk}"
                            ),
                            send_after=now,
                        )
                    )
        messaging.save_new(messages)
    return len(messages)


def _warning_body(feed: CalendarFeed, problem: Problem, link: str, *, own: bool) -> str:
    whose = (
        _("your calendar")
        if own
        else _("the calendar of %(name)s") % {"name": feed.staff.public_name}
    )
    return _(
        "Library Help reads %(whose)s to keep patrons from booking busy times.\n\n"
        "%(problem)s\n\n"
        "Busy times already read are kept meanwhile, so no time is freed by mistake, "
        "but new meetings are not seen until this is fixed.\n\n"
        "Staff page: %(link)s\n"
    ) % {"whose": whose, "problem": problem.words, "link": link}
