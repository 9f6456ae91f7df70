"""The retention KPIs, each with its formula, for a period and an optional segment.

The formulas (also on the dashboard and in docs/analytics.md):
- conversion rate = customers won ÷ leads created × 100
- complaint rate = complaints ÷ orders × 100
- churn rate = cancellations ÷ active customers at the start × 100
- revenue churn = lost recurring revenue ÷ recurring revenue at the start × 100
- retention rate = (customers at the end − customers acquired in the period) ÷
  customers at the start × 100
- NPS = % promoters (9–10) − % detractors (0–6)

What the counts mean in Régua:
- a lead is created when a contact is created; a customer is won on the day of the
  first purchase;
- a complaint is a `complaint` event; an order is a purchase (paid, shipped, delivered);
- a customer is active on a day when the first purchase was before it, the last one is
  at most `active_days` old and no `cancellation` event came since; a cancellation is a
  `cancellation` event of a customer who was active at the start;
- recurring revenue is the contact's custom attribute `mrr` (monthly), when the shop
  sends it;
- an NPS answer is an `nps_answered` event; its `score` property says the category.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from django.db.models import Count, Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from regua.customers.models import Contact
from regua.events.models import Event

from . import frames

ACTIVE_DAYS = 365

KPI_TEXT: dict[str, tuple[Promise, Promise]] = {
    "conversion": (_("Conversion rate"), _("customers won ÷ leads created × 100")),
    "complaints": (_("Complaint rate"), _("complaints ÷ orders × 100")),
    "churn": (_("Churn rate"), _("cancellations ÷ active customers at the start × 100")),
    "revenue_churn": (
        _("Revenue churn"),
        _("lost recurring revenue ÷ recurring revenue at the start × 100"),
    ),
    "retention": (
        _("Retention rate"),
        _(
            "(customers at the end − customers acquired in the period) ÷ "
            "customers at the start × 100"
        ),
    ),
    "nps": (_("NPS"), _("% promoters (9–10) − % detractors (0–6)")),
}

PART_LABELS: dict[str, Promise] = {
    "won": _("customers won"),
    "leads": _("leads created"),
    "complaints": _("complaints"),
    "orders": _("orders"),
    "cancellations": _("cancellations"),
    "active_at_start": _("active at the start"),
    "lost": _("recurring revenue lost (R$)"),
    "at_start": _("at the start"),
    "acquired": _("acquired"),
    "at_end": _("at the end"),
    "answers": _("answers"),
    "promoters": _("promoters"),
    "detractors": _("detractors"),
}


def rate(part: float, whole: float) -> float | None:
    return part / whole * 100 if whole else None


def conversion_rate(won: int, leads: int) -> float | None:
    return rate(won, leads)


def complaint_rate(complaints: int, orders: int) -> float | None:
    return rate(complaints, orders)


def churn_rate(cancellations: int, active_at_start: int) -> float | None:
    return rate(cancellations, active_at_start)


def revenue_churn(lost: float, at_start: float) -> float | None:
    return rate(lost, at_start)


def retention_rate(at_start: int, acquired: int, at_end: int) -> float | None:
    return rate(at_end - acquired, at_start)


def nps_category(score: int) -> str:
    """An NPS answer's category: promoter (9–10), passive (7–8) or detractor (0–6)."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def nps(promoters: int, detractors: int, answers: int) -> float | None:
    if not answers:
        return None
    return (promoters - detractors) / answers * 100


@dataclass(frozen=True)
class Kpi:
    key: str
    label: Promise
    formula: Promise
    value: float | None
    parts: dict[str, Any]

    @classmethod
    def of(cls, key: str, value: float | None, parts: dict[str, Any]) -> "Kpi":
        label, formula = KPI_TEXT[key]
        return cls(key, label, formula, value, parts)


def _state_on(
    purchases: pl.DataFrame, cancellations: pl.DataFrame, day: date, active_days: int
) -> pl.Series:
    """Contacts active at the first moment of `day` (see the module docstring)."""
    before = purchases.filter(pl.col("day") < day)
    last = before.group_by("contact_id").agg(last_day=pl.col("day").max())
    recent = last.filter(pl.col("last_day") >= day - timedelta(days=active_days))
    gone = (
        cancellations.filter(pl.col("day") < day)
        .join(recent, on="contact_id")
        .filter(pl.col("day") >= pl.col("last_day"))
    )
    return recent.join(gone, on="contact_id", how="anti").get_column("contact_id")


