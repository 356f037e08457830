"""Staff sign in with the library's accounts: OpenID Connect against a real provider (pyop)
that the tests run on 127.0.0.1 (tests/oidc_provider.py)."""

from __future__ import annotations

import importlib
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from axes.models import AccessAttempt, AccessLog
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import Client

from appointments.access import DESK, LIBRARIANS, MANAGERS, sync_groups
from library_help.sso.models import LinkedIdentity, RoleMapping

from .oidc_provider import LocalProvider

CALLBACK = "http://testserver/sso/library/callback/"
# A second provider entry (another key, the same test provider behind it).
BRANCH_CALLBACK = "http://testserver/sso/branch/callback/"


@pytest.fixture(scope="module")
def provider():
    provider = LocalProvider()
    provider.redirect_uris.extend([CALLBACK, BRANCH_CALLBACK])
    yield provider
    provider.stop()


@pytest.fixture
def sso(provider, settings, db, monkeypatch):
    """The library's provider configured, and its groups mapped to our roles."""
    # Its certificate is trusted as a real provider's would be.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", provider.ca_file)
    settings.SSO_PROVIDERS = [provider.settings()]
    provider.sign_with_unpublished_key = False
    provider.op.audience = None
    sync_groups()
    RoleMapping.objects.create(
        provider="library", claim_value="reference-staff", group=Group.objects.get(name=LIBRARIANS)
    )
    RoleMapping.objects.create(
        provider="library", claim_value="circulation", group=Group.objects.get(name=DESK)
    )
    return provider


def to_provider_and_back(
    client, provider, sub, *, key="library", tamper_state=False, tamper_code=False, **claims
):
    """What the browser does: our start page, the provider's page (where `sub` signs in), and
    back to our callback with the provider's answer."""
    provider.sign_in_as(sub, **claims)
    start = client.get(f"/sso/{key}/start/")
    assert start.status_code == 302, start.content
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    query = dict(parse_qsl(back.query))
    if tamper_state:
        query["state"] = query["state"][:-4] + "AAAA"
    if tamper_code:
        query["code"] = query["code"][:-4] + "AAAA"
    return client.get(back.path + "?" + urlencode(query))


def signed_in_user(client):
    response = client.get("/admin/")
    return response.wsgi_request.user if response.status_code == 200 else None


def roles(user):
    return set(user.groups.values_list("name", flat=True))


