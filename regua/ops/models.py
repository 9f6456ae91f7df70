from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped


class WorkerBeat(TimeStamped):
    """What a running `regua worker` last said about itself (regua/ops/heartbeat.py).

    One row per worker process, written every REGUA_WORKER_BEAT_SECONDS with a single
    UPDATE. A worker whose beat is older than REGUA_WORKER_STALE_SECONDS is taken for
    dead (the status page, /metrics and `regua check-deploy` say so); a clean stop sets
    stopped_at. Rows of workers gone for a week are removed by the next worker to start.
    """

    name = models.CharField(_("worker"), max_length=200, unique=True)
    host = models.CharField(_("host"), max_length=150)
    pid = models.PositiveIntegerField(_("process id"))
    started_at = models.DateTimeField(_("started at"))
    beat_at = models.DateTimeField(_("last heartbeat"))
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    sent_total = models.PositiveBigIntegerField(_("messages handled"), default=0)
    sent_last_minute = models.PositiveIntegerField(_("messages in the last minute"), default=0)
    errors_total = models.PositiveIntegerField(_("errors"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    tick_seconds = models.FloatField(_("last tick (seconds)"), null=True, blank=True)
    ticked_at = models.DateTimeField(_("last tick at"), null=True, blank=True)

    class Meta:
        ordering = ["host", "pid"]
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return self.name
