"""RFM scores, named RFM segments, the activity matrix and Piercy's relationship types.

All of it is one sorted pass over the purchases frame (frames.purchases) with numpy, so a
million customers cost one sort and a few vectorised reductions, never a loop.

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
from datetime import date

import numpy as np
import polars as pl
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from regua.customers.models import RelationshipType

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

# The contact's own choices: the refresh copies the type onto the contact.
RELATIONSHIP_TYPES: dict[str, Promise | str] = dict(RelationshipType.choices)


def segment_of(r: int, f: int) -> str:
    for key, (_label, cells) in SEGMENT_MAP.items():
        if any(r in rs and f in fs for rs, fs in cells):
            return key
    raise ValueError(f"no RFM segment for R={r} F={f}")


# The segment of each (R, F) cell, by (R − 1) × 5 + (F − 1).
SEGMENT_OF_CELL = {
    (r - 1) * 5 + (f - 1): segment_of(r, f) for r in range(1, 6) for f in range(1, 6)
}


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


def quintile_scores(values: np.ndarray, *, smaller_is_better: bool = False) -> np.ndarray:
    """1 + ⌊5 × share of customers strictly worse⌋ (ties share the score): how many are
    strictly worse is a binary search in the sorted values."""
    keys = -values if smaller_is_better else values
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    worse = np.empty(len(keys), dtype=np.int64)
    # Searching the sorted values themselves reads memory in order: far faster than
    # searching them in the customers' order.
    worse[order] = np.searchsorted(ordered, ordered, side="left")
    return np.clip(1 + worse * 5 // max(len(keys), 1), 1, 5).astype(np.int8)


@dataclass(frozen=True)
class History:
    """Per customer: the whole history up to the as-of date and the RFM window."""

    table: pl.DataFrame
    median_gap: float | None


def customer_history(purchases: pl.DataFrame, *, as_of: date, window_days: int) -> History:
    """One sorted pass over the purchases (see the module docstring).

    1. Sort by customer and day once (a single integer key).
    2. Customer boundaries and day boundaries are where the key changes; sums are
       np.add.reduceat over them, firsts and lasts are reads at them.
    3. The gaps between a customer's consecutive purchase days give the median interval.
    RFM columns are null for customers with no purchase in the window.
    """
    bought = purchases.filter(pl.col("day") <= as_of)
    if bought.is_empty():
        return History(_empty_history(), None)
    day_column = pl.col("day").cast(pl.Int32).cast(pl.Int64)
    origin = bought.select(day_column.min()).item()
    ordered = bought.select(
        pl.col("contact_id"),
        day_column.alias("day"),
        pl.col("total"),
        (pl.col("discount") > 0).cast(pl.Int64).alias("discounted"),
        key=(pl.col("contact_id") * (1 << 20)) + (day_column - origin),
    ).sort("key")  # polars sorts one integer column fast, on every core
    contact = ordered.get_column("contact_id").to_numpy()
    day = ordered.get_column("day").to_numpy()
    total = ordered.get_column("total").to_numpy()
    discounted = ordered.get_column("discounted").to_numpy()
    n = len(contact)
    new_customer = np.empty(n, dtype=bool)
    new_customer[0] = True
    np.not_equal(contact[1:], contact[:-1], out=new_customer[1:])
    starts = np.flatnonzero(new_customer)
    ends = np.append(starts[1:], n)
    new_day = new_customer.copy()
    new_day[1:] |= day[1:] != day[:-1]
    since = np.datetime64(as_of, "D").astype(np.int64) - (window_days - 1)
    in_window = day >= since
    last_day = day[ends - 1]
    frequency = np.add.reduceat(in_window.astype(np.int64), starts)
    monetary = np.add.reduceat(np.where(in_window, total, 0.0), starts)
    recency = np.datetime64(as_of, "D").astype(np.int64) - last_day
    windowed = frequency > 0
    r = np.zeros(len(starts), dtype=np.int8)
    f = np.zeros(len(starts), dtype=np.int8)
    m = np.zeros(len(starts), dtype=np.int8)
    r[windowed] = quintile_scores(recency[windowed], smaller_is_better=True)
    f[windowed] = quintile_scores(frequency[windowed])
    m[windowed] = quintile_scores(monetary[windowed])
    day_starts = np.flatnonzero(new_day)
    repeat_day = ~new_customer[day_starts][1:]
    gaps = np.diff(day[day_starts])[repeat_day]
    purchase_day_count = np.add.reduceat(new_day.astype(np.int64), starts)
    # The second purchase day: the day start after the customer's first one.
    first_in_days = np.searchsorted(day_starts, starts)
    came_back = purchase_day_count > 1
    second_day = np.full(len(starts), np.iinfo(np.int64).min)
    second_day[came_back] = day[day_starts[first_in_days[came_back] + 1]]
    table = pl.DataFrame(
        {
            "contact_id": contact[starts],
            "first_day": day[starts].astype("datetime64[D]"),
            "last_day": last_day.astype("datetime64[D]"),
            "purchases": (ends - starts).astype(np.int32),
            "purchase_days": purchase_day_count.astype(np.int32),
            "second_day": second_day.astype("datetime64[D]"),
            "spend": np.add.reduceat(total, starts),
            "discounted": np.add.reduceat(discounted, starts).astype(np.int32),
            "recency_days": recency.astype(np.int32),
            "frequency": frequency.astype(np.int32),
            "monetary": monetary,
            "r": r,
            "f": f,
            "m": m,
        }
    )
    table = table.with_columns(
        pl.when(pl.col("purchase_days") > 1).then(pl.col("second_day")).otherwise(None)
    )
    blank = ~pl.col("frequency").gt(0)
    cell = (pl.col("r").cast(pl.Int32) - 1) * 5 + pl.col("f").cast(pl.Int32) - 1
    table = table.with_columns(
        pl.when(blank)
        .then(None)
        .otherwise(cell.replace_strict(SEGMENT_OF_CELL))
        .alias("rfm_segment")
    ).with_columns(
        [
            pl.when(blank).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("recency_days", "frequency", "monetary", "r", "f", "m")
        ]
    )
    median = float(np.median(gaps)) if len(gaps) else None
    return History(table, median)  # in contact order already: sorted by the key


def _empty_history() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "contact_id": pl.Int64,
            "first_day": pl.Date,
            "last_day": pl.Date,
            "purchases": pl.Int32,
            "purchase_days": pl.Int32,
            "second_day": pl.Date,
            "spend": pl.Float64,
            "discounted": pl.Int32,
            "recency_days": pl.Int32,
            "frequency": pl.Int32,
            "monetary": pl.Float64,
            "r": pl.Int8,
            "f": pl.Int8,
            "m": pl.Int8,
            "rfm_segment": pl.String,
        }
    )


def purchase_days(purchases: pl.DataFrame) -> pl.DataFrame:
    """One row per customer and day bought: contact_id, day, total, discounted."""
    return purchases.group_by("contact_id", "day").agg(
        total=pl.col("total").sum(), discounted=(pl.col("discount") > 0).any()
    )


def activity_cells(
    history: pl.DataFrame, interval_days: float, *, as_of: date, rules: ActivityRules
) -> pl.Series:
    """The activity-matrix cell of each row of customer_history().table, in its order."""
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
        .then(pl.lit(RelationshipType.ONE_TIME.value))
        .when(vip)
        .then(pl.lit("vip"))
        .otherwise(pl.lit("growing"))
    )
    return history.select(cell.alias("activity_cell")).get_column("activity_cell")


def relationship_types(
    history: pl.DataFrame, surveyed: pl.Series, *, as_of: date, rules: RelationshipRules
) -> pl.Series:
    """Piercy's type for each row of customer_history().table, in its order."""
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
        .then(pl.lit(RelationshipType.SEEKER.value))
        .when(long_term)
        .then(pl.lit(RelationshipType.LOYAL.value))
        .when(close | hunter)
        .then(pl.lit(RelationshipType.EXPLOITER.value))
        .otherwise(pl.lit(RelationshipType.ONE_TIME.value))
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
    history = customer_history(purchases, as_of=as_of, window_days=window_days)
    interval = activity.interval_days
    derived = interval is None
    if interval is None:
        interval = history.median_gap or activity.default_interval_days
    table = history.table.with_columns(
        activity_cells(history.table, interval, as_of=as_of, rules=activity),
        relationship_types(
            history.table,
            surveyed if surveyed is not None else pl.Series("contact_id", [], pl.Int64),
            as_of=as_of,
            rules=relationship,
        ),
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