def test_new_staff_member_gets_the_mapped_roles(sso, client):
    response = to_provider_and_back(
        client,
        sso,
        "entra-oid-1",
        email="ana@library.example",
        email_verified=True,
        given_name="Ana",
        family_name="P.",
        groups=["reference-staff", "all-staff"],
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    ana = User.objects.get(sso_identities__subject="entra-oid-1")
    assert signed_in_user(client) == ana
    assert (ana.username, ana.email, ana.first_name) == (
        "ana@library.example",
        "ana@library.example",
        "Ana",
    )
    assert ana.is_staff and not ana.is_superuser and not ana.has_usable_password()
    assert roles(ana) == {LIBRARIANS}
    identity = ana.sso_identities.get()
    assert (identity.issuer, identity.linked_by, identity.last_sign_in is not None) == (
        sso.issuer,
        None,
        True,
    )
    # Logged as a password sign-in is: django-axes's access log.
    assert AccessLog.objects.filter(username=ana.username).count() == 1


def test_changed_groups_change_roles_at_the_next_sign_in(sso, client):
    to_provider_and_back(
        client,
        sso,
        "sub-2",
        email="ben@library.example",
        email_verified=True,
        groups=["reference-staff"],
    )
    ben = User.objects.get(username="ben@library.example")
    # A role no mapping mentions is the admin's to give and stays.
    ben.groups.add(Group.objects.get(name=MANAGERS))
    client.logout()

    response = to_provider_and_back(
        client,
        sso,
        "sub-2",
        email="ben@library.example",
        email_verified=True,
        groups=["circulation"],
    )

    assert response.status_code == 302
    assert roles(ben) == {DESK, MANAGERS}
    assert User.objects.filter(email="ben@library.example").count() == 1


def test_missing_groups_claim_leaves_roles_as_they_are_and_is_logged(sso, client, caplog):
    to_provider_and_back(
        client,
        sso,
        "sub-3",
        email="cy@library.example",
        email_verified=True,
        groups=["circulation"],
    )
    cy = User.objects.get(username="cy@library.example")
    client.logout()

    # Entra ID's group overage: too many groups, so the token points elsewhere instead.
    with caplog.at_level(logging.WARNING, logger="library_help.sso"):
        response = to_provider_and_back(
            client,
            sso,
            "sub-3",
            email="cy@library.example",
            email_verified=True,
            _claim_names={"groups": "src1"},
            _claim_sources={"src1": {"endpoint": "https://graph.example/getMemberObjects"}},
        )

    assert response.status_code == 302
    assert signed_in_user(client) == cy
    assert roles(cy) == {DESK}
    [record] = [r for r in caplog.records if r.name == "library_help.sso.accounts"]
    assert record.levelno == logging.WARNING
    assert "overage" in record.getMessage() and str(cy.pk) in record.getMessage()
    assert "cy@" not in record.getMessage() and "sub-3" not in record.getMessage()


def test_first_sign_in_without_a_mapped_group_is_refused(sso, client):
    response = to_provider_and_back(
        client, sso, "sub-4", email="dee@library.example", groups=["friends-of-the-library"]
    )

    assert response.status_code == 403
    assert (
        "Your account has no role in Library Help yet; ask a manager." in response.content.decode()
    )
    assert "library: sub-4" in response.content.decode()
    assert signed_in_user(client) is None
    # The account waits for a manager to give it a role; it cannot use the admin meanwhile.
    dee = User.objects.get(sso_identities__subject="sub-4")
    assert not dee.is_staff and roles(dee) == set()


def test_local_account_with_the_same_email_is_not_taken_over(sso, client):
    """Refused rather than a second account made: one person with two accounts would split
    their schedule, and a provider that lets people edit their email must not reach anyone's
    account here. A superuser links the two (the next test)."""
    local = User.objects.create_user(
        "ana", "Ana@Library.example", "a good long password", is_staff=True
    )
    users_before = User.objects.count()

    response = to_provider_and_back(
        client,
        sso,
        "sub-5",
        email="ana@library.example",
        email_verified=True,
        groups=["circulation"],
    )

    assert response.status_code == 403
    assert "already has an account with your email address" in response.content.decode()
    assert signed_in_user(client) is None
    assert User.objects.count() == users_before
    assert not LinkedIdentity.objects.exists()
    assert roles(local) == set()


def test_local_account_linked_by_a_superuser_signs_in_by_sso(sso, client, admin_client, admin_user):
    local = User.objects.create_user(
        "ana", "ana@library.example", "a good long password", is_staff=True
    )
    response = admin_client.post(
        "/admin/sso/linkedidentity/add/",
        {"user": local.pk, "provider": "library", "subject": "sub-6"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    identity = LinkedIdentity.objects.get()
    assert (identity.user, identity.issuer, identity.linked_by) == (local, sso.issuer, admin_user)

    response = to_provider_and_back(
        client, sso, "sub-6", email="ana@library.example", groups=["reference-staff"]
    )

    assert response.status_code == 302
    assert signed_in_user(client) == local
    assert roles(local) == {LIBRARIANS}
    assert local.check_password("a good long password")  # her password still works too


def test_managers_edit_the_mapping_and_only_superusers_link_accounts(sso, client):
    manager = User.objects.create_user("meg", password="pw", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGERS))
    client.force_login(manager)

    assert client.get("/admin/sso/rolemapping/").status_code == 200
    response = client.post(
        "/admin/sso/rolemapping/add/",
        {
            "provider": "library",
            "claim_value": "branch-managers",
            "group": Group.objects.get(name=MANAGERS).pk,
            "note": "",
        },
    )
    assert response.status_code == 302
    assert RoleMapping.objects.filter(provider="library", claim_value="branch-managers").exists()
    assert "Library Account" in client.get("/admin/sso/rolemapping/").content.decode()
    assert client.get("/admin/sso/linkedidentity/add/").status_code == 403


def test_password_sign_in_still_works_beside_sso(sso, client):
    User.objects.create_user(
        "breakglass", password="a good long password", is_staff=True, is_superuser=True
    )

    page = client.get("/admin/login/?next=/admin/")
    assert "Sign in with Library Account" in page.content.decode()
    assert 'href="/sso/library/start/?next=/admin/"' in page.content.decode()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "breakglass", "password": "a good long password", "next": "/admin/"},
    )
    assert response.status_code == 302
    assert signed_in_user(client).username == "breakglass"


