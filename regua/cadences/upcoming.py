"""What the réguas will still do for one contact: the dossier's "upcoming steps".

A step already queued shows its delivery's due time; a later step not yet queued shows
entry + offset (the tick queues it when it is near). Send windows and quiet hours may
still move it a little: the dossier says "about".
"""

from dataclasses import dataclass
from datetime import datetime

from .models import (
    CadenceStatus,
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Step,
)


@dataclass(frozen=True)
class UpcomingStep:
    due_at: datetime
    step: Step
    queued: bool


def upcoming_steps(contact_id: int, now: datetime, limit: int = 8) -> list[UpcomingStep]:
    """The next steps of the contact's active réguas, soonest first, in three queries."""
    enrollments = list(
        Enrollment.objects.filter(
            contact_id=contact_id,
            status=EnrollmentStatus.ACTIVE,
            holdout=False,
            cadence__status=CadenceStatus.ACTIVE,
        )
        .select_related("cadence")
        .prefetch_related("cadence__steps")
    )
    if not enrollments:
        return []
    handled = {
        (row.enrollment_id, row.step_id): row
        for row in Delivery.objects.filter(enrollment__in=enrollments).only(
            "enrollment_id", "step_id", "status", "due_at"
        )
    }
    upcoming = []
    for enrollment in enrollments:
        for step in enrollment.cadence.steps.all():
            delivery = handled.get((enrollment.pk, step.pk))
            if delivery is None:
                due = step.parsed_offset.after(enrollment.entered_at)
                if due >= now:
                    upcoming.append(UpcomingStep(due, step, queued=False))
            elif delivery.status == DeliveryStatus.SCHEDULED:
                upcoming.append(UpcomingStep(delivery.due_at, step, queued=True))
    upcoming.sort(key=lambda item: item.due_at)
    return upcoming[:limit]
