"""gunicorn's access log without what identifies a patron.

Access logs are kept far longer than patron data (journald, log shippers), so they must not
hold the secret in a private link (/booking/<secret>/) or a query string: the desk's patron
search puts a name or a phone number there. scripts/serve passes this class to gunicorn.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from library_help.errors import hide_private_address


class PrivateAccessLog(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if key in ("q", "{query_string}e"):
                atoms[key] = ""
            elif isinstance(value, str):
                atoms[key] = hide_private_address(value)
        return atoms
