"""Reads of a contact's events that see past the retention horizon (events.retention)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Sum

from .labels import event_label
from .models import Event, EventSummary


@dataclass(frozen=True)
class EventTotal:
    """How many times a contact did something, ever, and when last."""

    name: str
    count: int
    last_at: datetime
    archived: int  # of the count, the events held as monthly totals

    @property
    def label(self) -> str:
        return event_label(self.name)


def contact_event_totals(contact_id: int) -> list[EventTotal]:
    """Each event name of the contact with its lifetime count: the raw events plus the
    archived months. Two reads of the contact's own index entries; most frequent first."""
    raw = {
        row["name"]: row
        for row in Event.objects.filter(contact_id=contact_id)
        .order_by()
        .values("name")
        .annotate(n=Count("pk"), last=Max("occurred_at"))
    }
    archived = {
        row["name"]: row
        for row in EventSummary.objects.filter(contact_id=contact_id)
        .order_by()
        .values("name")
        .annotate(n=Sum("count"), last=Max("last_at"))
    }
    totals = []
    for name in raw.keys() | archived.keys():
        recent, old = raw.get(name), archived.get(name)
        count = (recent["n"] if recent else 0) + (old["n"] if old else 0)
        last = max(row["last"] for row in (recent, old) if row)
        totals.append(EventTotal(name, count, last, old["n"] if old else 0))
    return sorted(totals, key=lambda total: (-total.count, total.name))
