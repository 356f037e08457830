"""The shared cache in PostgreSQL, cheap enough to count every booking form's submissions.

Django's DatabaseCache counts the whole table (`SELECT COUNT(*)`) on every write, to decide
whether to cull it, and wraps each write in a transaction; django-ratelimit's add-then-incr
then costs five or six queries a POST. Here each operation is one statement:

- a write is one `INSERT ... ON CONFLICT` (`add` replaces only an expired entry);
- the table is culled on every CULL_EVERY-th write of a process (OPTIONS, default 50), not
  counted on each: between culls it may grow past MAX_ENTRIES by at most that many writes per
  process, and expired entries are left for the next cull rather than deleted on read;
- whole numbers are stored as text ("int:41") rather than base64 pickles, so `incr` is one
  atomic `UPDATE ... RETURNING` that two processes can run at once without losing a count.

The table is the one `createcachetable` makes; every process must use this backend (stock
DatabaseCache cannot read the "int:" values).
"""

from __future__ import annotations

import base64
import itertools
import pickle
from datetime import UTC, datetime

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as StockDatabaseCache
from django.db import connections, router
from django.utils.timezone import now as tz_now

INT_PREFIX = "int:"  # ":" is not a base64 character, so no pickle starts with this.


class DatabaseCache(StockDatabaseCache):
    def __init__(self, table, params):
        super().__init__(table, params)
        options = params.get("OPTIONS") or {}
        self._cull_every = max(int(options.get("CULL_EVERY", 50)), 1)
        self._writes = itertools.count(1)

    def _encode(self, value) -> str:
        if type(value) is int:
            return f"{INT_PREFIX}{value}"
        return base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")

    @staticmethod
    def _decode(text: str):
        if text.startswith(INT_PREFIX):
            return int(text[len(INT_PREFIX) :])
        return pickle.loads(base64.b64decode(text.encode()))

    def _connection(self, *, write: bool):
        route = router.db_for_write if write else router.db_for_read
        db = route(self.cache_model_class)
        return db, connections[db]

    def get_many(self, keys, version=None):
        if not keys:
            return {}
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        _, connection = self._connection(write=False)
        table = connection.ops.quote_name(self._table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT cache_key, value FROM {table} WHERE cache_key = ANY(%s) AND expires >= %s",
                [list(key_map), tz_now()],
            )
            rows = cursor.fetchall()
        return {key_map[key]: self._decode(value) for key, value in rows}

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        self._write(key, value, timeout, only_if_expired=False)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        return self._write(key, value, timeout, only_if_expired=True)

    def _write(self, key: str, value, timeout, *, only_if_expired: bool) -> bool:
        timeout = self.get_backend_timeout(timeout)
        if timeout is None:
            expires = datetime.max.replace(tzinfo=UTC)
        else:
            expires = datetime.fromtimestamp(timeout, tz=UTC)
        now = tz_now().replace(microsecond=0)
        db, connection = self._connection(write=True)
        table = connection.ops.quote_name(self._table)
        condition = f"WHERE {table}.expires < %s" if only_if_expired else ""
        with connection.cursor() as cursor:
            if next(self._writes) % self._cull_every == 0:
                cursor.execute(f"SELECT COUNT(*) FROM {table}")
                entries = cursor.fetchone()[0]
                if entries > self._max_entries:
                    self._cull(db, cursor, now, entries)
            cursor.execute(
                f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, %s, %s) "
                "ON CONFLICT (cache_key) DO UPDATE "
                f"SET value = EXCLUDED.value, expires = EXCLUDED.expires {condition} RETURNING 1",
                [key, self._encode(value), expires.replace(microsecond=0)]
                + ([now] if only_if_expired else []),
            )
            return cursor.fetchone() is not None

    def incr(self, key, delta=1, version=None):
        made_key = self.make_and_validate_key(key, version=version)
        _, connection = self._connection(write=True)
        table = connection.ops.quote_name(self._table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET value = %s || (substr(value, %s)::bigint + %s)::text "
                "WHERE cache_key = %s AND expires >= %s AND starts_with(value, %s) "
                "RETURNING value",
                [INT_PREFIX, len(INT_PREFIX) + 1, delta, made_key, tz_now(), INT_PREFIX],
            )
            row = cursor.fetchone()
        if row is not None:
            return self._decode(row[0])
        # Missing (ValueError, as Django's caches say) or not a stored whole number.
        return super().incr(key, delta, version)
