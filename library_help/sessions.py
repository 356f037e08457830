"""Database sessions whose ordinary save is one UPDATE.

Django wraps every session save in a transaction (a savepoint when one is open) so that a
clash on a new session key does not break the request's transaction. Only creating a session
can clash; saving an existing one is a single UPDATE, atomic by itself.
"""

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, router


class SessionStore(DatabaseSessionStore):
    def save(self, must_create=False):
        if must_create or self.session_key is None:
            return super().save(must_create=must_create)
        obj = self.create_model_instance(self._get_session(no_load=must_create))
        using = router.db_for_write(self.model, instance=obj)
        try:
            obj.save(force_update=True, using=using)
        except DatabaseError as error:
            raise UpdateError from error
