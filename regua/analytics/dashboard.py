"""The dashboard's figures, computed once per (as-of, period, filter) and kept as a snapshot.

1. If the stored scores are older than the as-of date, refresh them (RFM, activity,
   CLV for everyone: scores are relative to the whole base, a filter only selects rows).
2. KPIs for the period; RFM matrix, RFM segments, activity matrix, relationship types,
   CLV distribution and top customers from the stored scores; acquisition cohorts and
   time to second purchase from the purchases; the monthly NPS trend from the answers.
3. Every table is {columns, rows}, so the page draws it, charts it and exports it alike.

A filter is a segment and, for agents who see only their portfolio, the owner.
"""

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from regua.customers.models import Contact
from regua.events.models import Event

from . import cohorts, frames, kpis, rfm
from .models import CustomerScore, Snapshot
from .services import scores_refresh

CLV_EDGES = [0, 50, 100, 250, 500, 1000, 2500, 5000]
TOP_CUSTOMERS = 20

COLUMN_LABELS: dict[str, Promise | str] = {
    "kpi": _("KPI"),
    "value": _("Value"),
    "formula": _("Formula"),
    "r": "R",
    "f": "F",
    "customers": _("Customers"),
    "monetary": _("Spend in the window (R$)"),
    "segment": _("RFM segment"),
    "cell": _("Activity"),
    "spend": _("Spend (R$)"),
    "type": _("Relationship type"),
    "cohort": _("Cohort"),
    "size": _("Size"),
    "age": _("Months since the first purchase"),
    "retention": _("Retention (%)"),
    "revenue": _("Revenue (R$)"),
    "month": _("Month"),
    "answers": _("Answers"),
    "nps": _("NPS"),
    "from_clv": _("CLV from (R$)"),
    "to_clv": _("CLV to (R$)"),
    "contact_id": _("Contact"),
    "name": _("Name"),
    "clv": _("CLV (R$)"),
    "p_alive": _("P(alive)"),
    "from_day": _("From day"),
    "to_day": _("To day"),
}

TABLE_TITLES: dict[str, Promise] = {
    "kpis": _("KPIs"),
    "rfm_matrix": _("RFM matrix (R × F)"),
    "rfm_segments": _("RFM segments"),
    "activity": _("Activity matrix"),
    "relationship": _("Relationship types"),
    "cohorts": _("Acquisition cohorts"),
    "second_purchase": _("Time to second purchase"),
    "nps_trend": _("NPS by month"),
    "clv_histogram": _("CLV distribution"),
    "top_customers": _("Top customers by CLV"),
}


@dataclass(frozen=True)
class Filter:
    start: date
    end: date
    segment_id: int | None = None
    owner_id: int | None = None  # an agent's own portfolio

    @property
    def key(self) -> str:
        return (
            f"dashboard:{self.start}:{self.end}:"
            f"segment={self.segment_id or '-'}:owner={self.owner_id or '-'}"
        )

    def contacts(self) -> Q | None:
        q = Q()
        if self.segment_id:
            from regua.segments.models import Segment

            q &= Segment.objects.get(pk=self.segment_id).as_q()
        if self.owner_id:
            q &= Q(owner_id=self.owner_id)
        return q if (self.segment_id or self.owner_id) else None


def snapshot_for(filters: Filter, as_of: date) -> Snapshot | None:
    return Snapshot.objects.filter(key=filters.key, as_of=as_of).first()


def dashboard_refresh(filters: Filter, *, as_of: date) -> Snapshot:
    """Compute the dashboard for these filters and store it (replacing an older one)."""
    started = time.monotonic()
    latest = CustomerScore.objects.order_by("-as_of").values_list("as_of", flat=True).first()
    purchases = frames.purchases(until=as_of)  # read once, for the scores and the figures
    if (latest is None or latest < as_of) and Contact.objects.exists():
        scores_refresh(as_of=as_of, purchases=purchases)
    contacts = filters.contacts()
    if contacts is not None:
        members = Contact.objects.filter(contacts).values_list("pk", flat=True)
        purchases = purchases.filter(pl.col("contact_id").is_in(list(members)))
    payload = dashboard_compute(filters, as_of=as_of, purchases=purchases)
    seconds = time.monotonic() - started
    snapshot, _created = Snapshot.objects.update_or_create(
        key=filters.key, as_of=as_of, defaults={"payload": payload, "seconds": seconds}
    )
    return snapshot


