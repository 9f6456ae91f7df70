from django.db import models
from django.utils.translation import gettext_lazy as _

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
            models.Index(fields=["name", "occurred_at", "contact"], name="event_name_time_idx")
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.occurred_at:%Y-%m-%d %H:%M}"
