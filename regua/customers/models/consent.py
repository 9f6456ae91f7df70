from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped

from .contact import Contact


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    PHONE = "phone", _("Phone")


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Consent(TimeStamped):
    """A contact's current permission to be contacted on one channel (LGPD).

    The guards at send time read this row; ConsentChange keeps how it came to be.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=60, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        ordering = ["contact", "channel"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(fields=["contact", "channel"], name="consent_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.get_status_display()}"


class ConsentChange(models.Model):
    """Append-only log of every consent given or withdrawn, with its source and time.

    No updated_at: rows are never changed.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_log")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=60, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")

    def __str__(self) -> str:
        return f"{self.channel}: {self.status} ({self.source})"
