"""The preview: what a régua would send, per day and per step, without sending anything.

It is the tick itself run over time inside a transaction that is rolled back: ticks
every few hours through the period, with the dry-run backend, then the deliveries it
created are counted. "Next 30 days" shows what the contacts already there and the
date-driven triggers will produce; event triggers only enter people when events happen,
so for them the backtest over the last 30 days shows what the régua would have done.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from regua.customers.models import Contact

from .models import Cadence, CadenceStatus, Delivery, DeliveryStatus, Step
from .sending import send_due
from .tick import Tally, cadence_tick

TICK_EVERY = timedelta(hours=6)
SAMPLE = 5


@dataclass
class Preview:
    start: datetime
    end: datetime
    steps: list[Step]
    days: list[date]
    counts: dict[tuple[date, int], int] = field(default_factory=dict)  # (day, step id) → n
    samples: dict[int, list[str]] = field(default_factory=dict)  # step id → names
    totals: dict[int, int] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)

    def rows(self) -> list[tuple[date, list[int], int]]:
        out = []
        for day in self.days:
            values = [self.counts.get((day, s.pk), 0) for s in self.steps]
            out.append((day, values, sum(values)))
        return out


class _Rollback(Exception):
    pass


def cadence_preview(
    cadence: Cadence,
    *,
    start: datetime,
    days: int = 30,
    visible: QuerySet[Contact] | None = None,
) -> Preview:
    """What the régua would send from `start`; the sample names come from `visible` only
    (an agent's private portfolio), while the counts cover every contact: they name
    nobody."""
    end = start + timedelta(days=days)
    zone = ZoneInfo(settings.TIME_ZONE)
    steps = list(cadence.steps.filter(archived_at__isnull=True).order_by("position", "id"))
    preview = Preview(
        start=start,
        end=end,
        steps=steps,
        days=[(start + timedelta(days=n)).astimezone(zone).date() for n in range(days)],
    )
    try:
        with transaction.atomic():
            _simulate(cadence, preview, zone, visible)
            raise _Rollback
    except _Rollback:
        pass
    return preview


def _simulate(
    cadence: Cadence, preview: Preview, zone: ZoneInfo, visible: QuerySet[Contact] | None
) -> None:
    start, end = preview.start, preview.end
    if cadence.status != CadenceStatus.ACTIVE or (
        cadence.activated_at and cadence.activated_at > start
    ):
        # Preview a draft (or a backtest) as if it had been activated at the start.
        Cadence.objects.filter(pk=cadence.pk).update(
            status=CadenceStatus.ACTIVE, activated_at=start, enrolled_through=start
        )
        cadence.steps.update(scheduled_through=start)
    moment = start
    while moment < end:
        moment = min(moment + TICK_EVERY, end)
        fresh = Cadence.objects.get(pk=cadence.pk)
        cadence_tick(fresh, now=moment, tally=preview.tally)
        from .tick import TickSummary

        summary = TickSummary(now=moment, dry_run=True)
        send_due(now=moment, summary=summary, dry_run=True, cadence=fresh)
        preview.tally.add(summary.tally(fresh.key))
    sent = Delivery.objects.filter(
        cadence=cadence, status=DeliveryStatus.SENT, sent_at__gt=start, sent_at__lte=end
    )
    counts: dict[tuple[date, int], int] = defaultdict(int)
    samples: dict[int, list[str]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    named = None
    if visible is not None:
        named = set(visible.filter(pk__in=sent.values("contact_id")).values_list("pk", flat=True))
    for step_id, sent_at, contact_id, first, last in sent.values_list(
        "step_id", "sent_at", "contact_id", "contact__first_name", "contact__last_name"
    ).order_by("sent_at", "id"):
        counts[(sent_at.astimezone(zone).date(), step_id)] += 1
        totals[step_id] += 1
        if len(samples[step_id]) < SAMPLE and (named is None or contact_id in named):
            samples[step_id].append(f"{first} {last}".strip())
    preview.counts, preview.samples, preview.totals = dict(counts), dict(samples), dict(totals)


def default_start(backtest: bool) -> datetime:
    now = timezone.now().replace(second=0, microsecond=0)
    return now - timedelta(days=30) if backtest else now
