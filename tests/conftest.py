"""Shared pytest fixtures; the factories they build on live in tests/factories.py."""

from __future__ import annotations

import itertools

import pytest
from django.core.cache import caches

from .factories import make_branch, make_staff, make_topic


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs a quarter second a user; tests only need passwords that work."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def cache_culls_counted_per_test():
    """The database cache culls its table on every 50th write of a process
    (library_help/cache.py): counted from each test's start, a cull lands at the same place in
    a test whatever ran before it, so tests that count queries do not depend on test order."""
    cache = caches["default"]
    if hasattr(cache, "_writes"):
        cache._writes = itertools.count(1)


@pytest.fixture
def branch(db):
    return make_branch()


@pytest.fixture
def topic(db):
    return make_topic()


@pytest.fixture
def librarian(branch, topic):
    """Ana helps with computer basics at Central on Tuesdays and Thursdays, 10 am to noon."""
    return make_staff("Ana P.", branch=branch, topics=[topic], hours=[(1, 10, 12), (3, 10, 12)])
