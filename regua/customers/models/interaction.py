from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped

from .company import Company
from .contact import Contact


class InteractionKind(models.TextChoices):
    NOTE = "note", _("Note")
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("E-mail")
    WHATSAPP = "whatsapp", _("WhatsApp")
    SMS = "sms", _("SMS")
    VISIT = "visit", _("Visit")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class Interaction(TimeStamped):
    """Something a person on the team did with a contact: a note, a call, a meeting…"""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="interactions", db_index=False
    )
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="interactions"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=InteractionKind.choices)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, blank=True
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("notes"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("when"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [models.Index(fields=["contact", "occurred_at"], name="interaction_contact_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.subject or self.body[:40]}"
