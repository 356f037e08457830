"""The manager's reports: every figure on a small month worked out by hand, the periods and
filters in the address, bad input, the CSV files, the query count and who may see them.

March 2026 at two branches, Central (Chicago) and Eastside (New York):

| #  | day, local time    | where   | who | topic  | length | status      | party | lead  |
|----|--------------------|---------|-----|--------|--------|-------------|-------|-------|
| 1  | Tue 3 Mar, 10:00   | Central | Ana | basics | 60     | attended    | 2     | 7 d   |
| 2  | Thu 5 Mar, 14:00   | Central | Ana | basics | 30     | attended    | 1     | 1 d   |
| 3  | Tue 10 Mar, 10:00  | Central | Ana | basics | 60     | did not come| 1     | 3 d   |
| 4  | Thu 12 Mar, 10:00  | Central | Ana | basics | 60     | cancelled by the patron        |
| 5  | Tue 17 Mar, 10:00  | Central | Ana | basics | 60     | cancelled for a closure        |
| 6  | Thu 19 Mar, 09:00  | Eastside| Ben | jobs   | 45     | attended    | 3     | 5 d   |
| 7  | Tue 24 Mar, 10:00  | Eastside| Ben | jobs   | 60     | cancelled by the library       |
| 8  | Tue 31 Mar, 23:30  | Central | Ana | basics | 60     | still booked| 1     | 1 d   |

Session 8 is 1 April in UTC: it belongs to March on the branch's clock. One session on 28
February and one on 2 April fall outside. Walk-ins: 20 minutes at Central on 3 March at 11:00
(recorded by Ana), 33 minutes at Eastside on 19 March at 10:00 (recorded by the desk, which has
no staff profile).
"""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from appointments.models import (
    Appointment,
    Branch,
    CancelledBy,
    Feedback,
    StaffProfile,
    Status,
    Topic,
    WaitlistEntry,
    WaitlistState,
    WalkIn,
)
from appointments.report_views import safe_cell
from appointments.reports import ReportScope, Table, build_report, preset_range, quartiles

from .factories import make_appointment, make_branch, make_patron, make_staff, make_topic, make_user

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


