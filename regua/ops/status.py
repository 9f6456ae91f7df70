"""What the status page, /healthz and /metrics report: one read, plain data.

The lags and the workers are read on every call (indexed MIN queries and a small
table). Counting the deliveries by status visits the whole delivery table, so that
count is cached for COUNTS_SECONDS per web process: monitoring scrapes every few
seconds and must not become the database's heaviest query.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min
from django.utils import timezone

from .models import WorkerBeat

COUNTS_SECONDS = 30
IMPORT_WINDOW = timedelta(days=1)


@dataclass
class Worker:
    beat: WorkerBeat
    alive: bool
    beat_age_seconds: float


@dataclass
class ImportThroughput:
    rows: int
    seconds: float
    finished_at: datetime

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class SystemStatus:
    now: datetime
    queue_lag_seconds: float
    desk_outbox_lag_seconds: float
    jobs_lag_seconds: float
    workers: list[Worker] = field(default_factory=list)
    deliveries_by_status: dict[str, int] = field(default_factory=dict)
    last_import: ImportThroughput | None = None
    imports_running: int = 0

    @property
    def workers_alive(self) -> list[Worker]:
        return [worker for worker in self.workers if worker.alive]

    @property
    def sent_last_minute(self) -> int:
        return sum(worker.beat.sent_last_minute for worker in self.workers_alive)

    @property
    def delivery_rows(self) -> list[tuple[str, int]]:
        from regua.cadences.models import DeliveryStatus

        labels = dict(DeliveryStatus.choices)
        return [(str(labels[name]), n) for name, n in self.deliveries_by_status.items()]

    @property
    def tick_seconds(self) -> float | None:
        ticks = [w.beat.tick_seconds for w in self.workers_alive if w.beat.tick_seconds is not None]
        return max(ticks) if ticks else None


def lag(now: datetime, oldest: datetime | None) -> float:
    return round(max((now - oldest).total_seconds(), 0.0), 1) if oldest else 0.0


def queue_lags(now: datetime) -> tuple[float, float]:
    """How late the oldest due régua delivery and the oldest desk reply are, in seconds."""
    from regua.cadences.models import Delivery, DeliveryStatus
    from regua.desk.models import Message, SendStatus

    oldest_delivery = Delivery.objects.filter(
        status=DeliveryStatus.SCHEDULED, due_at__lte=now
    ).aggregate(oldest=Min("due_at"))["oldest"]
    oldest_reply = Message.objects.filter(
        send_status=SendStatus.PENDING, next_attempt_at__lte=now
    ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    return lag(now, oldest_delivery), lag(now, oldest_reply)


def workers_read(now: datetime) -> list[Worker]:
    stale = settings.REGUA_WORKER_STALE_SECONDS
    workers = []
    for beat in WorkerBeat.objects.all():
        age = max((now - beat.beat_at).total_seconds(), 0.0)
        workers.append(Worker(beat, beat.stopped_at is None and age <= stale, round(age, 1)))
    return workers


def deliveries_by_status() -> dict[str, int]:
    from regua.cadences.models import Delivery, DeliveryStatus

    counts = cache.get("ops:deliveries_by_status")
    if counts is None:
        found = dict(
            Delivery.objects.order_by()
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        counts = {status: found.get(status, 0) for status in DeliveryStatus.values}
        cache.set("ops:deliveries_by_status", counts, COUNTS_SECONDS)
    return counts


def _jobs_lag(now: datetime) -> float:
    """How long the oldest background job (an import, an export) has waited to start."""
    from django_tasks_db.models import DBTaskResult

    # Counted from when it was queued: a job's run_after is a far-future sentinel when
    # it has none, and a scheduled job is not ready (so not late) before it.
    oldest = DBTaskResult.objects.ready().aggregate(oldest=Min("enqueued_at"))["oldest"]
    return lag(now, oldest)


def _imports(now: datetime) -> tuple[ImportThroughput | None, int]:
    from regua.imports.models import ImportJob, ImportStatus

    last = (
        ImportJob.objects.filter(
            status=ImportStatus.DONE,
            finished_at__gte=now - IMPORT_WINDOW,
            started_at__isnull=False,
        )
        .order_by("-finished_at")
        .only("rows", "started_at", "finished_at")
        .first()
    )
    running = ImportJob.objects.filter(status=ImportStatus.RUNNING).count()
    if last is None or last.started_at is None or last.finished_at is None:
        return None, running
    seconds = (last.finished_at - last.started_at).total_seconds()
    return ImportThroughput(last.rows, seconds, last.finished_at), running


def system_status(*, now: datetime | None = None, counts: bool = True) -> SystemStatus:
    now = now or timezone.now()
    queue_lag, desk_lag = queue_lags(now)
    last_import, running = _imports(now)
    return SystemStatus(
        now=now,
        queue_lag_seconds=queue_lag,
        desk_outbox_lag_seconds=desk_lag,
        jobs_lag_seconds=_jobs_lag(now),
        workers=workers_read(now),
        deliveries_by_status=deliveries_by_status() if counts else {},
        last_import=last_import,
        imports_running=running,
    )
