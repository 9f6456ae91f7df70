from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import DailyRun
from regua.customers.models import Contact


class Event(models.Model):
    """Something a contact did, as the shop or product reported it. Append-only.

    The identity (contact, name, occurred_at, fingerprint) is unique, so the same event
    sent twice — a retried API call, a re-imported file — is stored once. The fingerprint
    is a 64-bit hash of the sender's event id, or of the properties when there is none.
    The same unique index serves the engine's "events of this contact by name and time".
    No updated_at: events are never changed, with one exception. An `nps_answered`
    event from a survey link is amended in place when the customer changes the answer
    within REGUA_NPS_EDIT_HOURS (its properties get the new score, category and comment
    and an `edited_at`; its identity and time stay): a second event would count the same
    customer twice in the NPS, and the first answer, superseded within minutes or hours
    by the customer, is not a fact worth keeping. See regua/cadences/surveys.py.
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    name = models.CharField(_("name"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"))
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    fingerprint = models.BigIntegerField(editable=False)
    source = models.CharField(_("source"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "name", "occurred_at", "fingerprint"], name="event_identity"
            ),
        ]
        # With the contact: the réguas' triggers, exits and inactivity read who did what
        # in a time range from the index alone, without visiting the rows.
        indexes = [
            models.Index(fields=["name", "occurred_at", "contact"], name="event_name_time_idx"),
            # The tick's look for a trigger's events received since its last one
            # (cadences/triggers.py; migration 0006 says why not a BRIN).
            models.Index(fields=["name", "created_at"], name="event_name_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class EventSummary(models.Model):
    """A contact's events of one name in one month, once the raw events were archived.

    Written only by retention.events_archive, which deletes the raw rows it counts in the
    same transaction, so a count is never held twice. The month is the business month
    (settings.TIME_ZONE), stored as its first day. Segment rules, the dossier and the
    timeline add these rows to the raw events (docs/deploy.md §Event retention and archival).
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="event_summaries", db_index=False
    )
    name = models.CharField(_("name"), max_length=64)
    month = models.DateField(_("month"))
    count = models.PositiveIntegerField(_("count"))
    first_at = models.DateTimeField(_("first at"))
    last_at = models.DateTimeField(_("last at"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "name"]
        verbose_name = _("monthly event total")
        verbose_name_plural = _("monthly event totals")
        constraints = [
            # The archive's idempotency key.
            models.UniqueConstraint(
                fields=["contact", "name", "month"], name="event_summary_identity"
            ),
        ]
        # Segment rules ask, per contact, for the archived count of a name since a time:
        # answered from this index alone (about twice as fast on 1M summary rows).
        indexes = [
            models.Index(
                fields=["contact", "name", "last_at", "count"], name="event_summary_reads_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} × {self.count} @ {self.month:%Y-%m}"


class ArchiveRun(DailyRun):
    """The marker and record of a day's scheduled archive (retention.events_archive_due)."""

    class Meta(DailyRun.Meta):
        verbose_name = _("event archive run")
        verbose_name_plural = _("event archive runs")
