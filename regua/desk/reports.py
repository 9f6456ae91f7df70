"""The SLA report: of the tickets opened in a period, how many got their first response
in time, and how long it took in business time (median and p90), by period, team
member, kind and segment.

- % SLA met = tickets answered within the first-response target ÷ tickets whose target
  has been decided (answered, or breached while unanswered) × 100;
- first-response time is business time, pauses left out (Ticket.first_response_time);
- resolution met = resolved by the resolution target ÷ tickets resolved or breached.

Counts are one GROUP BY; the quantiles come from the same rows in polars.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from django.db.models import Q, QuerySet

from regua.analytics.frames import business_zone, day_start

from .models import Ticket

GROUPS = ("month", "assignee", "kind", "priority", "channel")


@dataclass
class Row:
    key: Any
    label: str
    tickets: int
    decided: int
    met: int
    median_minutes: float | None
    p90_minutes: float | None
    resolved: int
    resolution_met: int
    rated: int
    rating_mean: float | None

    @property
    def met_rate(self) -> float | None:
        return round(100 * self.met / self.decided, 1) if self.decided else None

    @property
    def resolution_rate(self) -> float | None:
        return round(100 * self.resolution_met / self.resolved, 1) if self.resolved else None


def period_q(start: date, end: date) -> Q:
    """Tickets opened from `start` to `end`, both days included, in local time (the
    dashboard's business days)."""
    return Q(created_at__gte=day_start(start), created_at__lt=day_start(end + timedelta(days=1)))


_COLUMNS = {
    "month": "created_at",
    "assignee": "assignee_id",
    "kind": "kind",
    "priority": "priority",
    "channel": "channel",
}


def sla_report(tickets: QuerySet[Ticket], group: str) -> tuple[Row, list[Row]]:
    """The totals and one row per group value."""
    if group not in GROUPS:
        group = "month"
    rows = tickets.values_list(
        _COLUMNS[group],
        "first_response_due",
        "first_responded_at",
        "first_response_breached_at",
        "first_response_time",
        "resolution_due",
        "resolved_at",
        "resolution_breached_at",
        "rating",
    )
    frame = _frame(list(rows), group)
    total = _summarise(frame, None, "")
    if frame.is_empty():
        return total, []
    parts = []
    for (key,), part in sorted(frame.group_by(["key"]), key=lambda kv: _order(kv[0][0])):
        parts.append(_summarise(part, key, ""))
    return total, parts


def _order(key: Any) -> Any:
    return (key is None, str(key) if key is not None else "")


_SCHEMA: dict[str, Any] = {
    "key": pl.Utf8,  # its type depends on the grouping (see _frame)
    "frd": pl.Datetime("us", "UTC"),
    "fra": pl.Datetime("us", "UTC"),
    "frb": pl.Datetime("us", "UTC"),
    "frt": pl.Duration("us"),
    "rd": pl.Datetime("us", "UTC"),
    "ra": pl.Datetime("us", "UTC"),
    "rb": pl.Datetime("us", "UTC"),
    "rating": pl.Int64,
}


def _frame(rows: list[tuple], group: str) -> pl.DataFrame:
    key_type: dict[str, Any] = {
        "month": pl.Datetime("us", "UTC"),
        "assignee": pl.Int64,
        "priority": pl.Int64,
    }
    raw = pl.DataFrame(rows, schema={**_SCHEMA, "key": key_type.get(group, pl.Utf8)}, orient="row")
    if group == "month":
        zone = str(business_zone())
        key = pl.col("key").dt.convert_time_zone(zone).dt.strftime("%Y-%m")
    else:
        key = pl.col("key").cast(pl.Utf8)
    return raw.select(
        key.alias("key"),
        pl.col("frd").is_not_null().alias("has_target"),
        pl.col("fra").is_not_null().alias("answered"),
        (pl.col("fra") <= pl.col("frd")).fill_null(False).alias("met"),
        (pl.col("fra").is_null() & pl.col("frb").is_not_null()).alias("breached"),
        (pl.col("frt").dt.total_microseconds() / 60_000_000).alias("minutes"),
        (pl.col("ra").is_not_null() & pl.col("rd").is_not_null()).alias("resolved"),
        (pl.col("ra") <= pl.col("rd")).fill_null(False).alias("resolution_met"),
        (pl.col("ra").is_null() & pl.col("rb").is_not_null()).alias("resolution_breached"),
        pl.col("rating"),
    )


def _summarise(frame: pl.DataFrame, key: Any, label: str) -> Row:
    if frame.is_empty():
        return Row(key, label, 0, 0, 0, None, None, 0, 0, 0, None)
    decided = frame.filter(pl.col("has_target") & (pl.col("answered") | pl.col("breached")))
    minutes = frame.get_column("minutes").drop_nulls()
    ratings = frame.get_column("rating").drop_nulls()
    resolved = frame.filter(pl.col("resolved") | pl.col("resolution_breached"))
    return Row(
        key=key,
        label=label,
        tickets=frame.height,
        decided=decided.height,
        met=int(decided.get_column("met").sum()),
        median_minutes=_quantile(minutes, 0.5),
        p90_minutes=_quantile(minutes, 0.9),
        resolved=resolved.height,
        resolution_met=int(resolved.get_column("resolution_met").sum()),
        rated=ratings.len(),
        rating_mean=round(float(ratings.mean()), 2) if ratings.len() else None,  # type: ignore[arg-type]
    )


def _quantile(values: pl.Series, q: float) -> float | None:
    if values.len() == 0:
        return None
    return round(float(values.quantile(q, interpolation="linear")), 1)  # type: ignore[arg-type]
