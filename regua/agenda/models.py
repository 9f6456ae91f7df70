"""The account manager's follow-ups. Here: the task a régua's human step creates.

The agenda pages (today, week, hand-over) build on this model later; what the engine
needs now is a dated task for the contact's owner that cannot be created twice for the
same delivery.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped
from regua.customers.models import Company, Contact


class TaskKind(models.TextChoices):
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("E-mail")
    VISIT = "visit", _("Visit")
    OTHER = "other", _("Other")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class TaskPriority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")


class Task(TimeStamped):
    kind = models.CharField(_("kind"), max_length=10, choices=TaskKind.choices)
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("owner"),
    )
    due_on = models.DateField(_("due date"))
    due_time = models.TimeField(_("time"), null=True, blank=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    # Where the task came from: a régua step's delivery (one task per delivery), later
    # an SLA breach or an NPS detractor.
    source = models.CharField(_("source"), max_length=20, blank=True)
    delivery = models.OneToOneField(
        "cadences.Delivery",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="task",
    )

    class Meta:
        ordering = ["due_on", "due_time", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["owner", "status", "due_on"], name="task_owner_due_idx"),
            models.Index(fields=["contact", "status"], name="task_contact_idx"),
        ]

    def __str__(self) -> str:
        return self.title
