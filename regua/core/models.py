from datetime import date, datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimeStamped(models.Model):
    """created_at / updated_at for every table (STYLE.md §Models)."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class DailyRun(models.Model):
    """A chore done once per business day however many workers ask for it, and its
    record: the first worker to ask after the chore's local hour creates the day's row
    (a unique day) and so wins it; the job that does the chore writes its summary.

    Subclasses (events.ArchiveRun, privacy.RetentionRun) name only their table.
    """

    day = models.DateField(_("day"), unique=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}"

    @staticmethod
    def business_day(now: datetime) -> date:
        return timezone.localtime(now, timezone.get_default_timezone()).date()

    @classmethod
    def claim(cls, now: datetime, *, hour: int) -> bool:
        """True for the one caller that takes today's run: once `hour` has struck in
        the business time zone (settings.TIME_ZONE), and only if nobody took it yet."""
        local = timezone.localtime(now, timezone.get_default_timezone())
        if local.hour < hour:
            return False
        with transaction.atomic():
            _run, created = cls.objects.get_or_create(day=local.date())
        return created

    @classmethod
    def finish(cls, now: datetime, summary: dict[str, Any]) -> None:
        """Record the summary of the run of `now`'s business day."""
        cls.objects.filter(day=cls.business_day(now)).update(
            finished_at=timezone.now(), summary=summary
        )


class RateCount(models.Model):
    """Requests counted by one rate limit, for one client address, e-mail address or API
    key, in one window (regua/core/ratelimits.py). The key is 64 bits of a SHA-256 of the
    limit, what it counts by and the window's end, so no address is stored. A row lives
    for one window; updated_at is the last counted request."""

    key = models.BigIntegerField(primary_key=True)
    hits = models.PositiveIntegerField()
    expires = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires"]
        verbose_name = _("rate limit count")
        verbose_name_plural = _("rate limit counts")

    def __str__(self) -> str:
        return f"{self.key} × {self.hits}"