def _table(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": columns, "rows": rows}


def _frame_table(frame: pl.DataFrame, columns: list[str]) -> dict[str, Any]:
    return _table(columns, [list(row) for row in frame.select(columns).iter_rows()])


def dashboard_compute(
    filters: Filter, *, as_of: date, purchases: pl.DataFrame | None = None
) -> dict[str, Any]:
    """The snapshot's payload. `purchases`: the filter's purchases up to as_of, if read."""
    contacts = filters.contacts()
    if purchases is None:
        purchases = frames.purchases(until=as_of, contacts=contacts)
    scores = CustomerScore.objects.order_by()  # aggregates: no order needed
    if contacts is not None:
        scores = scores.filter(contact__in=Contact.objects.filter(contacts).values("pk"))
    tables: dict[str, Any] = {}

    figures = kpis.kpis(
        start=filters.start, end=filters.end, contacts=contacts, purchases=purchases
    )
    tables["kpis"] = _table(
        ["kpi", "value", "formula"],
        [[k.key, None if k.value is None else round(k.value, 2), k.key] for k in figures],
    )

    matrix = (
        scores.filter(r__isnull=False)
        .values("r", "f")
        .annotate(customers=Count("pk"), monetary=Sum("monetary"))
    )
    tables["rfm_matrix"] = _table(
        ["r", "f", "customers", "monetary"],
        sorted(
            [[m["r"], m["f"], m["customers"], float(m["monetary"] or 0)] for m in matrix],
            key=lambda row: (-row[0], row[1]),
        ),
    )
    by_segment = {
        s["rfm_segment"]: s
        for s in scores.exclude(rfm_segment="")
        .values("rfm_segment")
        .annotate(customers=Count("pk"), spend=Sum("monetary"))
    }
    tables["rfm_segments"] = _table(
        ["segment", "customers", "monetary"],
        [
            [key, by_segment[key]["customers"], float(by_segment[key]["spend"] or 0)]
            for key in rfm.SEGMENT_MAP
            if key in by_segment
        ],
    )
    cells = {
        c["activity_cell"]: c
        for c in scores.values("activity_cell").annotate(customers=Count("pk"), total=Sum("spend"))
    }
    tables["activity"] = _table(
        ["cell", "customers", "spend"],
        [
            [
                key,
                cells[key]["customers"] if key in cells else 0,
                float(cells[key]["total"] or 0) if key in cells else 0.0,
            ]
            for key in rfm.ACTIVITY_CELLS
        ],
    )
    types = {
        t["relationship_type"]: t["customers"]
        for t in scores.values("relationship_type").annotate(customers=Count("pk"))
    }
    tables["relationship"] = _table(
        ["type", "customers"], [[key, types.get(key, 0)] for key in rfm.RELATIONSHIP_TYPES]
    )

    cohort = cohorts.cohort_table(purchases, as_of=as_of, months=12).with_columns(
        pl.col("cohort").cast(pl.String), pl.col("retention").round(1), pl.col("revenue").round(2)
    )
    tables["cohorts"] = _frame_table(cohort, ["cohort", "size", "age", "retention", "revenue"])
    gaps = cohorts.second_purchase_gaps(purchases, as_of=as_of)
    tables["second_purchase"] = _frame_table(
        cohorts.second_purchase_distribution(gaps), ["from_day", "to_day", "customers"]
    )
    median_gap = gaps.get_column("days").median() if not gaps.is_empty() else None

    tables["nps_trend"] = _nps_trend(as_of, contacts)
    tables["clv_histogram"] = _clv_histogram(scores)
    top = (
        scores.filter(clv__isnull=False)
        .order_by("-clv")
        .values(
            "contact_id",
            "clv",
            "p_alive",
            first=F("contact__first_name"),
            last=F("contact__last_name"),
        )[:TOP_CUSTOMERS]
    )
    tables["top_customers"] = _table(
        ["contact_id", "name", "clv", "p_alive"],
        [
            [
                t["contact_id"],
                f"{t['first']} {t['last']}".strip(),
                float(t["clv"] or 0),
                round(t["p_alive"] or 0, 3),
            ]
            for t in top
        ],
    )
    scored_as_of = scores.order_by("-as_of").values_list("as_of", flat=True).first()
    return {
        "as_of": as_of.isoformat(),
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "scores_as_of": scored_as_of.isoformat() if scored_as_of else None,
        "customers": scores.count(),
        "with_clv": scores.filter(clv__isnull=False).count(),
        "median_days_to_second_purchase": median_gap,
        "kpi_parts": {k.key: k.parts for k in figures},
        "tables": tables,
    }


def _nps_trend(as_of: date, contacts: Q | None) -> dict[str, Any]:
    """Monthly NPS over the 12 months up to the as-of date."""
    first = (as_of.replace(day=1) - timedelta(days=335)).replace(day=1)
    answers = Event.objects.filter(
        name="nps_answered",
        occurred_at__gte=frames.day_start(first),
        occurred_at__lt=frames.day_start(as_of + timedelta(days=1)),
        properties__score__gte=0,
    )
    if contacts is not None:
        answers = answers.filter(contact__in=Contact.objects.filter(contacts).values("pk"))
    months = (
        answers.annotate(month=TruncMonth("occurred_at", tzinfo=frames.business_zone()))
        .values("month")
        .annotate(
            answers=Count("pk"),
            promoters=Count("pk", filter=Q(properties__score__gte=9)),
            detractors=Count("pk", filter=Q(properties__score__lte=6)),
        )
        .order_by("month")
    )
    return _table(
        ["month", "answers", "nps"],
        [
            [
                m["month"].strftime("%Y-%m"),
                m["answers"],
                round(kpis.nps(m["promoters"], m["detractors"], m["answers"]) or 0, 1),
            ]
            for m in months
        ],
    )


def _clv_histogram(scores: Any) -> dict[str, Any]:
    """Customers per CLV band, counted in one aggregate query."""
    edges: list[float | None] = [*CLV_EDGES, None]
    bands = {}
    for i, low in enumerate(CLV_EDGES):
        high = edges[i + 1]
        band = Q(clv__gte=low) & (Q(clv__lt=high) if high is not None else Q())
        bands[f"band{i}"] = Count("pk", filter=band)
    counts = scores.aggregate(**bands)
    return _table(
        ["from_clv", "to_clv", "customers"],
        [[low, edges[i + 1], counts[f"band{i}"]] for i, low in enumerate(CLV_EDGES)],
    )
