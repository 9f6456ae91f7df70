"""The audit log, the record of erasures and the daily retention marker."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import DailyRun


class AuditAction(models.TextChoices):
    VIEWED_EXPORT = "viewed_export", _("Viewed an export")
    EXPORTED_SUBJECT = "exported_subject", _("Exported a data subject's data")
    CHANGED_CONSENT = "changed_consent", _("Changed consent")
    ERASED_CONTACT = "erased_contact", _("Erased a contact")
    HANDED_OVER = "handed_over", _("Handed over work")
    CHANGED_REGUA = "changed_regua", _("Changed a régua")
    APPLIED_RETENTION = "applied_retention", _("Applied the retention rules")


class AuditEntry(models.Model):
    """Who did what to personal data, or to what decides who gets messages. Append-only.

    Nothing here may identify a customer but their id: the label names the object in
    words that hold no personal data ("contact #42", "régua boas-vindas") and the detail
    holds counts, keys and choices only, so an erased contact leaves nothing behind in
    the log while the log still says that someone erased contact #42, and who.
    `contact_id` is a plain number, not a foreign key: the entry outlives the contact.
    Rows are only ever added (audit.record) and, past REGUA_AUDIT_RETENTION_MONTHS,
    deleted by the retention run; the admin site shows them read-only.
    """

    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # audit_actor_idx leads with it
    )
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    contact_id = models.PositiveBigIntegerField(_("contact"), null=True, blank=True)
    object_type = models.CharField(_("object type"), max_length=40, blank=True)
    object_id = models.CharField(_("object id"), max_length=100, blank=True)
    label = models.CharField(_("object"), max_length=200, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [
            models.Index(fields=["action", "created_at"], name="audit_action_idx"),
            models.Index(fields=["actor", "created_at"], name="audit_actor_idx"),
            models.Index(fields=["contact_id"], name="audit_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.label}"


class ErasureReason(models.TextChoices):
    REQUEST = "request", _("The person asked")
    RETENTION = "retention", _("Retention period over")


class Erasure(models.Model):
    """A contact that was erased: when, by whom, and how many rows of each table were
    anonymised or deleted (the counts an erasure keeps where the rows go).

    The contact row itself stays, anonymised, so that orders, events and deliveries keep
    counting in the reports; this row says it is no longer a person."""

    contact = models.OneToOneField(
        "customers.Contact",
        on_delete=models.CASCADE,
        related_name="erasure",
        verbose_name=_("contact"),
    )
    erased_at = models.DateTimeField(_("erased at"))
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("erased by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(
        _("reason"), max_length=10, choices=ErasureReason.choices, default=ErasureReason.REQUEST
    )
    counts = models.JSONField(_("rows"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-erased_at", "-id"]
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")

    def __str__(self) -> str:
        return f"#{self.contact_id} @ {self.erased_at:%Y-%m-%d}"


class RetentionRun(DailyRun):
    """The marker and record of a day's retention run (retention.retention_due)."""

    class Meta(DailyRun.Meta):
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
