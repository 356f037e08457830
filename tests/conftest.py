"""Shared pytest fixtures; the factories they build on live in tests/factories.py."""

from __future__ import annotations

import itertools

import pytest
from django.core.cache import caches
from django.utils import translation

from library_help.cache import DatabaseCache

from .factories import make_branch, make_staff, make_topic


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs a quarter second a user; tests only need passwords that work."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache_cull_count():
    """The database cache culls (one extra query) on every 50th write of a process: each test
    starts the count afresh, so no test's query count depends on how many tests ran before it."""
    backend = caches["default"]
    if isinstance(backend, DatabaseCache):
        backend._writes = itertools.count(1)


@pytest.fixture(autouse=True)
def back_to_the_default_language():
    """LocaleMiddleware leaves the last request's language active in the thread: a Spanish
    page must not leave the tests that follow writing Spanish."""
    yield
    translation.deactivate()


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
