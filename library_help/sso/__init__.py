"""Staff sign-in with the library's own accounts (OpenID Connect): Entra ID, Google, Okta.

Nothing here shows until a provider is configured (SSO_* settings, docs/single-sign-on.md).
Accounts are found by the provider's issuer and subject, never by email; roles follow the
provider's groups through the mapping managers edit in the admin.
"""
