"""gunicorn's logs without what identifies a patron.

Logs are kept far longer than patron data (journald, log shippers), so they must not hold the
secret in a private link (/booking/<secret>/) or a query string: the desk's patron search puts
a name or a phone number there. scripts/serve passes this class to gunicorn (--logger-class).
It cleans the access log's fields, and every line of gunicorn's own error log: "Error handling
request GET /booking/<secret>/" after a worker timeout, "Invalid request from ip=...: <the
request line>", and the tracebacks after them.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

from library_help.errors import hide_private_address, hide_private_text

TIMED_OUT = re.compile(r"WORKER TIMEOUT \(pid:(\d+)\)")
KILLED = re.compile(r"Worker \(pid:(\d+)\) was sent SIGKILL! Perhaps out of memory\?")


class PrivateErrorLog(logging.Filter):
    """On gunicorn's error logger: each line is written out in full, then cleaned."""

    def __init__(self):
        super().__init__()
        self.timed_out: set[str] = set()  # workers stopped for taking too long (the arbiter's)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: clean what there is
            message = str(record.msg)
        message = self._name_the_timeout(message)
        record.msg, record.args = hide_private_text(message), ()
        if record.exc_info and not record.exc_text:
            trace = logging.Formatter().formatException(record.exc_info)
            record.exc_text = hide_private_text(trace)
        return True

    def _name_the_timeout(self, message: str) -> str:
        """gunicorn kills a worker that outlived its timeout with SIGKILL, then guesses "out of
        memory": say what happened instead, so nobody goes looking for a memory leak."""
        if found := TIMED_OUT.search(message):
            self.timed_out.add(found.group(1))
        elif (found := KILLED.search(message)) and found.group(1) in self.timed_out:
            self.timed_out.discard(found.group(1))
            return (
                f"Worker (pid:{found.group(1)}) was sent SIGKILL after its WORKER TIMEOUT: a"
                " request took longer than gunicorn's --timeout (a database lock held too long?"
                " see DATABASE_STATEMENT_TIMEOUT_SECONDS), not out of memory."
            )
        return message


class PrivateAccessLog(Logger):
    private_error_log = PrivateErrorLog()

    def setup(self, cfg):
        super().setup(cfg)
        self.error_log.addFilter(self.private_error_log)  # once, however often setup runs

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if key in ("q", "{query_string}e"):
                atoms[key] = ""
            elif isinstance(value, str):
                atoms[key] = hide_private_address(value)
        return atoms
