"""RFM scores, named RFM segments, the activity matrix and Piercy's relationship types.

All of it is one pass of dataframe operations over the purchases frame (frames.purchases),
so a million customers cost a few group-bys, never a loop.

1. Per customer, over the window (the `window_days` before and including the as-of
   date): recency = days since the last purchase, frequency = purchases, monetary = their
   total.
2. Each is scored 1–5 by quintiles: score = 1 + ⌊5 × share of customers strictly
   worse⌋, so equal values always share a score, the best fifth scores 5, and with
   fewer than five customers (or all equal) scores simply start at 1. Recency is better
   when smaller.
3. The named segment follows the R and F scores (the map in SEGMENT_MAP).
4. The activity matrix places every customer who ever bought by the whole history up to
   the as-of date, with thresholds derived from the median time between purchases
   (see ActivityRules).
5. The relationship type follows Piercy's 2×2 (see RelationshipRules).
"""

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# R score, F score → segment; every one of the 25 cells has exactly one name.
SEGMENT_MAP: dict[str, tuple[Promise, list[tuple[set[int], set[int]]]]] = {
    "champions": (_("Champions"), [({5}, {4, 5})]),
    "loyal": (_("Loyal customers"), [({3, 4}, {4, 5})]),
    "potential_loyalists": (_("Potential loyalists"), [({4, 5}, {2, 3})]),
    "new_customers": (_("New customers"), [({5}, {1})]),
    "promising": (_("Promising"), [({4}, {1})]),
    "need_attention": (_("Need attention"), [({3}, {3})]),
    "about_to_sleep": (_("About to sleep"), [({3}, {1, 2})]),
    "at_risk": (_("At risk"), [({1, 2}, {3, 4})]),
    "cant_lose": (_("Can't lose them"), [({1, 2}, {5})]),
    "hibernating": (_("Hibernating"), [({1, 2}, {1, 2})]),
}

ACTIVITY_CELLS: dict[str, Promise] = {
    "new": _("New"),
    "one_time": _("One-time"),
    "growing": _("Growing"),
    "vip": _("VIP"),
    "lost": _("Lost"),
}

RELATIONSHIP_TYPES: dict[str, Promise] = {
    "seeker": _("Relationship seeker"),
    "loyal": _("Loyal customer"),
    "exploiter": _("Relationship exploiter"),
    "one_time": _("One-time buyer"),
}


def segment_of(r: int, f: int) -> str:
    for key, (_label, cells) in SEGMENT_MAP.items():
        if any(r in rs and f in fs for rs, fs in cells):
            return key
    raise ValueError(f"no RFM segment for R={r} F={f}")


@dataclass(frozen=True)
class ActivityRules:
    """How the activity matrix places a customer.

    `interval_days` is the typical time between purchases: by default the median gap
    between consecutive purchase days of all repeat buyers (90 days when nobody has
    bought twice). Then, in this order:
    - lost: no purchase for more than `lost_after` × interval;
    - new: one purchase, made within the last interval;
    - one-time: one purchase, longer ago;
    - VIP: two or more purchases and a monetary value (whole history) in the top
      `vip_share` of repeat buyers;
    - growing: the other repeat buyers.
    """

    interval_days: float | None = None
    lost_after: float = 3.0
    vip_share: float = 0.2
    default_interval_days: float = 90.0


@dataclass(frozen=True)
class RelationshipRules:
    """Piercy's 2×2 (long/short term × close/distant), from behaviour we can observe.

    - long term: a customer for at least `long_term_days` with `long_term_purchases` or
      more purchases;
    - close: answered a survey, or made at least as many purchases as the repeat buyer
      at `close_frequency_share` (the upper quarter by default);
    - a discount hunter: at least `discount_share` of the purchases carried a discount.
    Then: long & close → relationship seeker; long & distant → loyal customer; short
    term and close or a discount hunter → relationship exploiter; otherwise a one-time
    buyer.
    """

    long_term_days: int = 365
    long_term_purchases: int = 2
    close_frequency_share: float = 0.75
    discount_share: float = 0.5