def kpis(
    *,
    start: date,
    end: date,
    contacts: Q | None = None,
    active_days: int = ACTIVE_DAYS,
    purchases: pl.DataFrame | None = None,
) -> list[Kpi]:
    """The KPIs for the days start..end (inclusive), for all contacts or a segment.

    `purchases`, when given, are those of these contacts already read (up to `end` or
    later); otherwise they are read here."""
    after = end + timedelta(days=1)
    if purchases is None:
        purchases = frames.purchases(until=end, contacts=contacts)
    purchases = purchases.filter(pl.col("day") <= end)
    events = frames.events(["cancellation", "complaint"], until=end, contacts=contacts)
    cancellations = events.filter(pl.col("name") == "cancellation")
    in_period = pl.col("day").is_between(start, end)

    first = purchases.group_by("contact_id").agg(first_day=pl.col("day").min())
    won = first.filter(pl.col("first_day").is_between(start, end)).height
    audience = Contact.objects.filter(contacts) if contacts is not None else Contact.objects.all()
    leads = audience.filter(
        created_at__gte=frames.day_start(start), created_at__lt=frames.day_start(after)
    ).count()

    complaints = events.filter(in_period & (pl.col("name") == "complaint")).height
    orders = purchases.filter(in_period).height

    at_start = _state_on(purchases, cancellations, start, active_days)
    at_end = _state_on(purchases, cancellations, after, active_days)
    cancelled = (
        cancellations.filter(in_period)
        .filter(pl.col("contact_id").is_in(at_start.implode()))
        .get_column("contact_id")
        .unique()
    )

    mrr = _recurring_revenue(audience)
    mrr_start = float(mrr.filter(pl.col("contact_id").is_in(at_start.implode()))["mrr"].sum())
    mrr_lost = float(mrr.filter(pl.col("contact_id").is_in(cancelled.implode()))["mrr"].sum())

    answers = _nps_counts(contacts, start, after)

    return [
        Kpi.of(
            "conversion",
            conversion_rate(won, leads),
            {"won": won, "leads": leads},
        ),
        Kpi.of(
            "complaints",
            complaint_rate(complaints, orders),
            {"complaints": complaints, "orders": orders},
        ),
        Kpi.of(
            "churn",
            churn_rate(cancelled.len(), at_start.len()),
            {"cancellations": cancelled.len(), "active_at_start": at_start.len()},
        ),
        Kpi.of(
            "revenue_churn",
            revenue_churn(mrr_lost, mrr_start),
            {"lost": round(mrr_lost, 2), "at_start": round(mrr_start, 2)},
        ),
        Kpi.of(
            "retention",
            retention_rate(at_start.len(), won, at_end.len()),
            {"at_start": at_start.len(), "acquired": won, "at_end": at_end.len()},
        ),
        Kpi.of(
            "nps",
            nps(answers["promoters"], answers["detractors"], answers["answers"]),
            answers,
        ),
    ]


def _recurring_revenue(audience) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    rows = []
    for contact_id, value in audience.filter(attributes__has_key="mrr").values_list(
        "id", "attributes__mrr"
    ):
        try:
            rows.append((contact_id, float(value)))
        except (TypeError, ValueError):
            continue  # not a number: recorded as given, not counted
    return pl.DataFrame(rows, schema={"contact_id": pl.Int64, "mrr": pl.Float64}, orient="row")


def _nps_counts(contacts: Q | None, start: date, after: date) -> dict[str, int]:
    answered = Event.objects.filter(
        name="nps_answered",
        occurred_at__gte=frames.day_start(start),
        occurred_at__lt=frames.day_start(after),
    )
    if contacts is not None:
        answered = answered.filter(contact__in=Contact.objects.filter(contacts).values("pk"))
    counts = answered.aggregate(
        answers=Count("id", filter=Q(properties__score__gte=0)),
        promoters=Count("id", filter=Q(properties__score__gte=9)),
        detractors=Count("id", filter=Q(properties__score__lte=6, properties__score__gte=0)),
    )
    return {key: int(value or 0) for key, value in counts.items()}
