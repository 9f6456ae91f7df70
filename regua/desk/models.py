"""The service desk: tickets, their messages, SLA policies over business calendars,
reply templates and the customer's rating after resolution.

A ticket's SLA clocks are stored as instants (first_response_due, resolution_due) so the
queue sorts and the worker finds warnings and breaches with indexed range queries; they
are computed once from the policy's business calendar (desk/sla.py) and again only when
a pause ends. `due_at` is the deadline that matters now: the first response until it is
given, then the resolution; empty while the clock is paused or the ticket is solved.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from regua.commerce.models import Order
from regua.core.models import TimeStamped
from regua.customers.models import Contact

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def default_hours() -> dict[str, str]:
    week = dict.fromkeys(WEEKDAYS[:5], "08:00-12:00, 13:00-18:00")
    return {**week, "sat": "", "sun": ""}


class TicketKind(models.TextChoices):
    COMPLAINT = "complaint", _("Complaint")
    QUESTION = "question", _("Question")
    REQUEST = "request", _("Request")


class TicketChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    CHAT = "chat", _("Chat")
    WHATSAPP = "whatsapp", _("WhatsApp")
    FORM = "form", _("Contact form")
    API = "api", _("API")


class TicketStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", pgettext_lazy("ticket status", "Open")  # "aberto", not a task's "aberta"
    WAITING = "waiting", _("Waiting on customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# Statuses in which the team owes the customer something.
ACTIVE_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN)
SOLVED_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class TicketPriority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class BusinessCalendar(TimeStamped):
    """When the team works: hours per weekday (split shifts allowed), closed dates (the
    national holidays from the `holidays` package, a state's if given, plus custom dates)
    and a time zone. SLA clocks only run inside these hours."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/Sao_Paulo")
    hours = models.JSONField(
        _("working hours"),
        default=default_hours,
        help_text=_('Per weekday, e.g. "mon": "08:00-12:00, 13:00-18:00"; empty when closed.'),
    )
    national_holidays = models.BooleanField(_("closed on national holidays"), default=True)
    subdivision = models.CharField(
        _("state"),
        max_length=2,
        blank=True,
        help_text=_("Two letters (e.g. SP) to close on that state's holidays too."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .sla import calendar_problem, subdivision_problem

        problems = {"hours": calendar_problem(self), "subdivision": subdivision_problem(self)}
        if any(problems.values()):
            raise ValidationError({field: text for field, text in problems.items() if text})


class ClosedDay(models.Model):
    """A date the team does not work besides the holidays: a local holiday, a collective
    vacation day, the company's anniversary."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="closed_days"
    )
    day = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["day"]
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="desk_closed_day_once")
        ]

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.name}".strip()


class SlaPolicy(TimeStamped):
    """Targets for the tickets it matches: the first policy by position whose kind,
    priority and segment (each optional) fit the ticket."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=100)
    active = models.BooleanField(_("active"), default=True)
    kind = models.CharField(_("kind"), max_length=10, choices=TicketKind.choices, blank=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=TicketPriority.choices, null=True, blank=True
    )
    segment = models.ForeignKey(
        "segments.Segment",
        verbose_name=_("segment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.PROTECT
    )
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (business minutes)"), default=600
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (business minutes)"), null=True, blank=True
    )
    warn_before_minutes = models.PositiveIntegerField(
        _("warn before the breach (business minutes)"), default=60
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not self.first_response_minutes:
            raise ValidationError({"first_response_minutes": _("Must be at least one minute.")})
        if self.warn_before_minutes >= self.first_response_minutes:
            raise ValidationError(
                {"warn_before_minutes": _("Must be less than the first-response target.")}
            )


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(_("position"), default=100)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


def _mail_key() -> str:
    return secrets.token_hex(8)


class Ticket(TimeStamped):
    subject = models.CharField(_("subject"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=10, choices=TicketKind.choices, default=TicketKind.QUESTION
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=TicketChannel.choices, default=TicketChannel.EMAIL
    )
    status = models.CharField(
        _("status"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.NEW
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="tickets",
        db_index=False,  # the (contact, created_at) index serves it
    )
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    # As the customer or the agent wrote it, also when no order matches.
    order_ref = models.CharField(_("order number"), max_length=100, blank=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        db_index=False,  # the (assignee, status, due_at) index serves it
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # -- SLA ---------------------------------------------------------------------------
    policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("SLA policy"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    warned_at = models.DateTimeField(_("warned at"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    # Business time from opening to the first response, pauses left out: the report's
    # median and p90 read this column.
    first_response_time = models.DurationField(_("first response time"), null=True, blank=True)
    first_response_breached_at = models.DateTimeField(
        _("first response breached at"), null=True, blank=True
    )
    resolution_breached_at = models.DateTimeField(
        _("resolution breached at"), null=True, blank=True
    )
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    paused = models.DurationField(_("business time paused"), default=timedelta)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    # -- satisfaction ------------------------------------------------------------------
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    # Part of every reply address and Message-ID: threads the customer's answers.
    mail_key = models.CharField(max_length=16, default=_mail_key, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # The queue: a status (or two), the most urgent deadline first.
            models.Index(fields=["status", "due_at", "id"], name="desk_queue_idx"),
            models.Index(fields=["assignee", "status", "due_at", "id"], name="desk_assignee_idx"),
            models.Index(fields=["contact", "created_at"], name="desk_contact_idx"),
            models.Index(fields=["created_at"], name="desk_created_idx"),
            # The queue's "SLA breached" filter: few tickets, walked in the queue's order.
            models.Index(
                fields=["status", "due_at", "id"],
                name="desk_breached_idx",
                condition=models.Q(first_response_breached_at__isnull=False)
                | models.Q(resolution_breached_at__isnull=False),
            ),
            # The worker's warnings and breaches: only tickets whose clock runs.
            models.Index(
                fields=["warn_at"],
                name="desk_warn_idx",
                condition=models.Q(warned_at__isnull=True, warn_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def number(self) -> str:
        return f"#{self.pk}"

    @property
    def is_solved(self) -> bool:
        return self.status in SOLVED_STATUSES

    @property
    def first_response_met(self) -> bool | None:
        """Whether the first response came in time; None while none is due or given."""
        if self.first_response_due is None:
            return None
        if self.first_responded_at is None:
            return None if self.first_response_breached_at is None else False
        return self.first_responded_at <= self.first_response_due


class MessageKind(models.TextChoices):
    CUSTOMER = "customer", _("From the customer")
    REPLY = "reply", _("Public reply")
    NOTE = "note", _("Internal note")


class SendStatus(models.TextChoices):
    NONE = "", _("Not sent by e-mail")
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Message(models.Model):
    """One entry of a ticket's conversation. Public replies are the send queue of the
    desk's e-mail: the worker claims pending ones in batches, as it does deliveries."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=MessageKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("written at"))
    # Threading: our own Message-ID for replies, the customer's for what they sent.
    message_id = models.CharField(max_length=250, blank=True)
    send_status = models.CharField(
        _("e-mail"), max_length=10, choices=SendStatus.choices, default="", blank=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    # A resolution e-mail carries the one-click rating links.
    asks_rating = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="desk_message_ticket_idx"),
            models.Index(
                fields=["next_attempt_at"],
                name="desk_message_outbox_idx",
                condition=models.Q(send_status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.get_kind_display()}"


def _attachment_path(instance: "Attachment", filename: str) -> str:
    return f"desk/{instance.message.ticket_id}/{secrets.token_hex(6)}-{filename[-80:]}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=200)
    name = models.CharField(_("name"), max_length=150)
    size = models.PositiveIntegerField(_("size"))
    content_type = models.CharField(_("type"), max_length=100, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class ReplyTemplate(TimeStamped):
    """A reply an agent starts from: a body per language (pt-br required), rendered with
    the customer's, the ticket's and the agent's variables. Checked when saved."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(
        _("for tickets of kind"), max_length=10, choices=TicketKind.choices, blank=True
    )
    is_apology = models.BooleanField(
        _("apology"),
        default=False,
        help_text=_("Shows the agent the five steps of a good apology and what not to write."),
    )
    body_pt = models.TextField(_("text (Portuguese)"))
    body_en = models.TextField(_("text (English)"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=100)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")

    def __str__(self) -> str:
        return self.name

    def body_for(self, language: str) -> str:
        return self.body_en if language.startswith("en") and self.body_en.strip() else self.body_pt

    def clean(self) -> None:
        from .replies import template_problems

        problems = template_problems(self)
        if problems:
            raise ValidationError(problems)