def test_without_a_provider_nothing_of_sso_shows(settings, db, client, admin_client):
    settings.SSO_PROVIDERS = []

    page = client.get("/admin/login/").content.decode()
    assert "Sign in with" not in page and "sso.css" not in page
    assert client.get("/sso/library/start/").status_code == 404
    assert "Single sign-on" not in admin_client.get("/admin/").content.decode()


def test_stray_callbacks_lock_no_one_out(sso, client, settings):
    """Any page can make a browser fetch the callback (an <img>), and all staff at a branch
    share one outside address: a callback that answers no sign-in of its own session is shown
    the "start again" page and counts against no one."""
    settings.AXES_FAILURE_LIMIT = 2
    for query in [
        "",
        "?code=anything&state=made-up",
        "?error=access_denied&state=made-up",
        "?code=anything&state=",
    ]:
        # Other browsers at the branch, with no sign-in under way.
        response = Client().get("/sso/library/callback/" + query)
        assert response.status_code == 403
        assert "Please try again from the start" in response.content.decode()
    # And the staff member's own, before they sign in.
    client.get("/sso/library/callback/?code=anything&state=made-up")

    assert not AccessAttempt.objects.exists()
    response = to_provider_and_back(client, sso, "sub-7", groups=["circulation"])
    assert response.status_code == 302
    assert signed_in_user(client) == User.objects.get(sso_identities__subject="sub-7")


def test_tampered_state_is_refused_without_counting(sso, client, settings):
    """A state this session never stored answers no sign-in of it, whatever else it carries."""
    settings.AXES_FAILURE_LIMIT = 2

    for _ in range(3):
        response = to_provider_and_back(
            client, sso, "sub-7", tamper_state=True, groups=["circulation"]
        )
        assert response.status_code == 403
        assert "We could not confirm your Library Account sign-in" in response.content.decode()

    assert signed_in_user(client) is None
    assert not User.objects.filter(sso_identities__subject="sub-7").exists()
    assert not AccessAttempt.objects.exists()
    assert to_provider_and_back(client, sso, "sub-7", groups=["circulation"]).status_code == 302


def test_refused_code_counts_as_a_failed_login(sso, client):
    response = to_provider_and_back(client, sso, "sub-14", tamper_code=True, groups=["circulation"])

    assert response.status_code == 403
    assert signed_in_user(client) is None
    assert AccessAttempt.objects.get(username="sso:library").failures_since_start == 1


def test_id_token_signed_with_a_key_the_provider_never_published_is_refused(sso, client):
    sso.sign_with_unpublished_key = True

    response = to_provider_and_back(client, sso, "sub-8", groups=["circulation"])

    assert response.status_code == 403
    assert signed_in_user(client) is None
    assert AccessAttempt.objects.get(username="sso:library").failures_since_start == 1


