"""Shared pytest fixtures; the factories they build on live in tests/factories.py."""

from __future__ import annotations

import pytest

from .factories import make_branch, make_staff, make_topic


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs a quarter second a user; tests only need passwords that work."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