class March:
    def __init__(self):
        self.central = make_branch("Central Library")
        self.eastside = make_branch("Eastside", tz="America/New_York")
        self.basics = make_topic("Computer basics")
        self.jobs = make_topic("Job search")
        self.ana = make_staff("Ana P.", branch=self.central, topics=[self.basics])
        self.ben = make_staff("Ben K.", branch=self.eastside, topics=[self.jobs])
        self.desk = make_user(groups=("Desk",))
        self.manager = make_user(groups=("Managers",))
        central = {"branch": self.central, "staff": self.ana, "topic": self.basics}
        eastside = {"branch": self.eastside, "staff": self.ben, "topic": self.jobs}
        self.sessions = [
            self.session(central, (3, 10), 60, Status.ATTENDED, "new", 2, 7, True, "online"),
            self.session(central, (5, 14), 30, Status.ATTENDED, "some", 1, 1, False, "phone"),
            self.session(central, (10, 10), 60, Status.NO_SHOW, "new", 1, 3, True, "desk"),
            self.session(central, (12, 10), 60, Status.CANCELLED, "some", 1, 11, True, "online"),
            self.session(central, (17, 10), 60, Status.CANCELLED, "some", 1, 2, False, "online"),
            self.session(eastside, (19, 9), 45, Status.ATTENDED, "confident", 3, 5, True, "online"),
            self.session(
                eastside, (24, 10), 60, Status.CANCELLED, "confident", 1, 4, True, "online"
            ),
            self.session(
                central, (31, 23, 30), 60, Status.CONFIRMED, "some", 1, 1, False, "online"
            ),
        ]
        for number, by in (
            (4, CancelledBy.PATRON),
            (5, CancelledBy.CLOSURE),
            (7, CancelledBy.LIBRARY),
        ):
            Appointment.objects.filter(pk=self.sessions[number - 1].pk).update(cancelled_by=by)
        # Outside March on either side.
        self.session(central, (-1, 10), 60, Status.ATTENDED, "new", 1, 1, True, "online")
        self.session(central, (33, 10), 60, Status.ATTENDED, "new", 1, 1, False, "online")
        self.walk_in(self.central, self.basics, 20, "new", (3, 11), self.ana.user)
        self.walk_in(self.eastside, self.jobs, 33, "confident", (19, 10), self.desk)
        Feedback.objects.create(appointment=self.sessions[0], helpful=5)
        Feedback.objects.create(appointment=self.sessions[1], helpful=3)
        Feedback.objects.create(appointment=self.sessions[5], helpful=5)
        self.wait(self.central, WaitlistState.BOOKED, offers=2)
        self.wait(self.central, WaitlistState.REMOVED, offers=0)
        self.wait(self.central, WaitlistState.OFFERED, offers=1)
        self.wait(self.eastside, WaitlistState.WAITING, offers=1)

    @staticmethod
    def when(branch: Branch, day_time) -> datetime:
        day, hour, *minute = day_time
        return datetime(2026, 3, 1, hour, *minute, tzinfo=branch.tz) + timedelta(days=day - 1)

    def session(self, where, day_time, minutes, status, skill, party, lead_days, first, channel):
        start = self.when(where["branch"], day_time)
        session = make_appointment(
            start=start,
            minutes=minutes,
            status=status,
            skill_level=skill,
            party_size=party,
            first_booking=first,
            channel=channel,
            contact_method="call" if channel == "phone" else "email",
            **where,
        )
        Appointment.objects.filter(pk=session.pk).update(
            created_at=start - timedelta(days=lead_days)
        )
        return session

    def walk_in(self, branch, topic, minutes, skill, day_time, user):
        walk_in = WalkIn.objects.create(
            branch=branch, topic=topic, minutes=minutes, skill_level=skill, recorded_by=user
        )
        WalkIn.objects.filter(pk=walk_in.pk).update(at=self.when(branch, day_time))

    def wait(self, branch, state, *, offers):
        offer = {}
        if state == WaitlistState.OFFERED:
            offer = {
                "offer_staff": self.ana,
                "offer_starts_at": self.when(branch, (20, 10)),
                "offer_ends_at": self.when(branch, (20, 11)),
            }
        entry = WaitlistEntry.objects.create(
            topic=self.basics if branch == self.central else self.jobs,
            branch=branch,
            patron=make_patron(),
            skill_level="new",
            learning_goal="Email",
            length=60,
            state=state,
            offers_made=offers,
            **offer,
        )
        WaitlistEntry.objects.filter(pk=entry.pk).update(created_at=self.when(branch, (9, 12)))


@pytest.fixture
def march():
    return March()


def report(**filters):
    scope = ReportScope(date(2026, 3, 1), date(2026, 3, 31), **filters)
    return build_report(
        scope,
        branches=list(Branch.objects.all()),
        topics=list(Topic.objects.all()),
        staff=list(StaffProfile.objects.all()),
    )


def rows(table) -> dict:
    return {row[0]: row[1:] for row in table.rows}


def test_the_months_figures_add_up_by_hand(march):
    figures = report().summary
    assert figures["booked"] == 8
    assert figures["attended"] == 3  # 1, 2, 6
    assert figures["no_shows"] == 1  # 3
    assert figures["no_show_rate"] == 25.0  # 1 of the 4 marked
    assert figures["not_marked"] == 1  # 8
    assert figures["cancelled"] == 3
    assert (figures["by_patron"], figures["by_library"], figures["by_closure"]) == (1, 1, 1)
    assert figures["cancelled_unrecorded"] == 0
    assert figures["walk_ins"] == 2
    assert figures["people_helped"] == 8  # 2 + 1 + 3 in sessions, 2 walk-ins
    assert figures["hours"] == 3.1  # 60 + 30 + 45 + 20 + 33 = 188 minutes
    assert (figures["new"], figures["returning"]) == (3, 2)  # 1, 3, 6 and 2, 8
    assert figures["new_unrecorded"] == 0
    # Lead times of the sessions not cancelled: 1, 1, 3, 5, 7 days.
    assert (figures["lead_low"], figures["lead_median"], figures["lead_high"]) == (1.0, 3.0, 5.0)


