"""The régua engine's data: cadences and their steps, enrollments, deliveries.

The schedule is data (STYLE.md): an Enrollment row is a contact's passage through a
régua for one occurrence of its trigger, a Delivery row is one step for one enrollment
and doubles as the send queue (status, due time, lease). Their unique keys are what
make a tick idempotent: (cadence, contact, occurrence) and (enrollment, step).
"""

import hashlib
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped
from regua.customers.models import Contact

from . import draws
from .offsets import Offset


class Objective(models.TextChoices):
    ACQUISITION = "acquisition", _("Acquisition")
    CONVERSION = "conversion", _("Conversion")
    RETENTION = "retention", _("Retention")
    LOYALTY = "loyalty", _("Loyalty")
    MONETISATION = "monetisation", _("Monetisation")
    RECOVERY = "recovery", _("Recovery")


class CadenceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ARCHIVED = "archived", _("Archived")


class TriggerKind(models.TextChoices):
    EVENT = "event", _("Event")
    DATE = "date", _("Yearly date")
    INACTIVITY = "inactivity", _("Inactivity")
    ATTRIBUTE = "attribute", _("Matches the audience")
    CALENDAR = "calendar", _("Calendar date")
    MANUAL = "manual", _("Manual")


class Reentry(models.TextChoices):
    NEVER = "never", _("Never: once per contact")
    EACH_OCCURRENCE = "each_occurrence", _("At every occurrence")
    AFTER_EXIT = "after_exit", _("After the previous passage ended")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    TASK = "task", _("Task for the owner")
    WEBHOOK = "webhook", _("Webhook")


# The channels that put a message in the customer's inbox (guards.py checks them).
MESSAGE_CHANNELS = frozenset({"email", "sms", "whatsapp"})


def max_lateness(channel: str) -> timedelta:
    """How long after its due moment a delivery on `channel` may still go out; later it
    expires: REGUA_MAX_LATENESS_HOURS for a message or a webhook,
    REGUA_TASK_MAX_LATENESS_DAYS for a task (the owner picks the moment, within reason)."""
    if channel == "task":
        return timedelta(days=settings.REGUA_TASK_MAX_LATENESS_DAYS)
    return timedelta(hours=settings.REGUA_MAX_LATENESS_HOURS)


# A send window moves a due moment later by less than a day.
WINDOW_SLACK = timedelta(days=1)


class ForDedicated(models.TextChoices):
    """What a message step does for a contact in a segment whose relationship model is
    dedicated (docs/cadences.md §Relationship model per segment)."""

    TASK = "task", _("A task for the account manager")
    MESSAGE = "message", _("The message, sent automatically")


