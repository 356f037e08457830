"""The providers a library has configured, read from the environment by settings.py.

Plain Python (no Django): settings.py imports it before Django is set up. Each provider is a
dict: key (in the callback address), name (on the button), issuer, client_id, client_secret,
groups_claim (the id_token claim that lists the user's groups; empty when the provider sends
none), scopes (optional), trust_email (optional: store the id_token's email even when it does
not say email_verified) and, for Google, hosted_domain: the Workspace domain every account
must belong to.
"""

from __future__ import annotations

import json

ENTRA_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
GOOGLE_ISSUER = "https://accounts.google.com"


def providers_from_env(env) -> list[dict]:
    providers = []
    if env("SSO_ENTRA_CLIENT_ID", default=""):
        providers.append(
            {
                "key": "entra",
                "name": env("SSO_ENTRA_NAME", default="Microsoft"),
                # A tenant's own issuer, never "common": only the library's accounts sign in.
                "issuer": ENTRA_ISSUER.format(tenant=env("SSO_ENTRA_TENANT")),
                "client_id": env("SSO_ENTRA_CLIENT_ID"),
                "client_secret": env("SSO_ENTRA_CLIENT_SECRET"),
                "groups_claim": "groups",
                # Entra sends no email_verified. In a single tenant the address comes from
                # the library's own directory, where only its administrators set it.
                "trust_email": True,
            }
        )
    if env("SSO_GOOGLE_CLIENT_ID", default=""):
        providers.append(
            {
                "key": "google",
                "name": env("SSO_GOOGLE_NAME", default="Google"),
                "issuer": GOOGLE_ISSUER,
                "client_id": env("SSO_GOOGLE_CLIENT_ID"),
                "client_secret": env("SSO_GOOGLE_CLIENT_SECRET"),
                # Google's id_token carries no groups: roles are given in the admin.
                "groups_claim": "",
                # Any Google account could sign in otherwise; the hd claim names the Workspace.
                "hosted_domain": env("SSO_GOOGLE_DOMAIN"),
            }
        )
    if env("SSO_OKTA_CLIENT_ID", default=""):
        domain = env("SSO_OKTA_DOMAIN").removeprefix("https://").rstrip("/")
        server = env("SSO_OKTA_AUTH_SERVER", default="")
        providers.append(
            {
                "key": "okta",
                "name": env("SSO_OKTA_NAME", default="Okta"),
                "issuer": f"https://{domain}" + (f"/oauth2/{server}" if server else ""),
                "client_id": env("SSO_OKTA_CLIENT_ID"),
                "client_secret": env("SSO_OKTA_CLIENT_SECRET"),
                "groups_claim": env("SSO_OKTA_GROUPS_CLAIM", default="groups"),
                # The org authorization server sends the groups claim only when asked for it; a
                # custom one sends the claim it is given and knows no "groups" scope.
                "scopes": "openid email profile" + ("" if server else " groups"),
            }
        )
    # Any other OpenID Connect provider, as a JSON list of dicts of the keys above.
    providers.extend(json.loads(env("SSO_PROVIDERS", default="[]")))
    return providers