def test_the_breakdowns_add_up_by_hand(march):
    tables = report().tables
    columns = tables["topics"].columns
    assert columns[1:] == [
        "Sessions booked",
        "Attended",
        "Did not come",
        "No-show rate (%)",
        "Cancelled",
        "Walk-ins",
        "People helped",
        "Hours of staff time",
    ]
    # Booked, attended, did not come, rate, cancelled, walk-ins, people helped, hours.
    assert rows(tables["topics"]) == {
        "Computer basics": [6, 2, 1, 33.3, 2, 1, 4, 1.8],  # 90 + 20 minutes
        "Job search": [2, 1, 0, 0.0, 1, 1, 4, 1.3],  # 45 + 33 minutes
    }
    assert rows(tables["branches"]) == {
        "Central Library": [6, 2, 1, 33.3, 2, 1, 4, 1.8],
        "Eastside": [2, 1, 0, 0.0, 1, 1, 4, 1.3],
    }
    assert rows(tables["staff"]) == {
        "Ana P.": [6, 2, 1, 33.3, 2, 1, 4, 1.8],
        "Ben K.": [2, 1, 0, 0.0, 1, 0, 3, 0.8],
        "Desk (no staff profile)": [0, 0, 0, None, 0, 1, 1, 0.6],
    }
    assert rows(tables["skill-levels"]) == {
        "New to this": [2, 1, 1, 50.0, 0, 1, 3, 1.3],
        "Some experience": [4, 1, 0, 0.0, 2, 0, 1, 0.5],
        "Confident": [2, 1, 0, 0.0, 1, 1, 4, 1.3],
    }
    assert {label: row[0] for label, row in rows(tables["how-booked"]).items()} == {
        "Online": 6,
        "By phone": 1,
        "At the desk": 1,
    }
    assert {label: row[0] for label, row in rows(tables["contact"]).items()} == {
        "Email": 7,
        "Phone call": 1,
    }
    assert rows(tables["cancellations"]) == {
        "The patron": [1],
        "The library": [1],
        "A branch closure": [1],
        "Not recorded (before reports began)": [0],
    }


def test_the_month_the_weekday_grid_the_waiting_list_and_follow_up(march):
    result = report()
    assert rows(result.tables["months"]) == {"March 2026": [8, 3, 1, 25.0, 3, 2, 8, 3.1]}
    # Tuesday 10:00 twice (1, 3), 11:00 (walk-in), 23:00 (8); Thursday 9:00 (6, New York
    # time), 10:00 (walk-in, New York time), 14:00 (2).
    assert result.grid["cells"] == {
        (1, 10): 2,
        (1, 11): 1,
        (1, 23): 1,
        (3, 9): 1,
        (3, 10): 1,
        (3, 14): 1,
    }
    grid = rows(result.tables["weekday-hours"])
    assert grid["Tuesday"][-1] == 4 and grid["Thursday"][-1] == 3 and grid["Monday"][-1] == 0
    assert result.tables["weekday-hours"].columns[1] == "09:00"
    assert rows(result.tables["waiting-list"]) == {
        "Joined the waiting list": [4],
        "Were offered a time": [3],
        "Times offered": [4],
        "Offers taken": [1],
        "Offers that ran out or were withdrawn": [2],  # 4 offers, 1 taken, 1 still open
        "Offers still open": [1],
        "Left the list": [1],
    }
    assert rows(result.tables["follow-up"]) == {
        "5 – It helped a lot": [2],
        "4": [0],
        "3 – It helped a little": [1],
        "2": [0],
        "1 – It did not help": [0],
    }


def test_lead_times_are_counted_to_the_nearest_hour(march):
    # Session 2, booked 1 day 1 hour 15 minutes ahead, counts as 25 hours: the lead times of
    # the sessions not cancelled are then 24, 25, 72, 120 and 168 hours, and the lower
    # quartile is the second of them, 1.04 days (to the minute it would be 1.05, shown 1.1).
    second = march.sessions[1]
    Appointment.objects.filter(pk=second.pk).update(
        created_at=second.starts_at - timedelta(days=1, hours=1, minutes=15)
    )
    figures = report().summary
    assert (figures["lead_low"], figures["lead_median"], figures["lead_high"]) == (1.0, 3.0, 5.0)


def test_a_session_recorded_after_it_began_has_no_lead_time_and_unknown_first_times_are_counted(
    march,
):
    # Session 2 entered by staff two hours after it began; session 8 booked before reports
    # recorded first bookings. Lead times left: 1, 3, 5, 7 days.
    second, eighth = march.sessions[1], march.sessions[7]
    Appointment.objects.filter(pk=second.pk).update(
        created_at=second.starts_at + timedelta(hours=2)
    )
    Appointment.objects.filter(pk=eighth.pk).update(first_booking=None)
    figures = report().summary
    assert (figures["lead_low"], figures["lead_median"], figures["lead_high"]) == (2.5, 4.0, 5.5)
    assert (figures["new"], figures["returning"], figures["new_unrecorded"]) == (3, 1, 1)
    assert rows(report().tables["summary"])[
        "Sessions not cancelled, not known whether first time (before reports began)"
    ] == [1]


