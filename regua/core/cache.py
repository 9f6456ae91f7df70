"""The shared cache: Django's database cache with a counter every process can trust.

Rate limits (regua/core/ratelimits.py) count requests in a cache that every gunicorn
worker and every web machine must share. The database is the one server Régua always
has, so the cache is a table in it (settings.CACHES["shared"], created by the migration
regua/users/migrations/0002_shared_cache.py). Django's DatabaseCache increments with a
read and a write, so two processes counting at once can both write the same number and
lose a request; django-ratelimit refuses that backend for this reason. Here `incr` reads
and writes in one transaction with the row locked (SELECT ... FOR UPDATE on PostgreSQL;
SQLite's IMMEDIATE transactions take the write lock at BEGIN), so no count is lost.
On PostgreSQL that transaction commits without waiting for its WAL to reach the disk
(synchronous_commit off, for it alone): a crash may forget the last fraction of a
second's counts, which a rate limit can afford, and each API call no longer waits for
two disk flushes behind the workers' writes before its own work starts, holding the
key's counter row locked meanwhile.
"""

import base64
import pickle
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, router, transaction
from django.utils.timezone import now as tz_now


class DatabaseCache(DjangoDatabaseCache):
    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        quote = connection.ops.quote_name
        table = quote(self._table)  # type: ignore[attr-defined]
        cache_key, value_column = quote("cache_key"), quote("value")
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        now = connection.ops.adapt_datetimefield_value(tz_now().replace(microsecond=0))
        with transaction.atomic(using=db), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute(
                f"SELECT {value_column} FROM {table} "
                f"WHERE {cache_key} = %s AND {quote('expires')} > %s{lock}",
                [key, now],
            )
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key '{key}' not found.")
            stored = connection.ops.process_clob(row[0])
            value = pickle.loads(base64.b64decode(stored.encode())) + delta  # noqa: S301 (our rows)
            encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(
                f"UPDATE {table} SET {value_column} = %s WHERE {cache_key} = %s",
                [encoded, key],
            )
        return value

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        # Django's add tries an INSERT when the key is there and lets it fail, which on
        # PostgreSQL logs a unique-violation error per counted request; a live key
        # answers False at once instead.
        if self.has_key(key, version=version):
            return False
        return super().add(key, value, timeout, version)
