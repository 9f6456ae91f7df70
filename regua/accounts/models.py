"""The account plan: a company's relationship roadmap, its initiatives and its review.

A plan says what the team wants from the account (the objective) and how it gets there:
dated initiatives, each with an owner and a status. The plan is reviewed on a date; that
date is an open task in the plan owner's agenda (`review_task`), kept in step by
services.account_plan_save() and renewed by account_plan_review_complete().
"""

from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped
from regua.customers.models import Company


class AccountPlan(TimeStamped):
    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="account_plan", verbose_name=_("company")
    )
    objective = models.TextField(
        _("objective"),
        blank=True,
        help_text=_("What the team wants from this account, and why, in a few lines."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="account_plans",
        verbose_name=_("owner"),
    )
    review_on = models.DateField(_("next review"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("last reviewed at"), null=True, blank=True)
    # The one open task that carries review_on into the owner's agenda.
    review_task = models.OneToOneField(
        "agenda.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="account_plan",
        verbose_name=_("review task"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["review_on", "id"]
        verbose_name = _("account plan")
        verbose_name_plural = _("account plans")
        indexes = [models.Index(fields=["review_on"], name="accountplan_review_idx")]

    def __str__(self) -> str:
        return str(self.company)

    def review_is_overdue(self, today: date) -> bool:
        return self.review_on is not None and self.review_on < today


class InitiativeStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    # "Called off", not "Cancelled": pt-BR needs the feminine (iniciativa cancelada), and
    # the msgid "Cancelled" is already translated for masculine things.
    CANCELLED = "cancelled", _("Called off")


OPEN_STATUSES = (InitiativeStatus.PLANNED, InitiativeStatus.IN_PROGRESS)


class Initiative(TimeStamped):
    """One step of the roadmap: a meeting, a proposal, a training, a pilot…"""

    plan = models.ForeignKey(
        AccountPlan, on_delete=models.CASCADE, related_name="initiatives", verbose_name=_("plan")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="initiatives",
        verbose_name=_("owner"),
    )
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    due_on = models.DateField(_("due on"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=InitiativeStatus.choices,
        default=InitiativeStatus.PLANNED,
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        ordering = ["due_on", "starts_on", "id"]
        verbose_name = _("initiative")
        verbose_name_plural = _("initiatives")
        indexes = [
            models.Index(fields=["plan", "due_on"], name="initiative_plan_idx"),
            models.Index(fields=["status", "due_on"], name="initiative_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(starts_on__isnull=True)
                | models.Q(starts_on__lte=models.F("due_on")),
                name="initiative_starts_before_due",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_on < today