@pytest.mark.parametrize("seed", range(6))
def test_quartiles_from_counts_match_postgresqls_percentile(seed):
    """The lead time's quartiles are worked out from counts per hour: they must be the ones
    PostgreSQL's PERCENTILE_CONT gives for the same values, one by one."""
    rng = random.Random(seed)
    values = [rng.choice([1, 2, 24, 25, 48, 72, 500]) for _ in range(rng.randint(1, 40))]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT PERCENTILE_CONT(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY v) "
            "FROM UNNEST(%s::int[]) AS v",
            [values],
        )
        expected = cursor.fetchone()[0]
    counts = {value: values.count(value) for value in set(values)}
    assert quartiles(counts) == pytest.approx(expected)


def test_quartiles_of_nothing_are_none():
    assert quartiles({}) == [None, None, None]


def test_each_filter_narrows_the_figures(march):
    eastside = report(branch=march.eastside)
    assert (eastside.summary["booked"], eastside.summary["walk_ins"]) == (2, 1)
    assert rows(eastside.tables["waiting-list"])["Joined the waiting list"] == [1]
    basics = report(topic=march.basics)
    assert (basics.summary["booked"], basics.summary["people_helped"]) == (6, 4)
    assert rows(basics.tables["waiting-list"])["Joined the waiting list"] == [3]
    ben = report(staff=march.ben)
    assert (ben.summary["booked"], ben.summary["walk_ins"], ben.summary["hours"]) == (2, 0, 0.8)
    assert "not kept per staff member" in ben.tables["waiting-list"].note


@pytest.mark.parametrize(
    ("preset", "today", "expected"),
    [
        ("this_month", date(2026, 5, 15), (date(2026, 5, 1), date(2026, 5, 31))),
        ("last_month", date(2026, 5, 15), (date(2026, 4, 1), date(2026, 4, 30))),
        ("last_month", date(2026, 1, 10), (date(2025, 12, 1), date(2025, 12, 31))),
        ("this_quarter", date(2026, 5, 15), (date(2026, 4, 1), date(2026, 6, 30))),
        ("this_quarter", date(2026, 12, 31), (date(2026, 10, 1), date(2026, 12, 31))),
        ("this_year", date(2026, 5, 15), (date(2026, 1, 1), date(2026, 12, 31))),
        ("this_month", date(2028, 2, 3), (date(2028, 2, 1), date(2028, 2, 29))),
    ],
)
def test_preset_periods(preset, today, expected):
    assert preset_range(preset, today) == expected


def manager_client(client, march):
    client.force_login(march.manager)
    return client


def test_a_manager_opens_a_bookmarked_report_for_march(client, march):
    page = manager_client(client, march).get(reverse("appointments:reports"), MARCH)
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 March 2026 to 31 March 2026" in html
    assert 'role="img"' in html and 'aria-labelledby="chart-months-title chart-months-desc"' in html
    assert html.count("<svg") == 3
    assert "New to this" in html and ">new<" not in html
    assert "style=" not in html  # the Content Security Policy forbids inline styles


def test_the_page_opens_on_this_month_and_each_quick_period_is_a_link(client, march):
    page = manager_client(client, march).get(reverse("appointments:reports"))
    assert page.status_code == 200
    assert page.context["period"] == "this_month"
    assert page.context["scope"].start.day == 1
    html = page.content.decode()
    for preset in ("this_month", "last_month", "this_quarter", "this_year"):
        assert f'href="?period={preset}"' in html
    page = client.get(reverse("appointments:reports"), {"period": "this_year"})
    assert (page.context["scope"].start.month, page.context["scope"].end.day) == (1, 31)