def test_bad_id_tokens_lock_the_client_out(sso, client, settings):
    """The answer to this session's own sign-in that does not check out still counts: the
    second locks this client out, and then even a good sign-in is refused."""
    settings.AXES_FAILURE_LIMIT = 2
    sso.sign_with_unpublished_key = True
    to_provider_and_back(client, sso, "sub-8", groups=["circulation"])

    response = to_provider_and_back(client, sso, "sub-8", groups=["circulation"])

    assert response.status_code == settings.AXES_HTTP_RESPONSE_CODE
    assert "Sign-in paused" in response.content.decode()
    sso.sign_with_unpublished_key = False
    assert client.get("/sso/library/start/").status_code == settings.AXES_HTTP_RESPONSE_CODE
    assert signed_in_user(client) is None


def test_id_token_meant_for_another_application_is_refused(sso, client):
    sso.op.audience = "another-app"

    response = to_provider_and_back(client, sso, "sub-11", groups=["circulation"])

    assert response.status_code == 403
    assert signed_in_user(client) is None
    assert not User.objects.filter(sso_identities__subject="sub-11").exists()
    assert AccessAttempt.objects.get(username="sso:library").failures_since_start == 1


def test_account_locked_by_wrong_passwords_cannot_sign_in_by_sso(sso, client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    ana = User.objects.create_user("ana", password="a good long password", is_staff=True)
    ana.groups.add(Group.objects.get(name=DESK))
    LinkedIdentity.objects.create(user=ana, provider="library", issuer=sso.issuer, subject="sub-9")
    for _ in range(2):
        client.post("/admin/login/", {"username": "ana", "password": "wrong"})

    response = to_provider_and_back(client, sso, "sub-9", groups=["circulation"])

    assert response.status_code == settings.AXES_HTTP_RESPONSE_CODE
    assert signed_in_user(client) is None


def test_workspace_only_for_google(sso, client, settings, provider):
    settings.SSO_PROVIDERS = [
        {**provider.settings(), "groups_claim": "", "hosted_domain": "library.example"}
    ]

    response = to_provider_and_back(
        client, sso, "sub-10", email="someone@gmail.example", hd="gmail.example"
    )

    assert response.status_code == 403
    assert "not a personal one" in response.content.decode()
    assert not User.objects.filter(sso_identities__subject="sub-10").exists()


def test_provider_without_https_is_refused(sso, client, settings, provider):
    plain = provider.issuer.replace("https://", "http://")
    settings.SSO_PROVIDERS = [{**provider.settings(), "issuer": plain}]

    response = client.get("/sso/library/start/")

    assert response.status_code == 503
    assert "sso:library" not in str(AccessAttempt.objects.values_list("username", flat=True))
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match="single sign-on needs https"):
        call_command("check")


def test_expired_client_secret_is_an_error_for_it_not_a_failed_login(sso, client, settings, caplog):
    settings.SSO_PROVIDERS = [{**sso.settings(), "client_secret": "the one that expired"}]

    with caplog.at_level(logging.ERROR, logger="library_help.sso"):
        response = to_provider_and_back(client, sso, "sub-12", groups=["circulation"])

    assert response.status_code == 503
    assert "cannot be reached just now" in response.content.decode()
    assert "invalid_client" in caplog.text
    assert not AccessAttempt.objects.exists()


