"""The shared cache in PostgreSQL: rate-limit counts in one statement each, a table kept small."""

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from library_help.cache import DatabaseCache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _cache_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "library_help_cache" in q["sql"]]


def _rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM library_help_cache")
        return cursor.fetchone()[0]


def test_the_default_cache_is_the_lean_database_cache():
    assert isinstance(caches["default"], DatabaseCache)


def test_a_rate_limited_post_costs_at_most_two_cache_queries(client, topic):
    url = reverse("appointments:need", args=[topic.slug])
    with CaptureQueriesContext(connection) as first:
        client.post(url, {})
    with CaptureQueriesContext(connection) as second:
        client.post(url, {})
    assert len(_cache_queries(first)) == 1  # the count starts
    assert len(_cache_queries(second)) <= 2  # it is there already, so it counts up
    assert not any("COUNT(" in sql for sql in _cache_queries(second))


def test_counts_go_up_one_statement_at_a_time():
    assert cache.add("visits", 1, 60)
    assert not cache.add("visits", 1, 60)
    with CaptureQueriesContext(connection) as queries:
        assert cache.incr("visits") == 2
    assert len(queries) == 1
    assert cache.incr("visits", 5) == 7
    assert cache.decr("visits") == 6
    assert cache.get("visits") == 6


def test_a_missing_count_cannot_go_up():
    with pytest.raises(ValueError):
        cache.incr("nobody")


def test_an_expired_entry_is_gone_and_can_be_added_again():
    cache.set("old", "news", -1)
    assert cache.get("old", "gone") == "gone"
    with pytest.raises(ValueError):
        cache.incr("old")
    assert cache.add("old", 1, 60)
    assert cache.get("old") == 1


def test_other_values_keep_their_type():
    values = {"text": "hello", "list": [1, "two"], "none": None, "flag": True, "big": 2**70}
    for key, value in values.items():
        cache.set(key, value, 60)
    assert cache.get_many(list(values)) == values
    assert cache.get("flag") is True


def test_the_table_is_culled_once_it_grows_past_its_limit():
    small = DatabaseCache("library_help_cache", {"OPTIONS": {"MAX_ENTRIES": 20, "CULL_EVERY": 10}})
    for n in range(10):
        small.set(f"stale{n}", n, -1)  # expired: the first cull removes them all
    for n in range(90):
        small.set(f"key{n}", n, 60)
    assert _rows() <= 20 + 10
    assert small.get("key89") == 89
    assert not any(small.has_key(f"stale{n}") for n in range(10))


def test_writes_between_culls_do_not_count_the_table():
    fresh = DatabaseCache("library_help_cache", {"OPTIONS": {"CULL_EVERY": 50}})
    with CaptureQueriesContext(connection) as queries:
        for n in range(49):
            fresh.set(f"key{n}", n, 60)
    assert len(queries) == 49
    assert not any("COUNT(" in q["sql"] for q in queries.captured_queries)
