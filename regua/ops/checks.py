"""Régua's own deploy checks, run by `regua check-deploy` next to Django's `check --deploy`.

Each says what is wrong for a production install and what to do (docs/deploy.md). The
checks that read the database (a worker's heartbeat, the queue) run only when the check
command is given a database, as `regua check-deploy` does.
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError, connections

from regua.lib.env import env_str

NOT_SENDING_BACKENDS = {
    "regua.cadences.channels.outbox.EmailBackend": "outbox",
    "django.core.mail.backends.console.EmailBackend": "console",
    "django.core.mail.backends.locmem.EmailBackend": "locmem",
    "django.core.mail.backends.filebased.EmailBackend": "filebased",
    "django.core.mail.backends.dummy.EmailBackend": "dummy",
}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1", "0.0.0.0"}  # noqa: S104
QUEUE_LAG_WARNING_SECONDS = 300


@register("regua", deploy=True)
def settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    backend = NOT_SENDING_BACKENDS.get(settings.EMAIL_BACKEND)
    if backend:
        found.append(
            Error(
                f"EMAIL_BACKEND is {backend!r}: e-mail is kept, not sent.",
                hint="Set EMAIL_BACKEND=smtp (with EMAIL_HOST...) or an anymail provider.",
                id="regua.E001",
            )
        )
    site = urlsplit(settings.REGUA_SITE_URL)
    if site.hostname in LOCAL_HOSTS or site.hostname is None:
        found.append(
            Error(
                f"REGUA_SITE_URL is {settings.REGUA_SITE_URL!r}: links in messages would "
                "point to this machine.",
                hint="Set REGUA_SITE_URL to the public address, e.g. https://crm.example.com.br.",
                id="regua.E002",
            )
        )
    elif site.scheme != "https":
        found.append(
            Warning(
                "REGUA_SITE_URL is not https: unsubscribe and survey links travel in clear.",
                id="regua.W003",
            )
        )
    if not env_str("SECRET_KEY"):
        found.append(
            Warning(
                "SECRET_KEY is not set in the environment: this machine generated one in "
                "REGUA_VAR_DIR, and another web machine would generate a different one.",
                hint="Set SECRET_KEY to the same secret on every web and worker machine.",
                id="regua.W004",
            )
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        found.append(
            Warning(
                "The database is SQLite: right for one machine, not for web processes or "
                "workers on several machines.",
                hint="Set DATABASE_URL=postgres://... (docs/deploy.md).",
                id="regua.W005",
            )
        )
    if not settings.REGUA_METRICS_TOKEN:
        found.append(
            Warning(
                "REGUA_METRICS_TOKEN is not set: /metrics answers only to managers signed in.",
                hint="Set a long random token and give it to Prometheus (bearer_token).",
                id="regua.W006",
            )
        )
    if settings.DEFAULT_FROM_EMAIL.rstrip(">").endswith("@localhost"):
        found.append(
            Error(
                f"DEFAULT_FROM_EMAIL is {settings.DEFAULT_FROM_EMAIL!r}: mail servers "
                "reject or junk messages from it.",
                hint="Set DEFAULT_FROM_EMAIL to an address of your domain.",
                id="regua.E007",
            )
        )
    return found


@register("regua", "database", deploy=True)
def workers_check(
    app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    if not databases or "default" not in databases:
        return []
    from django.utils import timezone

    from .status import queue_lags, workers_read

    now = timezone.now()
    try:
        connections["default"].ensure_connection()
        alive = [worker for worker in workers_read(now) if worker.alive]
        queue_lag, _ = queue_lags(now)
    except DatabaseError as error:
        return [Error(f"The database cannot be read: {error}", id="regua.E010")]
    found: list[CheckMessage] = []
    if not alive:
        found.append(
            Error(
                f"No worker has beaten in the last {settings.REGUA_WORKER_STALE_SECONDS} s: "
                "nothing is being sent.",
                hint="Start `regua worker` (docs/deploy.md has a systemd unit).",
                id="regua.E011",
            )
        )
    if queue_lag > QUEUE_LAG_WARNING_SECONDS:
        found.append(
            Warning(
                f"The oldest due delivery is {queue_lag:.0f} s late.",
                hint="The workers do not keep up, or cannot send: see /status/.",
                id="regua.W012",
            )
        )
    return found
