from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped


class ImportKind(models.TextChoices):
    CONTACTS = "contacts", _("Contacts")
    COMPANIES = "companies", _("Companies")
    ORDERS = "orders", _("Orders")
    EVENTS = "events", _("Events")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(TimeStamped):
    """A CSV file uploaded in the UI and imported in the background, with its report.

    Each chunk of rows is written in one transaction with the job's progress (its counts
    and `lines_done`), so the report always matches the tables, and an import whose
    process died or failed goes on after the last chunk it wrote (services.py).
    """

    MAX_STORED_ERRORS = 1000
    # A running import writes its progress after every chunk, seconds apart: one silent
    # this long has lost its process (killed, or the machine went down).
    STALLED_AFTER = timedelta(minutes=10)

    kind = models.CharField(_("kind"), max_length=10, choices=ImportKind.choices)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    create_contacts = models.BooleanField(
        _("create unknown contacts"),
        default=True,
        help_text=_("Orders and events for an unknown customer create the contact."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total_bytes = models.PositiveBigIntegerField(default=0)
    processed_bytes = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveIntegerField(_("rows read"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    contacts_created = models.PositiveIntegerField(_("contacts created"), default=0)
    # The file's last line written: a resumed import reads on from the next one.
    lines_done = models.PositiveIntegerField(default=0)
    # The first MAX_STORED_ERRORS row errors; `skipped` says how many rows were bad.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    failure = models.TextField(_("failure"), blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    language = models.CharField(max_length=10, blank=True)  # of the report's messages
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="imports",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.original_name}"

    @property
    def progress_percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total_bytes:
            return 0
        return min(99, int(100 * self.processed_bytes / self.total_bytes))

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)

    @property
    def is_stalled(self) -> bool:
        """Running, but its process has written nothing for STALLED_AFTER."""
        return (
            self.status == ImportStatus.RUNNING
            and self.updated_at < timezone.now() - self.STALLED_AFTER
        )

    @property
    def can_retry(self) -> bool:
        return self.status == ImportStatus.FAILED or self.is_stalled
