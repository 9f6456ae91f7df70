"""The shared cache: Django's database cache, quiet when a key is already there.

What every gunicorn worker, web machine and worker process must agree on without a
server of its own to run (the best sellers of regua/analytics/recommendations.py, and
who refreshes them) lives in a table of the database, the one server Régua always has
(settings.CACHES["shared"], created by the migration
regua/users/migrations/0002_shared_cache.py). Rate limits count in a table of their own
(core.RateCount, regua/core/ratelimits.py), one statement a count.
"""

from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache


class DatabaseCache(DjangoDatabaseCache):
    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        # Django's add tries an INSERT when the key is there and lets it fail, which on
        # PostgreSQL logs a unique-violation error per call; a live key answers False
        # at once instead.
        if self.has_key(key, version=version):
            return False
        return super().add(key, value, timeout, version)
