"""The worker's heartbeat: what it has done lately, written to its WorkerBeat row.

The worker loop calls `sent`, `ticked` and `failed` as things happen (cheap, in memory)
and `beat` on every turn; `beat` writes at most once every REGUA_WORKER_BEAT_SECONDS,
one UPDATE, so a busy worker pays nothing noticeable for being watched. A database error
while beating is logged and ignored: the loop has its own error handling, and a worker
must never stop because it could not say it is alive.
"""

import logging
import os
import socket
import time
from collections import deque
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from .models import WorkerBeat

log = logging.getLogger(__name__)

RATE_WINDOW = 60.0  # seconds: sent_last_minute
FORGET_AFTER = timedelta(days=7)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or worker_name()
        self.sent_total = 0
        self.errors_total = 0
        self.last_error = ""
        self.last_error_at: object = None
        self.tick_seconds: float | None = None
        self.ticked_at: object = None
        self._recent: deque[tuple[float, int]] = deque()
        self._written = 0.0

    @classmethod
    def start(cls, name: str | None = None) -> "Heartbeat":
        heartbeat = cls(name)
        now = timezone.now()
        host, _, pid = heartbeat.name.rpartition(":")
        try:
            WorkerBeat.objects.filter(beat_at__lt=now - FORGET_AFTER).delete()
            WorkerBeat.objects.update_or_create(
                name=heartbeat.name,
                defaults={
                    "host": host,
                    "pid": int(pid) if pid.isdigit() else 0,
                    "started_at": now,
                    "beat_at": now,
                    "stopped_at": None,
                    "sent_total": 0,
                    "sent_last_minute": 0,
                    "errors_total": 0,
                    "last_error": "",
                    "last_error_at": None,
                    "tick_seconds": None,
                    "ticked_at": None,
                },
            )
        except DatabaseError as error:
            log.warning("heartbeat: could not register %s: %s", heartbeat.name, error)
        heartbeat._written = time.monotonic()
        return heartbeat

    def sent(self, count: int) -> None:
        if count:
            self.sent_total += count
            self._recent.append((time.monotonic(), count))

    def ticked(self, seconds: float) -> None:
        self.tick_seconds = seconds
        self.ticked_at = timezone.now()

    def failed(self, error: BaseException) -> None:
        self.errors_total += 1
        self.last_error = f"{type(error).__name__}: {error}"[:2000]
        self.last_error_at = timezone.now()

    def sent_last_minute(self) -> int:
        horizon = time.monotonic() - RATE_WINDOW
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()
        return sum(count for _, count in self._recent)

    def beat(self, *, force: bool = False, stopped: bool = False) -> None:
        if not force and time.monotonic() - self._written < settings.REGUA_WORKER_BEAT_SECONDS:
            return
        now = timezone.now()
        fields = {
            "beat_at": now,
            "updated_at": now,
            "sent_total": self.sent_total,
            "sent_last_minute": self.sent_last_minute(),
            "errors_total": self.errors_total,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "tick_seconds": self.tick_seconds,
            "ticked_at": self.ticked_at,
        }
        if stopped:
            fields["stopped_at"] = now
        try:
            WorkerBeat.objects.filter(name=self.name).update(**fields)
        except DatabaseError as error:
            log.warning("heartbeat: %s", error)
        self._written = time.monotonic()

    def stop(self) -> None:
        self.beat(force=True, stopped=True)
