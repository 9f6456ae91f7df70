"""Acquisition cohorts, time to second purchase and each customer's next purchase date.

- A customer's cohort is the month of the first purchase. Cell (cohort, k) holds the
  share of the cohort who bought in the k-th month after that one (k = 0 is the month
  of acquisition, always 100%) and the revenue the cohort brought that month.
- Time to second purchase: days between the first and the second purchase day, for those
  who came back; its distribution (in 30-day bins) and median.
- Expected next purchase: the last purchase day plus the customer's own mean interval
  between purchase days, or, for one-time buyers, the median time to second purchase.
  The repurchase reminder régua reads it from the stored scores.
"""

from datetime import date

import polars as pl

from .rfm import customer_history


def _month_index(column: str) -> pl.Expr:
    return pl.col(column).dt.year().cast(pl.Int32) * 12 + pl.col(column).dt.month().cast(pl.Int32)


def cohort_table(purchases: pl.DataFrame, *, as_of: date, months: int = 12) -> pl.DataFrame:
    """cohort (first day of the month), age (months since), customers, size, retention
    (% of the cohort), revenue — for the cohorts of the last `months` months."""
    bought = purchases.filter(pl.col("day") <= as_of)
    first = bought.group_by("contact_id").agg(first_day=pl.col("day").min())
    index = as_of.year * 12 + as_of.month - 1 - (months - 1)
    start = date(index // 12, index % 12 + 1, 1)
    rows = (
        bought.join(first, on="contact_id")
        .filter(pl.col("first_day") >= start)
        .with_columns(
            cohort=pl.col("first_day").dt.truncate("1mo"),
            age=(_month_index("day") - _month_index("first_day")).cast(pl.Int32),
        )
    )
    sizes = rows.group_by("cohort").agg(size=pl.col("contact_id").n_unique())
    cells = rows.group_by("cohort", "age").agg(
        customers=pl.col("contact_id").n_unique(), revenue=pl.col("total").sum()
    )
    return (
        cells.join(sizes, on="cohort")
        .with_columns(retention=pl.col("customers") / pl.col("size") * 100)
        .sort("cohort", "age")
    )


def second_purchase_gaps(purchases: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """contact_id, days from the first to the second purchase day (repeat buyers only)."""
    return gaps_from(customer_history(purchases, as_of=as_of, window_days=1).table)


def gaps_from(history: pl.DataFrame) -> pl.DataFrame:
    """second_purchase_gaps from rfm.customer_history's table (its second purchase day)."""
    return history.filter(pl.col("second_day").is_not_null()).select(
        "contact_id", days=(pl.col("second_day") - pl.col("first_day")).dt.total_days()
    )


def second_purchase_distribution(gaps: pl.DataFrame, *, bin_days: int = 30) -> pl.DataFrame:
    """How many repeat buyers came back within each `bin_days`-day bin."""
    return (
        gaps.with_columns(from_day=(pl.col("days") // bin_days) * bin_days)
        .group_by("from_day")
        .agg(customers=pl.len())
        .sort("from_day")
        .with_columns(to_day=pl.col("from_day") + bin_days - 1)
    )


def expected_next_purchase(purchases: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """contact_id, next_purchase_on for every customer who bought up to as_of."""
    history = customer_history(purchases, as_of=as_of, window_days=1).table
    return next_purchase_from(history)


def next_purchase_from(history: pl.DataFrame) -> pl.DataFrame:
    """The expected next purchase from rfm.customer_history's table (first, second and
    last purchase day, purchase days)."""
    gaps = gaps_from(history).get_column("days")
    typical = gaps.median() if not gaps.is_empty() else None
    n = pl.col("purchase_days")
    own = (pl.col("last_day") - pl.col("first_day")).dt.total_days() / (n - 1)
    interval = pl.when(n > 1).then(own).otherwise(pl.lit(typical, dtype=pl.Float64))
    return history.select(
        "contact_id",
        next_purchase_on=pl.col("last_day")
        + pl.duration(days=interval.round(0).cast(pl.Int64, strict=False)),
    )