def test_entra_google_and_okta_are_configured_from_the_environment(monkeypatch, settings, client):
    import environ

    from library_help.sso.config import providers_from_env

    for name, value in {
        "SSO_ENTRA_TENANT": "5f0c8a1e-0000-4000-8000-000000000001",
        "SSO_ENTRA_CLIENT_ID": "entra-client",
        "SSO_ENTRA_CLIENT_SECRET": "entra-secret",
        "SSO_GOOGLE_CLIENT_ID": "google-client",
        "SSO_GOOGLE_CLIENT_SECRET": "google-secret",
        "SSO_GOOGLE_DOMAIN": "library.example",
        "SSO_OKTA_DOMAIN": "library.okta.com",
        "SSO_OKTA_CLIENT_ID": "okta-client",
        "SSO_OKTA_CLIENT_SECRET": "okta-secret",
    }.items():
        monkeypatch.setenv(name, value)

    settings.SSO_PROVIDERS = providers_from_env(environ.Env())

    entra, google, okta = settings.SSO_PROVIDERS
    assert (
        entra["issuer"]
        == "https://login.microsoftonline.com/5f0c8a1e-0000-4000-8000-000000000001/v2.0"
    )
    assert (entra["groups_claim"], google["groups_claim"], okta["groups_claim"]) == (
        "groups",
        "",
        "groups",
    )
    assert google["hosted_domain"] == "library.example"
    # Entra sends no email_verified; Google and Okta do.
    assert (entra["trust_email"], "trust_email" in google, "trust_email" in okta) == (
        True,
        False,
        False,
    )
    assert okta["issuer"] == "https://library.okta.com"
    page = client.get("/admin/login/").content.decode()
    for name in ("Microsoft", "Google", "Okta"):
        assert f"Sign in with {name}" in page


def test_mapping_of_one_provider_gives_no_role_through_another(sso, client, settings, provider):
    """Another provider's "reference-staff" is another group, run by other people."""
    settings.SSO_PROVIDERS = [provider.settings(), provider.settings("branch", "Branch Account")]
    RoleMapping.objects.create(
        provider="branch", claim_value="branch-desk", group=Group.objects.get(name=DESK)
    )

    response = to_provider_and_back(
        client, sso, "sub-15", key="branch", groups=["reference-staff", "circulation"]
    )

    assert response.status_code == 403
    assert "no role in Library Help yet" in response.content.decode()
    newcomer = User.objects.get(sso_identities__subject="sub-15")
    assert roles(newcomer) == set() and not newcomer.is_staff

    response = to_provider_and_back(
        client, sso, "sub-15", key="branch", groups=["reference-staff", "branch-desk"]
    )

    assert response.status_code == 302
    assert roles(newcomer) == {DESK}


def test_mappings_made_before_providers_go_to_the_one_that_sends_groups(sso, settings, provider):
    migration = importlib.import_module("library_help.sso.migrations.0003_rolemapping_provider")
    RoleMapping.objects.update(provider="")
    google = {**provider.settings("google", "Google"), "groups_claim": ""}
    settings.SSO_PROVIDERS = [provider.settings(), provider.settings("branch"), google]

    migration.to_the_provider_that_sends_groups(apps, None)

    # Two providers send groups: which one a mapping was meant for is a manager's call.
    assert set(RoleMapping.objects.values_list("provider", flat=True)) == {""}
    settings.SSO_PROVIDERS = [provider.settings(), google]

    migration.to_the_provider_that_sends_groups(apps, None)

    assert set(RoleMapping.objects.values_list("provider", flat=True)) == {"library"}


def test_email_the_provider_does_not_vouch_for_is_not_kept(sso, client):
    """Staff emails go to an account's address: not to one that someone typed in at a
    provider that never checked it. Nor does such an address block a first sign-in."""
    User.objects.create_user("boss", "boss@library.example", "a good long password")

    response = to_provider_and_back(
        client,
        sso,
        "sub-16",
        email="boss@library.example",
        email_verified=False,
        groups=["circulation"],
    )
    to_provider_and_back(
        Client(), sso, "sub-17", email="typed@library.example", groups=["circulation"]
    )

    assert response.status_code == 302
    newcomer = User.objects.get(sso_identities__subject="sub-16")
    assert (newcomer.username, newcomer.email) == ("sub-16", "")
    assert User.objects.get(sso_identities__subject="sub-17").email == ""


def test_email_from_a_provider_trusted_for_it_is_kept(sso, client, settings, provider):
    """Entra ID sends no email_verified; in a single tenant only the library sets addresses."""
    settings.SSO_PROVIDERS = [{**provider.settings(), "trust_email": True}]

    to_provider_and_back(client, sso, "sub-18", email="eve@library.example", groups=["circulation"])

    assert User.objects.get(sso_identities__subject="sub-18").email == "eve@library.example"
