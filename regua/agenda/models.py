"""The account manager's follow-ups: dated tasks, their outcomes, and who moved them.

A task is a divider of the old paper binder: it has a day, an owner and, once done, an
outcome and the task that follows it (or the reason nothing follows). Tasks come from the
team, from régua steps (one per delivery), from account plans, NPS detractors and SLA
breaches. Hand-overs move tasks, and whole portfolios, between users; every move is kept.
"""

import secrets
from datetime import date

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


# What a task of each kind usually takes, for the day's estimated time.
MINUTES_BY_KIND = {"call": 15, "meeting": 60, "email": 10, "visit": 90, "other": 15}
# Completing one of these asks for its outcome and the next contact date.
FOLLOW_UP_KINDS = frozenset({"call", "meeting"})


class TaskSource(models.TextChoices):
    MANUAL = "manual", _("Created by the team")
    FOLLOW_UP = "follow_up", _("Follow-up of a task")
    REGUA = "regua", _("Régua step")
    ACCOUNT_PLAN = "account_plan", _("Account plan review")
    NPS = "nps", _("NPS detractor")
    SLA = "sla", _("SLA breach")


class NoFollowUpReason(models.TextChoices):
    """Why a call or meeting ends the follow-ups: it must be said, never implied."""

    WON = "won", _("Deal won: no follow-up needed")
    LOST = "lost", _("Deal lost")
    NOT_INTERESTED = "not_interested", _("Customer not interested")
    UNREACHABLE = "unreachable", _("Customer unreachable")
    WRONG_CONTACT = "wrong_contact", _("Wrong contact")
    HANDLED_ELSEWHERE = "elsewhere", _("Followed up in another task or ticket")


class TaskPriority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")


class Task(TimeStamped):
    kind = models.CharField(_("kind"), max_length=10, choices=TaskKind.choices)
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    # The composite indexes below lead with contact, company and owner: no index of
    # their own (each index costs every task written and every hand-over).
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
        db_index=False,
    )
    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
        db_index=False,  # task_company_idx leads with it
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("owner"),
        db_index=False,
        # No foreign-key constraint in PostgreSQL: it would check every row a hand-over
        # gives away, one at a time at commit (0.4 s for 100,000 tasks). Django sets the
        # owner to NULL when a user is deleted; users are deactivated, not deleted.
        db_constraint=False,
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
    estimated_minutes = models.PositiveSmallIntegerField(
        _("estimated minutes"), null=True, blank=True
    )
    outcome = models.TextField(_("outcome"), blank=True)
    no_follow_up_reason = models.CharField(
        _("reason for no further contact"),
        max_length=16,
        choices=NoFollowUpReason.choices,
        blank=True,
    )
    # At most one follow-up per task and one task per delivery (task_follows_unique,
    # task_delivery_unique): unique only where set, so the many tasks without one add
    # nothing to those indexes, and a hand-over moving them updates two indexes fewer.
    follows = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("follows"),
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Where the task came from: a régua step's delivery (one task per delivery), an
    # account plan's review, an NPS detractor, an SLA breach, the team.
    source = models.CharField(
        _("source"), max_length=20, choices=TaskSource.choices, default=TaskSource.MANUAL
    )
    delivery = models.ForeignKey(
        "cadences.Delivery",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["due_on", "due_time", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["owner", "status", "due_on"], name="task_owner_due_idx"),
            models.Index(
                fields=["contact", "status"],
                name="task_contact_idx",
                condition=models.Q(contact__isnull=False),
            ),
            models.Index(
                fields=["company", "status"],
                name="task_company_idx",
                condition=models.Q(company__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["follows"],
                name="task_follows_unique",
                condition=models.Q(follows__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["delivery"],
                name="task_delivery_unique",
                condition=models.Q(delivery__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def minutes(self) -> int:
        return self.estimated_minutes or MINUTES_BY_KIND.get(self.kind, 15)

    @property
    def asks_for_follow_up(self) -> bool:
        return self.kind in FOLLOW_UP_KINDS

    def is_overdue(self, today: date) -> bool:
        return self.status == TaskStatus.OPEN and self.due_on < today


class HandOverScope(models.TextChoices):
    TASKS = "tasks", _("Open tasks")
    PORTFOLIO = "portfolio", _("Whole portfolio: contacts, companies and their open tasks")


class HandOver(TimeStamped):
    """One move of work from a user to another, now or for an absence.

    Without an end date the move is permanent. With a period (an absence), the open
    tasks due in it go to the stand-in while it lasts and come back to their owner after
    it (`handover_return_due`), unless the stand-in completed them.
    """

    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="handovers_out",
        verbose_name=_("from"),
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="handovers_in",
        verbose_name=_("to"),
    )
    scope = models.CharField(_("what"), max_length=10, choices=HandOverScope.choices)
    starts_on = models.DateField(_("from day"), null=True, blank=True)
    ends_on = models.DateField(_("until day"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    contacts_moved = models.PositiveIntegerField(default=0)
    companies_moved = models.PositiveIntegerField(default=0)
    tasks_moved = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("hand-over")
        verbose_name_plural = _("hand-overs")
        indexes = [
            models.Index(
                fields=["ends_on"],
                name="handover_open_idx",
                condition=models.Q(returned_at__isnull=True, ends_on__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_user} → {self.to_user}"

    @property
    def is_absence(self) -> bool:
        return self.ends_on is not None


class MoveKind(models.TextChoices):
    TASK = "task", _("Task")
    CONTACT = "contact", _("Contact")
    COMPANY = "company", _("Company")


def _history_user() -> models.ForeignKey:
    """A user column of the move history: no index, no database constraint (see Move)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )


class Move(models.Model):
    """Append-only record of one thing changing hands: who had it, who has it, who did it.

    Written in bulk (INSERT … SELECT) by the hand-over actions; never changed.
    """

    kind = models.CharField(max_length=8, choices=MoveKind.choices)
    object_id = models.BigIntegerField()
    # A hand-over writes a row per thing moved, so each row must be cheap: no index per
    # user column (the history is read by hand-over or by object) and no foreign-key
    # constraint in the database (PostgreSQL checks those one row at a time at commit:
    # 150,000 moves cost seconds). The history keeps a user's id even if the user is
    # deleted; users are deactivated, not deleted.
    from_user = _history_user()
    to_user = _history_user()
    moved_by = _history_user()
    handover = models.ForeignKey(
        HandOver,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="moves",
        db_index=False,  # move_handover_idx leads with it
        db_constraint=False,  # deleted with its hand-over by Django, see above
    )
    # True for the move that brings an absence's task back to its owner.
    is_return = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("move")
        verbose_name_plural = _("moves")
        indexes = [
            models.Index(fields=["kind", "object_id"], name="move_object_idx"),
            models.Index(fields=["handover", "kind"], name="move_handover_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}: {self.from_user_id} → {self.to_user_id}"


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


class CalendarFeed(TimeStamped):
    """A user's private iCalendar feed. Its URL is signed; a new nonce revokes old ones."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    nonce = models.CharField(max_length=32, default=new_nonce)

    class Meta:
        ordering = ["user"]

    def __str__(self) -> str:
        return f"feed of {self.user}"