class Cadence(TimeStamped):
    key = models.SlugField(_("key"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    objective = models.CharField(_("objective"), max_length=15, choices=Objective.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=CadenceStatus.choices, default=CadenceStatus.DRAFT
    )
    priority = models.PositiveSmallIntegerField(_("priority"), default=50)
    marketing = models.BooleanField(
        _("marketing"),
        default=True,
        help_text=_("Transactional réguas are exempt from the frequency cap."),
    )
    holdout_percent = models.PositiveSmallIntegerField(_("holdout %"), default=0)
    reentry = models.CharField(
        _("re-entry"), max_length=20, choices=Reentry.choices, default=Reentry.NEVER
    )
    conversion_days = models.PositiveSmallIntegerField(_("conversion window (days)"), default=30)
    trigger = models.JSONField(_("entry trigger"), default=dict)
    audience = models.JSONField(_("audience"), default=list, blank=True)
    exit_goal = models.JSONField(_("exit"), default=dict, blank=True)
    # What counts as converted in the report; the exit event when left empty.
    goal = models.JSONField(_("goal"), default=dict, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    # The enrollment watermark: triggers up to this instant have been looked at.
    enrolled_through = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-priority", "name"]
        verbose_name = _("régua")
        verbose_name_plural = _("réguas")

    def __str__(self) -> str:
        return self.name

    @property
    def trigger_kind(self) -> str:
        return str(self.trigger.get("kind", TriggerKind.MANUAL))

    def in_holdout(self, contact_id: int) -> bool:
        """A stable draw: the same contact is always in or out of this régua's holdout."""
        return draws.in_share(contact_id, self.key, self.holdout_percent)


class Step(TimeStamped):
    cadence = models.ForeignKey(Cadence, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(_("key"), max_length=60)
    name = models.CharField(_("name"), max_length=120, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    offset = models.CharField(_("offset"), max_length=12, default="0")
    window_start = models.TimeField(_("send from"), null=True, blank=True)
    window_end = models.TimeField(_("send until"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    message = models.JSONField(_("message"), default=dict, blank=True)
    task = models.JSONField(_("task"), default=dict, blank=True)
    webhook = models.JSONField(_("webhook"), default=dict, blank=True)
    condition = models.JSONField(_("condition"), default=list, blank=True)
    # "Unless the step says otherwise": MESSAGE keeps a message step automatic even for
    # contacts in a dedicated segment (relationship.py).
    for_dedicated = models.CharField(
        _("for dedicated segments"),
        max_length=7,
        choices=ForDedicated.choices,
        default=ForDedicated.TASK,
    )
    # The scheduling watermark: enrollments whose due moment for this step is at or
    # before it have had their delivery created (or were not owed one).
    scheduled_through = models.DateTimeField(null=True, blank=True, editable=False)
    # When an edit moved the step's offset: deliveries it makes due in the past go out
    # from this moment instead (docs/cadences.md §Editing an active régua).
    rescheduled_at = models.DateTimeField(null=True, blank=True, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["cadence", "position", "id"]
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        constraints = [
            models.UniqueConstraint(fields=["cadence", "key"], name="step_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.key

    @property
    def parsed_offset(self) -> Offset:
        return Offset.parse(self.offset)

    def entered_by(self, moment: datetime) -> datetime:
        """The latest entry instant whose due moment for this step is at or before `moment`."""
        return self.parsed_offset.before(moment)

    def lateness(self, *, dedicated: bool = True) -> timedelta:
        """How late its delivery may still go out (max_lateness). A message step that may
        become a task gets a task's while a dedicated segment exists (`dedicated`)."""
        return max_lateness("task" if dedicated and self.may_become_task else self.channel)

    @property
    def may_become_task(self) -> bool:
        """A message step that contacts in a dedicated segment get as a task for their
        account manager."""
        return self.channel in MESSAGE_CHANNELS and self.for_dedicated == ForDedicated.TASK

    @property
    def window(self) -> tuple[time, time] | None:
        if self.window_start is None or self.window_end is None:
            return None
        return self.window_start, self.window_end


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("In progress")
    COMPLETED = "completed", _("Completed")
    EXITED = "exited", _("Exited")


class Enrollment(models.Model):
    """One passage of a contact through a régua, for one occurrence of its trigger.

    The occurrence is the trigger event's id, the anniversary year, the calendar date or
    the day of inactivity; unique with the cadence and the contact it is the idempotency
    key of enrollment.
    """

    # No index of its own on the cadence: enrollment_cadence_idx starts with it.
    cadence = models.ForeignKey(
        Cadence, on_delete=models.CASCADE, related_name="enrollments", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="enrollments", db_index=False
    )
    occurrence = models.CharField(max_length=40)
    entered_at = models.DateTimeField(_("entered at"))
    holdout = models.BooleanField(_("holdout"), default=False)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
    )
    trigger_event_id = models.BigIntegerField(null=True, blank=True)
    goal_at = models.DateTimeField(_("goal reached at"), null=True, blank=True)
    exited_at = models.DateTimeField(_("exited at"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "cadence", "occurrence"], name="enrollment_identity"
            ),
        ]
        indexes = [
            models.Index(fields=["cadence", "entered_at"], name="enrollment_cadence_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.cadence_id}/{self.contact_id}/{self.occurrence}"


class DeliveryStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")
    SKIPPED = "skipped", _("Skipped (condition)")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class Delivery(models.Model):
    """One step for one enrollment: the send queue's row and the message's record.

    Workers claim due rows (status scheduled, due_at passed; or sending with an expired
    lease: a crashed worker's batch) in batches; see sending.py.
    """

    # Every index costs each row the tick schedules: the enrollment and the step are
    # served by delivery_identity and delivery_step_idx, which start with them.
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    cadence = models.ForeignKey(Cadence, on_delete=models.CASCADE, related_name="deliveries")
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.SCHEDULED,
    )
    due_at = models.DateTimeField(_("due at"))
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    variant = models.CharField(_("variant"), max_length=1, default="a")
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="delivery_identity"),
        ]
        indexes = [
            # The claim's order (due_at, id) in full: a campaign gives thousands of rows
            # the same due moment, and without the id every claim sorted all of them.
            models.Index(fields=["status", "due_at", "id"], name="delivery_queue_idx"),
            models.Index(fields=["contact", "sent_at"], name="delivery_contact_sent_idx"),
            models.Index(fields=["step", "status"], name="delivery_step_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.cadence_id}/{self.step_id} → {self.contact_id} ({self.status})"

    @property
    def message_id(self) -> str:
        """Stable per delivery, so a message re-sent after a crash is recognisably the same."""
        digest = hashlib.blake2b(
            f"{self.pk}".encode(), key=settings.SECRET_KEY.encode()[:64], digest_size=6
        ).hexdigest()
        return f"<regua.{self.pk}.{digest}@{settings.REGUA_MESSAGE_ID_DOMAIN}>"


class CadencePartition(TimeStamped):
    """One partition's enrollment watermark for a régua (docs/cadences.md §Partitioned ticks).

    A partitioned tick enrolls the contacts whose id modulo `count` is `index` only, so
    it keeps its own watermark: a partition that fails or lags holds back nobody else.
    It starts from the later of this row and Cadence.enrolled_through (partitions.py).
    """

    # No index of its own on the cadence: the unique key starts with it.
    cadence = models.ForeignKey(
        Cadence, on_delete=models.CASCADE, related_name="partitions", db_index=False
    )
    count = models.PositiveSmallIntegerField()
    index = models.PositiveSmallIntegerField()
    enrolled_through = models.DateTimeField()

    class Meta:
        ordering = ["cadence", "count", "index"]
        verbose_name = _("régua partition")
        verbose_name_plural = _("régua partitions")
        constraints = [
            models.UniqueConstraint(
                fields=["cadence", "count", "index"], name="cadence_partition_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cadence_id} {self.index}/{self.count}"


class StepPartition(TimeStamped):
    """One partition's scheduling watermark for a step (Step.scheduled_through, per
    partition). `rescheduled_at` is the step's when the row was written: a step moved
    since then is looked at again from its own watermark (partitions.py)."""

    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, related_name="partitions", db_index=False
    )
    count = models.PositiveSmallIntegerField()
    index = models.PositiveSmallIntegerField()
    scheduled_through = models.DateTimeField()
    rescheduled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["step", "count", "index"]
        verbose_name = _("step partition")
        verbose_name_plural = _("step partitions")
        constraints = [
            models.UniqueConstraint(
                fields=["step", "count", "index"], name="step_partition_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step_id} {self.index}/{self.count}"


class TickPartition(TimeStamped):
    """The turn of one partition of the tick among the workers: who holds it until when,
    and when it last ran. Workers lease the one whose turn came longest ago (partitions.py);
    a dead worker's lease runs out and another takes the partition over."""

    count = models.PositiveSmallIntegerField()
    index = models.PositiveSmallIntegerField()
    worker = models.CharField(max_length=200, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    ticked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["count", "index"]
        verbose_name = _("tick partition")
        verbose_name_plural = _("tick partitions")
        constraints = [
            models.UniqueConstraint(fields=["count", "index"], name="tick_partition_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class SuppressionReason(models.TextChoices):
    BOUNCE = "bounce", _("Hard bounce")
    COMPLAINT = "complaint", _("Spam complaint")
    MANUAL = "manual", _("Added by hand")


class Suppression(TimeStamped):
    """An address that must not receive messages again on a channel."""

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=254)
    reason = models.CharField(_("reason"), max_length=10, choices=SuppressionReason.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppression list")
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="suppression_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.get_reason_display()})"


class OutboxMessage(models.Model):
    """A message the outbox backends kept instead of sending (the demo's channels)."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="outbox"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    to = models.CharField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    text = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")

    def __str__(self) -> str:
        return f"{self.channel} → {self.to}: {self.subject or self.text[:40]}"