def quintile_score(column: str, *, smaller_is_better: bool = False) -> pl.Expr:
    """1 + ⌊5 × share of customers strictly worse⌋ (ties share the score)."""
    value = -pl.col(column) if smaller_is_better else pl.col(column)
    worse = value.rank(method="min") - 1
    return (1 + (worse * 5 // pl.len())).clip(1, 5).cast(pl.Int8)


def rfm_table(purchases: pl.DataFrame, *, as_of: date, window_days: int = 365) -> pl.DataFrame:
    """contact_id, recency_days, frequency, monetary, r, f, m, rfm_segment."""
    since = as_of - timedelta(days=window_days - 1)
    window = purchases.filter(pl.col("day").is_between(since, as_of))
    table = window.group_by("contact_id").agg(
        recency_days=(pl.lit(as_of) - pl.col("day").max()).dt.total_days().cast(pl.Int32),
        frequency=pl.len().cast(pl.Int32),
        monetary=pl.col("total").sum(),
    )
    table = table.with_columns(
        r=quintile_score("recency_days", smaller_is_better=True),
        f=quintile_score("frequency"),
        m=quintile_score("monetary"),
    )
    segments = pl.DataFrame(
        [(r, f, segment_of(r, f)) for r in range(1, 6) for f in range(1, 6)],
        schema={"r": pl.Int8, "f": pl.Int8, "rfm_segment": pl.String},
        orient="row",
    )
    return table.join(segments, on=["r", "f"], how="left").sort("contact_id")


def purchase_days(purchases: pl.DataFrame) -> pl.DataFrame:
    """One row per customer and day bought: contact_id, day, total, discounted."""
    return purchases.group_by("contact_id", "day").agg(
        total=pl.col("total").sum(), discounted=(pl.col("discount") > 0).any()
    )


def median_interval(days: pl.DataFrame) -> float | None:
    """Median gap in days between a customer's consecutive purchase days."""
    ordered = days.select("contact_id", "day").sort("contact_id", "day")
    gaps = ordered.select(
        gap=pl.when(pl.col("contact_id") == pl.col("contact_id").shift())
        .then((pl.col("day") - pl.col("day").shift()).dt.total_days())
        .otherwise(None)
    ).get_column("gap")
    gaps = gaps.drop_nulls()
    if gaps.is_empty():
        return None
    return float(gaps.median())  # type: ignore[arg-type]


def history_table(purchases: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """Per customer over the whole history: first and last day, purchases, spend."""
    return (
        purchases.filter(pl.col("day") <= as_of)
        .group_by("contact_id")
        .agg(
            first_day=pl.col("day").min(),
            last_day=pl.col("day").max(),
            purchases=pl.len().cast(pl.Int32),
            purchase_days=pl.col("day").n_unique().cast(pl.Int32),
            spend=pl.col("total").sum(),
            discounted=(pl.col("discount") > 0).sum().cast(pl.Int32),
        )
    )


def activity_cells(
    history: pl.DataFrame, interval_days: float, *, as_of: date, rules: ActivityRules
) -> pl.Series:
    """The activity-matrix cell of each row of history_table(), in its order."""
    since_last = (pl.lit(as_of) - pl.col("last_day")).dt.total_days()
    repeat = pl.col("purchases") >= 2
    vip_line = (
        history.filter(pl.col("purchases") >= 2)
        .get_column("spend")
        .quantile(1 - rules.vip_share, interpolation="lower")
    )
    vip = repeat & (pl.col("spend") >= (vip_line if vip_line is not None else float("inf")))
    cell = (
        pl.when(since_last > rules.lost_after * interval_days)
        .then(pl.lit("lost"))
        .when(~repeat & (since_last <= interval_days))
        .then(pl.lit("new"))
        .when(~repeat)
        .then(pl.lit("one_time"))
        .when(vip)
        .then(pl.lit("vip"))
        .otherwise(pl.lit("growing"))
    )
    return history.select(cell.alias("activity_cell")).get_column("activity_cell")


def relationship_types(
    history: pl.DataFrame, surveyed: pl.Series, *, as_of: date, rules: RelationshipRules
) -> pl.Series:
    """Piercy's type for each row of history_table(), in its order."""
    tenure = (pl.lit(as_of) - pl.col("first_day")).dt.total_days()
    long_term = (tenure >= rules.long_term_days) & (
        pl.col("purchases") >= rules.long_term_purchases
    )
    frequent_line = (
        history.filter(pl.col("purchases") >= 2)
        .get_column("purchases")
        .quantile(rules.close_frequency_share, interpolation="lower")
    )
    close = pl.col("contact_id").is_in(surveyed.implode()) | (
        pl.col("purchases") >= (frequent_line or 2)
    )
    hunter = pl.col("discounted") >= rules.discount_share * pl.col("purchases")
    kind = (
        pl.when(long_term & close)
        .then(pl.lit("seeker"))
        .when(long_term)
        .then(pl.lit("loyal"))
        .when(close | hunter)
        .then(pl.lit("exploiter"))
        .otherwise(pl.lit("one_time"))
    )
    return history.select(kind.alias("relationship_type")).get_column("relationship_type")


@dataclass(frozen=True)
class Scores:
    """Everything rfm_scores computed, with the thresholds it used."""

    table: pl.DataFrame
    interval_days: float
    interval_derived: bool
    window_days: int
    as_of: date


def rfm_scores(
    purchases: pl.DataFrame,
    *,
    as_of: date,
    window_days: int = 365,
    surveyed: pl.Series | None = None,
    activity: ActivityRules = ActivityRules(),
    relationship: RelationshipRules = RelationshipRules(),
) -> Scores:
    """One row per customer who ever bought: RFM (blank outside the window), activity
    cell and relationship type."""
    purchases = purchases.filter(pl.col("day") <= as_of)
    history = history_table(purchases, as_of=as_of).sort("contact_id")
    interval = activity.interval_days
    derived = interval is None
    if interval is None:
        interval = median_interval(purchase_days(purchases)) or activity.default_interval_days
    history = history.with_columns(
        activity_cells(history, interval, as_of=as_of, rules=activity),
        relationship_types(
            history,
            surveyed if surveyed is not None else pl.Series("contact_id", [], pl.Int64),
            as_of=as_of,
            rules=relationship,
        ),
    )
    table = history.join(
        rfm_table(purchases, as_of=as_of, window_days=window_days), on="contact_id", how="left"
    )
    return Scores(table, interval, derived, window_days, as_of)


def rfm_matrix(table: pl.DataFrame) -> pl.DataFrame:
    """Customers and spend per (R, F) cell, for the heat map."""
    return (
        table.filter(pl.col("r").is_not_null())
        .group_by("r", "f")
        .agg(customers=pl.len(), monetary=pl.col("monetary").sum())
        .sort("r", "f")
    )


def activity_summary(table: pl.DataFrame) -> pl.DataFrame:
    """Customers and spend per activity cell, in the matrix's order."""
    order = pl.DataFrame({"activity_cell": list(ACTIVITY_CELLS), "position": range(5)})
    counts = table.group_by("activity_cell").agg(customers=pl.len(), spend=pl.col("spend").sum())
    return (
        order.join(counts, on="activity_cell", how="left")
        .with_columns(pl.col("customers").fill_null(0), pl.col("spend").fill_null(0.0))
        .sort("position")
        .drop("position")
    )
