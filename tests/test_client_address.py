"""Behind the library's reverse proxy, each patron has their own rate limit and each person at
the staff login their own count of wrong passwords, whatever a client writes in X-Forwarded-For.

Our proxy is 10.0.0.1; it appends the address it was connected from to X-Forwarded-For.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import reverse

from library_help.client_address import client_address

from .factories import make_user

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"
NEED = {"skill_level": "new", "learning_goal": "Email", "party_size": 1}


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def behind_one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = []
    settings.RATELIMIT_BOOKING = "2/h"


def _book(client, topic, forwarded_for=None, remote_addr=PROXY):
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post(reverse("appointments:need", args=[topic.slug]), NEED, **headers)


def _address(forwarded_for=None, remote_addr=PROXY) -> str:
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_address(RequestFactory().get("/", **headers))


# --- The booking pages' limits, through the real views ----------------------------------------


def test_each_patron_behind_the_proxy_has_their_own_limit(client, topic, behind_one_proxy):
    for _ in range(2):
        assert _book(client, topic, "203.0.113.7").status_code == 302
    response = _book(client, topic, "203.0.113.7")
    assert response.status_code == 429
    assert "Please wait a little" in response.content.decode()
    assert _book(client, topic, "198.51.100.20").status_code == 302


def test_a_client_making_up_first_entries_is_still_counted_as_itself(
    client, topic, behind_one_proxy
):
    for n in range(2):
        assert _book(client, topic, f"192.0.2.{n}, 203.0.113.7").status_code == 302
    assert _book(client, topic, "192.0.2.99, 8.8.8.8, 203.0.113.7").status_code == 429
    assert _book(client, topic, "203.0.113.7").status_code == 429


@pytest.mark.parametrize(
    "forwarded_for",
    [
        None,
        "",
        " ",
        ",",
        "garbage",
        "203.0.113.7, garbage",
        "203.0.113.7,",
        "999.1.1.1",
        "unknown",
        "[2001:db8::1",
        "203.0.113.7:port",
        "\x00",
        "a" * 5000,
    ],
)
def test_a_missing_or_malformed_header_counts_as_the_proxy_and_never_fails(
    client, topic, behind_one_proxy, forwarded_for
):
    for _ in range(2):
        assert _book(client, topic, forwarded_for).status_code == 302
    response = _book(client, topic, forwarded_for)
    assert response.status_code == 429
    assert "Please wait a little" in response.content.decode()
    assert _address(forwarded_for) == PROXY


def test_ipv6_patrons_are_counted_by_their_64_network(client, topic, behind_one_proxy):
    assert _book(client, topic, "2001:db8:1:2::10").status_code == 302
    assert _book(client, topic, "[2001:db8:1:2:aaaa::99]:443").status_code == 302
    assert _book(client, topic, "2001:db8:1:2:ffff:ffff:ffff:ffff").status_code == 429
    assert _book(client, topic, "2001:db8:1:3::10").status_code == 302


def test_without_a_proxy_the_header_is_ignored(client, topic, settings):
    settings.RATELIMIT_BOOKING = "2/h"
    for n in range(2):
        assert _book(client, topic, f"192.0.2.{n}", remote_addr="203.0.113.7").status_code == 302
    assert _book(client, topic, "192.0.2.50", remote_addr="203.0.113.7").status_code == 429


def test_with_listed_proxies_only_their_header_is_believed(client, topic, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    settings.RATELIMIT_BOOKING = "2/h"
    # Through the CDN (10.0.0.9) and our proxy: the patron is the first address not ours.
    for n in range(2):
        chain = f"192.0.2.{n}, 203.0.113.7, 10.0.0.9"
        assert _book(client, topic, chain).status_code == 302
    assert _book(client, topic, "203.0.113.7, 10.0.0.9").status_code == 429
    # Straight to the app, not through a proxy: whatever the header says, the sender counts.
    for n in range(2):
        assert _book(client, topic, f"192.0.2.{n}", remote_addr="198.51.100.5").status_code == 302
    assert _book(client, topic, "192.0.2.7", remote_addr="198.51.100.5").status_code == 429


# --- What counts as the client's address ---------------------------------------------------


@pytest.mark.parametrize(
    "count, forwarded_for, remote_addr, expected",
    [
        (0, "203.0.113.7", PROXY, PROXY),
        (1, "203.0.113.7", PROXY, "203.0.113.7"),
        (1, " 192.0.2.1 ,  203.0.113.7 ", PROXY, "203.0.113.7"),
        (1, "203.0.113.7:51234", PROXY, "203.0.113.7"),
        (2, "192.0.2.1, 203.0.113.7, 10.0.0.9", PROXY, "203.0.113.7"),
        (2, "10.0.0.9", PROXY, PROXY),  # fewer entries than proxies
        (1, "::ffff:203.0.113.7", PROXY, "203.0.113.7"),
        (1, "2001:db8:1:2:3:4:5:6", PROXY, "2001:db8:1:2::"),
        (0, None, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
        (0, None, "::ffff:10.0.0.1", PROXY),
        (0, None, "", "0.0.0.0"),  # a proxy on a Unix socket, and no count set
        (1, "203.0.113.7", "", "203.0.113.7"),
    ],
)
def test_client_address(settings, count, forwarded_for, remote_addr, expected):
    settings.TRUSTED_PROXY_COUNT = count
    settings.TRUSTED_PROXIES = []
    assert _address(forwarded_for, remote_addr) == expected


# --- The staff login's pause, behind the proxy ----------------------------------------------


def _sign_in(client, password, forwarded_for):
    return client.post(
        reverse("admin:login"),
        {"username": "ana", "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_wrong_passwords_pause_only_the_guessers_address(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = []
    make_user("ana")
    for n in range(4):
        assert _sign_in(client, "wrong", f"192.0.2.{n}, 203.0.113.66").status_code == 200
    response = _sign_in(client, "wrong", "192.0.2.99, 203.0.113.66")
    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.66"}
    # The guesser stays paused, even with the right password and a new made-up first entry.
    assert _sign_in(client, "a-long-test-password", "192.0.2.100, 203.0.113.66").status_code == 429

    ana = client.__class__()
    response = _sign_in(ana, "a-long-test-password", "198.51.100.7")
    assert response.status_code == 302
    assert "_auth_user_id" in ana.session


# --- Settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variables, complaint",
    [
        ({"RATELIMIT_IP_META_KEY": "HTTP_X_FORWARDED_FOR"}, "TRUSTED_PROXY_COUNT"),
        ({"TRUSTED_PROXIES": "10.0.0.1,not-a-proxy"}, "not-a-proxy"),
        ({"TRUSTED_PROXY_COUNT": "1", "TRUSTED_PROXIES": "10.0.0.1"}, "not both"),
    ],
)
def test_unclear_proxy_settings_stop_the_start(variables, complaint):
    env = {**os.environ, **variables}
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    result = subprocess.run(
        [sys.executable, str(manage), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert complaint in result.stderr