def test_the_filters_are_in_the_address(client, march):
    url = reverse("appointments:reports")
    filters = {**MARCH, "branch": march.eastside.pk, "topic": march.jobs.pk, "staff": march.ben.pk}
    page = manager_client(client, march).get(url, filters)
    assert page.status_code == 200
    assert page.context["report"].summary["booked"] == 2
    html = page.content.decode()
    assert "Branch: Eastside." in html
    # Ben's public name ends in a full stop: the sentence gets no second one.
    assert "Staff member: Ben K." in html and "Ben K.." not in html
    # The quick periods keep the filters.
    assert f"branch={march.eastside.pk}" in page.context["preset_links"][0]["url"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-03-31", "end": "2026-03-01"}, "The last day is before the first day."),
        ({"start": "yesterday", "end": "2026-03-01"}, "Enter the first day as a date"),
        ({"start": "2026-03-01"}, "Give both the first and the last day."),
        ({"period": "custom"}, "Give both the first and the last day."),
        ({"start": "2000-01-01", "end": "2026-01-01"}, "Choose at most five years."),
        ({"start": "0001-01-01", "end": "0001-01-01"}, "Choose a day between the years 2000 and"),
        ({"start": "9995-01-01", "end": "9999-12-31"}, "Choose a day between the years 2000 and"),
        ({"period": "forever"}, "Choose a period from the list."),
        ({"branch": "99999"}, "Choose one from the list, or all."),
        ({"staff": "ana"}, "Choose one from the list, or all."),
    ],
)
def test_bad_input_says_what_is_wrong(client, march, query, message):
    page = manager_client(client, march).get(reverse("appointments:reports"), query)
    assert page.status_code == 400
    html = page.content.decode()
    assert message in html
    assert "<title>Error: " in html


def csv_rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_every_table_downloads_as_csv(client, march):
    manager_client(client, march)
    page = client.get(reverse("appointments:reports"), MARCH)
    for slug, table in page.context["report"].tables.items():
        link = reverse("appointments:report_csv", args=[slug])
        assert link in page.content.decode()
        response = client.get(link, MARCH)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "2026-03-01-to-2026-03-31" in response["Content-Disposition"]
        assert csv_rows(response)[0] == [str(column) for column in table.columns]
    topics = csv_rows(client.get(reverse("appointments:report_csv", args=["topics"]), MARCH))
    assert topics[1] == ["Computer basics", "6", "2", "1", "33.3", "2", "1", "4", "1.8"]
    assert (
        client.get(reverse("appointments:report_csv", args=["nothing"]), MARCH).status_code == 404
    )


def test_csv_cells_that_could_be_formulas_are_quoted(client, march):
    StaffProfile.objects.filter(pk=march.ana.pk).update(public_name='=HYPERLINK("http://x")')
    Topic.objects.filter(pk=march.jobs.pk).update(name="@SUM(A1)")
    manager_client(client, march)
    staff = csv_rows(client.get(reverse("appointments:report_csv", args=["staff"]), MARCH))
    assert ['\'=HYPERLINK("http://x")', "6", "2", "1", "33.3", "2", "1", "4", "1.8"] in staff
    topics = csv_rows(client.get(reverse("appointments:report_csv", args=["topics"]), MARCH))
    assert topics[1][0] == "'@SUM(A1)"
    for text in ("+1", "-1", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert (safe_cell("Ana"), safe_cell(-1), safe_cell(None)) == ("Ana", -1, "")


def test_a_bad_range_in_a_csv_link_goes_back_to_the_page(client, march):
    manager_client(client, march)
    url = reverse("appointments:report_csv", args=["topics"])
    for dates in (("2026-03-31", "2026-03-01"), ("9995-01-01", "9999-12-31")):
        response = client.get(url, {"start": dates[0], "end": dates[1]})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("appointments:reports"))


def page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("appointments:reports"), MARCH)
    assert response.status_code == 200
    return len(queries)


def test_the_page_takes_the_same_queries_however_much_there_is(client, march):
    manager_client(client, march)
    few = page_queries(client)
    # Twice the library: more branches, topics, staff, sessions, walk-ins and waiting.
    north = make_branch("North", tz="America/Denver")
    more = make_topic("Smartphones")
    carla = make_staff("Carla R.", branch=north, topics=[more])
    where = {"branch": north, "staff": carla, "topic": more}
    for day in range(1, 29):
        for hour, status in enumerate((Status.ATTENDED, Status.NO_SHOW, Status.CANCELLED), 9):
            march.session(where, (day, hour), 60, status, "new", 2, day % 5, True, "desk")
        march.walk_in(north, more, 10, "some", (day, 12), carla.user)
    march.wait(north, WaitlistState.WAITING, offers=3)
    assert page_queries(client) == few
    # The session, the user and their permissions (4), the filter lists (3), sessions and
    # walk-ins grouped every way at once (2), the waiting list and its purged counts (2).
    assert few == 11


