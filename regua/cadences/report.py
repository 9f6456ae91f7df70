"""What a régua achieved: the funnel per step and the uplift against the holdout.

Converted = the goal (or exit) event within the régua's conversion window after entry
(per step: after that step's message was sent). Uplift = conversion rate of those who
received the régua − that of the holdout, with a 95% confidence interval (normal
approximation for a difference of two proportions).
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, F, Q

from regua.customers.models import Contact

from .models import Cadence, Delivery, DeliveryStatus, Enrollment, Step

Z95 = 1.959963984540054


@dataclass(frozen=True)
class StepFunnel:
    step: Step
    scheduled: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    unsubscribed: int
    suppressed: int
    failed: int
    skipped: int
    # Of `sent`: message steps handed to the account manager as tasks (relationship.py).
    tasks: int = 0

    def rate(self, part: int) -> float | None:
        return part / self.sent * 100 if self.sent else None

    @property
    def open_rate(self) -> float | None:
        return self.rate(self.opened)

    @property
    def click_rate(self) -> float | None:
        return self.rate(self.clicked)

    @property
    def conversion_rate(self) -> float | None:
        return self.rate(self.converted)


@dataclass(frozen=True)
class Uplift:
    entered: int
    converted: int
    holdout: int
    holdout_converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.entered * 100 if self.entered else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_converted / self.holdout * 100 if self.holdout else None

    @property
    def difference(self) -> float | None:
        if self.rate is None or self.holdout_rate is None:
            return None
        return self.rate - self.holdout_rate

    @property
    def interval(self) -> tuple[float, float] | None:
        """95% confidence interval of the difference, in percentage points."""
        if not self.entered or not self.holdout:
            return None
        p1, p2 = self.converted / self.entered, self.holdout_converted / self.holdout
        se = math.sqrt(p1 * (1 - p1) / self.entered + p2 * (1 - p2) / self.holdout)
        diff = p1 - p2
        return (diff - Z95 * se) * 100, (diff + Z95 * se) * 100

    @property
    def significant(self) -> bool:
        interval = self.interval
        return interval is not None and (interval[0] > 0 or interval[1] < 0)


def cadence_funnel(cadence: Cadence, *, contacts: Q | None = None) -> list[StepFunnel]:
    """Per step; `contacts` (a segment's Q over Contact) narrows it to those contacts."""
    window = timedelta(days=cadence.conversion_days)
    sent = Q(status=DeliveryStatus.SENT)
    deliveries = Delivery.objects.filter(cadence=cadence)
    if contacts is not None:
        deliveries = deliveries.filter(contact__in=Contact.objects.filter(contacts).values("pk"))
    rows = {
        row["step"]: row
        for row in deliveries.values("step")
        .annotate(
            scheduled=Count("id", filter=Q(status__in=[DeliveryStatus.SCHEDULED, "sending"])),
            sent=Count("id", filter=sent),
            bounced=Count("id", filter=sent & Q(bounced_at__isnull=False)),
            opened=Count("opened_at"),
            clicked=Count("clicked_at"),
            unsubscribed=Count("unsubscribed_at"),
            suppressed=Count("id", filter=Q(status=DeliveryStatus.SUPPRESSED)),
            failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
            skipped=Count("id", filter=Q(status=DeliveryStatus.SKIPPED)),
            tasks=Count("id", filter=sent & Q(channel="task")),
            converted=Count(
                "id",
                filter=sent
                & Q(enrollment__goal_at__gte=F("sent_at"))
                & Q(enrollment__goal_at__lte=F("sent_at") + window),
            ),
        )
        .order_by()
    }
    funnel = []
    for step in cadence.steps.filter(archived_at__isnull=True).order_by("position", "id"):
        row = rows.get(step.pk, {})
        sent_count = row.get("sent", 0)
        funnel.append(
            StepFunnel(
                step=step,
                scheduled=row.get("scheduled", 0),
                sent=sent_count,
                delivered=sent_count - row.get("bounced", 0),
                opened=row.get("opened", 0),
                clicked=row.get("clicked", 0),
                converted=row.get("converted", 0),
                unsubscribed=row.get("unsubscribed", 0),
                suppressed=row.get("suppressed", 0),
                failed=row.get("failed", 0),
                skipped=row.get("skipped", 0),
                tasks=row.get("tasks", 0) if step.channel != "task" else 0,
            )
        )
    return funnel


def cadence_uplift(cadence: Cadence, *, contacts: Q | None = None) -> Uplift:
    window = timedelta(days=cadence.conversion_days)
    converted = Q(goal_at__isnull=False, goal_at__lte=F("entered_at") + window)
    enrollments = Enrollment.objects.filter(cadence=cadence)
    if contacts is not None:
        enrollments = enrollments.filter(contact__in=Contact.objects.filter(contacts).values("pk"))
    # Aggregate names must not shadow the `holdout` field the filters read.
    row = enrollments.aggregate(
        n_entered=Count("id", filter=Q(holdout=False)),
        n_converted=Count("id", filter=Q(holdout=False) & converted),
        n_holdout=Count("id", filter=Q(holdout=True)),
        n_holdout_converted=Count("id", filter=Q(holdout=True) & converted),
    )
    return Uplift(
        entered=row["n_entered"],
        converted=row["n_converted"],
        holdout=row["n_holdout"],
        holdout_converted=row["n_holdout_converted"],
    )
