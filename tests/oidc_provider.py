"""A real OpenID Connect provider for the tests, on https://127.0.0.1: pyop behind a small WSGI
app, with a certificate made for the run (`ca_file`: point REQUESTS_CA_BUNDLE at it).

pyop (IdentityPython) does the protocol: it checks the client, its redirect address and PKCE,
issues codes and signs id_tokens with an RSA key it publishes as JWKS. The tests choose who
"signs in" next (`sign_in_as`), as a person would at the real provider's page, and which groups
their id_token carries. `sign_with_unpublished_key` makes it sign with a key it never published,
as a forger would; `op.audience` addresses the id_token to another application.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from Cryptodome.PublicKey import RSA
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwkest.jwk import RSAKey
from pyop.authz_state import AuthorizationState
from pyop.exceptions import InvalidAuthenticationRequest, OAuthError
from pyop.provider import Provider
from pyop.subject_identifier import HashBasedSubjectIdentifierFactory
from pyop.userinfo import Userinfo

CLIENT_ID = "library-help"
CLIENT_SECRET = "test-secret-not-for-production"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Provider(Provider):
    audience: str | None = None

    def _create_signed_id_token(self, client_id, *args, **kwargs):
        """As pyop's, for another audience when a test asks for one."""
        return super()._create_signed_id_token(self.audience or client_id, *args, **kwargs)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class LocalProvider:
    def __init__(self):
        self._server = make_server(
            "127.0.0.1", 0, self._app, server_class=_Server, handler_class=_QuietHandler
        )
        self._folder = tempfile.TemporaryDirectory()
        self.ca_file = _certificate_for_loopback(self._folder.name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, self._folder.name + "/key.pem")
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.issuer = f"https://127.0.0.1:{self._server.server_port}"
        self._published_key = RSAKey(key=RSA.generate(2048), alg="RS256", kid="published")
        self._unpublished_key = RSAKey(key=RSA.generate(2048), alg="RS256", kid="forged")
        self._accounts: dict[str, dict] = {}
        self._claims: dict[str, dict] = {}
        self._next: str | None = None
        self.sign_with_unpublished_key = False
        self.redirect_uris: list[str] = []
        self.op = _Provider(
            self._published_key,
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
            },
            AuthorizationState(HashBasedSubjectIdentifierFactory("salt")),
            {
                CLIENT_ID: {
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": self.redirect_uris,
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                },
                "another-app": {"redirect_uris": [], "response_types": ["code"]},
            },
            Userinfo(self._accounts),
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def settings(self, key: str = "library", name: str = "Library Account") -> dict:
        """The entry of SSO_PROVIDERS that points Library Help at this provider."""
        return {
            "key": key,
            "name": name,
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "groups_claim": "groups",
        }

    def sign_in_as(self, sub: str, **claims) -> None:
        """Who authenticates at the next /authorize, with the claims of their id_token."""
        self._accounts[sub] = {"sub": sub}
        self._claims[sub] = claims
        self._next = sub

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._folder.cleanup()

    # --- The provider's endpoints -----------------------------------------------------------

    def _app(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/.well-known/openid-configuration":
            return _json(start_response, self.op.provider_configuration.to_dict())
        if path == "/jwks":
            return _json(start_response, {"keys": [self._published_key.serialize()]})
        if path == "/authorize":
            return self._authorize(environ, start_response)
        if path == "/token":
            return self._token(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    def _authorize(self, environ, start_response):
        try:
            request = self.op.parse_authentication_request(environ["QUERY_STRING"])
        except InvalidAuthenticationRequest as error:
            return _json(start_response, {"error": str(error)}, "400 Bad Request")
        response = self.op.authorize(request, self._next)
        location = response.request(request["redirect_uri"], False)
        start_response("302 Found", [("Location", location)])
        return [b""]

    def _token(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode()
        headers = {"Authorization": environ.get("HTTP_AUTHORIZATION", "")}
        self.op.signing_key = (
            self._unpublished_key if self.sign_with_unpublished_key else self._published_key
        )
        try:
            response = self.op.handle_token_request(
                body, headers, extra_id_token_claims=lambda sub, client_id: dict(self._claims[sub])
            )
        except OAuthError as error:
            return _json(start_response, {"error": error.oauth_error}, "400 Bad Request")
        return _json(start_response, response.to_dict())


def _json(start_response, data, status="200 OK"):
    start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
    return [json.dumps(data).encode()]


def _certificate_for_loopback(folder: str) -> str:
    """A self-signed certificate for 127.0.0.1; returns the certificate's file."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with open(folder + "/key.pem", "wb") as file:
        file.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(folder + "/cert.pem", "wb") as file:
        file.write(certificate.public_bytes(serialization.Encoding.PEM))
    return folder + "/cert.pem"
