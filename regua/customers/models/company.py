from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped
from regua.lib.brazil import STATE_CHOICES
from regua.lib.text import search_key

from .contact import Contact


class Level(models.TextChoices):
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class Company(TimeStamped):
    """A business customer (B2B), classified for the account plan's ABC matrix."""

    external_id = models.CharField(
        _("external id"), max_length=100, unique=True, null=True, blank=True
    )
    name = models.CharField(_("name"), max_length=200)
    search_name = models.CharField(max_length=200, editable=False, default="")
    cnpj = models.CharField(
        _("CNPJ"),
        max_length=14,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Brazilian company registry number, digits only."),
    )
    domain = models.CharField(_("website domain"), max_length=120, blank=True, db_index=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=2, choices=STATE_CHOICES, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="companies",
    )
    profitability = models.CharField(
        _("profitability"), max_length=6, choices=Level.choices, blank=True
    )
    purchase_potential = models.CharField(
        _("purchase potential"), max_length=6, choices=Level.choices, blank=True
    )
    relationship_degree = models.CharField(
        _("relationship degree"), max_length=6, choices=Level.choices, blank=True
    )
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    contacts = models.ManyToManyField(Contact, through="ContactRole", related_name="companies")

    class Meta:
        ordering = ["search_name", "id"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [models.Index(fields=["search_name", "id"], name="company_name_idx")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.search_name = search_key(self.name)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class PowerRole(models.TextChoices):
    """A contact's part in the company's buying decisions (the power map)."""

    DECISION_MAKER = "decision_maker", _("Decision maker")
    INFLUENCER = "influencer", _("Influencer")
    USER = "user", _("User")
    OTHER = "other", _("Other")


class ContactRole(TimeStamped):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="roles")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(
        _("role"), max_length=16, choices=PowerRole.choices, default=PowerRole.OTHER
    )
    job_title = models.CharField(_("job title"), max_length=100, blank=True)

    class Meta:
        ordering = ["company", "role", "contact"]
        verbose_name = _("role in a company")
        verbose_name_plural = _("roles in companies")
        constraints = [
            models.UniqueConstraint(fields=["contact", "company"], name="contact_company_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} · {self.get_role_display()} · {self.company}"
