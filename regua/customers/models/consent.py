from django.conf import settings
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


class ConsentPurpose(models.TextChoices):
    """What the permission on a channel is for (LGPD art. 8 §4: consent is given for
    stated purposes; a generic authorisation is void)."""

    MARKETING = "marketing", _("Marketing")
    SERVICE = "service", _("Service messages")
    SURVEY = "survey", _("Surveys")


class LegalBasis(models.TextChoices):
    """The legal bases for processing personal data of LGPD art. 7 (items I to X)."""

    CONSENT = "consent", _("Consent (art. 7, I)")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal or regulatory obligation (art. 7, II)")
    PUBLIC_POLICY = "public_policy", _("Public policy (art. 7, III)")
    RESEARCH = "research", _("Research (art. 7, IV)")
    CONTRACT = "contract", _("Performance of a contract (art. 7, V)")
    LEGAL_CLAIMS = "legal_claims", _("Exercise of rights in proceedings (art. 7, VI)")
    VITAL_INTERESTS = "vital_interests", _("Protection of life (art. 7, VII)")
    HEALTH = "health", _("Health protection (art. 7, VIII)")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest (art. 7, IX)")
    CREDIT_PROTECTION = "credit_protection", _("Credit protection (art. 7, X)")


class ConsentTerms(models.Model):
    """What a consent record says beyond yes or no: its purpose, its legal basis and the
    version of the wording the person agreed to. Shared by the current row and its
    history. The database defaults let bulk writers that name only the old columns (the
    demo loader, older scripts) go on writing valid rows."""

    purpose = models.CharField(
        _("purpose"),
        max_length=12,
        choices=ConsentPurpose.choices,
        default=ConsentPurpose.MARKETING,
        db_default=ConsentPurpose.MARKETING,
    )
    legal_basis = models.CharField(
        _("legal basis"),
        max_length=20,
        choices=LegalBasis.choices,
        default=LegalBasis.CONSENT,
        db_default=LegalBasis.CONSENT,
    )
    text_version = models.CharField(
        _("text version"),
        max_length=40,
        blank=True,
        default="",
        db_default="",
        help_text=_("The version of the consent wording the person agreed to."),
    )

    class Meta:
        abstract = True


class Consent(TimeStamped, ConsentTerms):
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


class ConsentChange(ConsentTerms):
    """Append-only log of every consent given or withdrawn, with its source, time,
    purpose, legal basis and text version, and who recorded it (none: the person
    themselves, an import or the API).

    No updated_at: rows are never changed (erasure blanks the source only).
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_log")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=60, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")

    def __str__(self) -> str:
        return f"{self.channel}: {self.status} ({self.source})"
