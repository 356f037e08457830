"""A librarian signs in with the library's account in a real browser: the login page's button,
the provider (tests/oidc_provider.py, on https://127.0.0.1), and back into the admin. With
SCREENSHOTS=1 the login page and the mapping page are saved to docs/ for
docs/single-sign-on.md."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from appointments.access import LIBRARIANS, MANAGERS, sync_groups
from library_help.sso.models import RoleMapping

from ..oidc_provider import LocalProvider
from .conftest import ROOT, audit

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.in_process_only("the provider's settings are changed in the test process"),
]


@pytest.fixture
def provider(live_server, settings, monkeypatch):
    provider = LocalProvider()
    provider.redirect_uris.append(live_server.url + "/sso/library/callback/")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", provider.ca_file)
    settings.SSO_PROVIDERS = [provider.settings(name="Microsoft")]
    yield provider
    provider.stop()


def save(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / name), full_page=True)


def test_librarian_signs_in_with_the_library_account(browser, live_server, provider):
    sync_groups()
    RoleMapping.objects.create(
        provider="library",
        claim_value="6f1c2a9e-4b7d-4e0a-9c3b-2d8e5f7a1b40",
        group=Group.objects.get(name=LIBRARIANS),
        note="Reference staff",
    )
    RoleMapping.objects.create(
        provider="library",
        claim_value="0b9d4e21-7c3a-4f68-8e15-a6c2d9f3e870",
        group=Group.objects.get(name=MANAGERS),
        note="Branch managers",
    )
    provider.sign_in_as(
        "AAAAAAAAAAAAAAAAAAAAAJk3zJ2c",
        email="ana.perez@library.example",
        email_verified=True,
        given_name="Ana",
        family_name="Pérez",
        groups=["6f1c2a9e-4b7d-4e0a-9c3b-2d8e5f7a1b40", "0b9d4e21-7c3a-4f68-8e15-a6c2d9f3e870"],
    )
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)

    page.goto(live_server.url + "/admin/login/?next=/admin/")
    expect(page.get_by_label("Username")).to_be_visible()
    audit(page)
    save(page, "sso-login.png")
    page.get_by_role("link", name="Sign in with Microsoft").click()

    expect(page.get_by_role("heading", name="Help sessions")).to_be_visible()
    assert page.url == live_server.url + "/admin/"
    ana = User.objects.get(email="ana.perez@library.example")
    assert set(ana.groups.values_list("name", flat=True)) == {LIBRARIANS, MANAGERS}

    page.goto(live_server.url + "/admin/sso/rolemapping/")
    expect(
        page.get_by_role("heading", name="Select group to role mapping to change")
    ).to_be_visible()
    # Django's own changelist markup (breadcrumbs, filter links) is not audited here.
    save(page, "sso-role-mappings.png")
    context.close()