def test_only_managers_see_the_reports(client, march):
    librarian = make_staff("Dee L.", branch=march.central).user
    urls = [
        reverse("appointments:reports"),
        reverse("appointments:report_csv", args=["staff"]),
        reverse("appointments:statistics"),
    ]
    for url in urls:
        assert client.get(url)["Location"].startswith(reverse("admin:login"))
        for user in (march.desk, librarian):
            client.force_login(user)
            assert client.get(url).status_code == 403
        client.logout()
    client.force_login(march.manager)
    assert client.get(urls[0]).status_code == 200
    assert client.get(urls[2])["Location"] == urls[0]
    admin_home = client.get(reverse("admin:index")).content.decode()
    assert f'href="{urls[0]}"' in admin_home


def test_the_reports_link_shows_for_managers_only(client, march):
    client.force_login(march.manager)
    assert (
        f'href="{reverse("appointments:reports")}"'
        in client.get(reverse("appointments:today")).content.decode()
    )
    client.force_login(march.desk)
    today = client.get(reverse("appointments:today")).content.decode()
    assert reverse("appointments:reports") not in today


def test_a_booking_keeps_what_the_reports_need(march):
    """First booking, how the patron hears from us, and who cancelled: set by the services."""
    from appointments.booking import cancel_appointment

    from .factories import book, local, next_weekday

    make_staff(
        "Eve S.", branch=march.central, topics=[march.basics], hours=[(1, 9, 17), (3, 9, 17)]
    )
    rosa = make_patron("Rosa", phone="312-555-0100", preferred_contact="call", email="")
    first = book(
        patron=rosa, topic=march.basics, branch=march.central, start=local(next_weekday(1), 10)
    )
    second = book(
        patron=rosa, topic=march.basics, branch=march.central, start=local(next_weekday(3), 10)
    )
    assert (first.first_booking, second.first_booking) == (True, False)
    assert first.contact_method == "call"
    cancel_appointment(first)
    cancel_appointment(second, by_staff=True)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.cancelled_by, second.cancelled_by) == ("patron", "library")
    # With nothing still booked, the next booking counts as a first one again.
    third = book(
        patron=rosa, topic=march.basics, branch=march.central, start=local(next_weekday(1), 14)
    )
    assert third.first_booking is True


def test_the_privacy_page_says_how_new_and_returning_are_counted(client):
    page = client.get(reverse("appointments:privacy")).content.decode()
    assert re.search(r"did you already have a session booked with us\?", page)


def test_forgetting_a_patron_keeps_the_waiting_list_counts(march):
    from appointments.privacy import forget_patron

    before = rows(report().tables["waiting-list"])
    for entry in WaitlistEntry.objects.exclude(state=WaitlistState.OFFERED):
        forget_patron(entry.patron)
    assert WaitlistEntry.objects.count() == 1
    assert rows(report().tables["waiting-list"]) == before


# The loop the tables were written with before `report_rows` (kept to compare the markup).
TABLE_ROWS_AS_A_LOOP = (
    "{% load i18n %}{% for heading, cells in labelled %}"
    '<tr><th scope="row">{{ heading }}</th>{% for label, cell in cells %}'
    '<td data-label="{{ label }}">{% if cell is None %}<span aria-hidden="true">–</span>'
    '<span class="visually-hidden">{% translate "none" %}</span>{% else %}{{ cell }}{% endif %}'
    "</td>{% endfor %}</tr>\n{% endfor %}"
)


@pytest.mark.parametrize("language", ["en", "es"])
def test_report_rows_are_written_as_the_template_loop_wrote_them(language):
    table = Table(
        "topics",
        "By topic",
        ["Topic", "Sessions <booked>", "No-show rate (%)", "Hours"],
        rows=[["Word & <Excel>", 1200, 12.5, None], ["Email", 0, None, 3.0]],
    )
    labelled = [(row[0], list(zip(table.columns[1:], row[1:], strict=True))) for row in table.rows]
    with translation.override(language):
        loop = Template(TABLE_ROWS_AS_A_LOOP).render(Context({"labelled": labelled}))
        tag = Template("{% load library_help %}{% report_rows table %}").render(
            Context({"table": table})
        )
    assert tag == loop
    assert "Word &amp; &lt;Excel&gt;" in tag and 'data-label="Sessions &lt;booked&gt;"' in tag
    assert ("12,5" if language == "es" else "12.5") in tag
