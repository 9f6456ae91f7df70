"""RFM scores, named RFM segments, the activity matrix and Piercy's relationship types.

All of it is one pass over the purchases frame (frames.purchases) with numpy: a million
customers cost one sort of one integer column, a few histograms and vectorised
reductions, never a loop (see customer_history).

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

from concurrent.futures import ThreadPoolExecutor
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
    """1 + ⌊5 × share of customers strictly worse⌋ (ties share the score).

    Whole numbers over a modest range (days, purchase counts, cents) are counted: how
    many are strictly worse is a running total of a histogram, no sort. Anything else is
    a binary search in the sorted values.
    """
    count = len(values)
    if count == 0:
        return np.empty(0, dtype=np.int8)
    keys = -values if smaller_is_better else values
    if np.issubdtype(keys.dtype, np.integer):
        low = int(keys.min())
        span = int(keys.max()) - low + 1
        if span <= max(16 * count, 1 << 22):
            shifted = (keys - low).astype(np.intp)
            histogram = np.bincount(shifted, minlength=span)
            worse = (np.cumsum(histogram) - histogram)[shifted]
            return np.clip(1 + worse * 5 // count, 1, 5).astype(np.int8)
    order = np.argsort(keys)
    ordered = keys[order]
    worse = np.empty(count, dtype=np.int64)
    # Searching the sorted values themselves reads memory in order: far faster than
    # searching them in the customers' order.
    worse[order] = np.searchsorted(ordered, ordered, side="left")
    return np.clip(1 + worse * 5 // count, 1, 5).astype(np.int8)


@dataclass(frozen=True)
class History:
    """Per customer: the whole history up to the as-of date and the RFM window."""

    table: pl.DataFrame
    median_gap: float | None


def customer_history(purchases: pl.DataFrame, *, as_of: date, window_days: int) -> History:
    """One pass over the purchases (see the module docstring), with a single sort.

    1. Each purchase becomes one integer key, customer then day, and only the keys are
       sorted (one column, on every core). The distinct sorted keys are the purchase
       days: each customer's first, second and last day, how many days, and the gaps
       between consecutive days (for the median interval).
    2. Counts and sums (purchases, spend, the window's frequency and monetary value,
       discounted purchases) need no order: they are histograms of the contact ids,
       weighted by the amounts where they are sums, counted on a second core while
       this one sorts.
    RFM columns are null for customers with no purchase in the window.
    """
    bought = purchases.select(
        pl.col("contact_id").cast(pl.Int64),
        pl.col("day").cast(pl.Int32).cast(pl.Int64),
        pl.col("total").cast(pl.Float64),
        pl.col("discount").cast(pl.Float64),
    )
    today = int(np.datetime64(as_of, "D").astype(np.int64))
    if not bought.is_empty() and int(bought.get_column("day").to_numpy().max()) > today:
        bought = bought.filter(pl.col("day") <= today)
    if bought.is_empty():
        return History(_empty_history(), None)
    contact_column, day_column = bought.get_column("contact_id"), bought.get_column("day")
    bought_day = day_column.to_numpy()
    first_contact, origin = int(contact_column.to_numpy().min()), int(bought_day.min())
    offsets = (contact_column - first_contact).to_numpy()
    columns = _Purchases(
        offsets,
        bought_day >= today - (window_days - 1),
        bought.get_column("total").to_numpy(),
        bought.get_column("discount").to_numpy() > 0,
    )
    # The histograms by contact id need no order: on a second core while the sort and
    # the distinct days run on this one (bincount releases the GIL). Sparse ids go by
    # each customer's position instead, known after the sort.
    span = int(offsets.max()) + 1
    dense = span <= 4 * len(offsets) + 1024
    with ThreadPoolExecutor(max_workers=1) as pool:
        by_id = pool.submit(_sums_by_contact, columns, offsets, span) if dense else None
        # key = contact << (bits + 1) | day: with the spare bit, the difference between two
        # customers' keys is always larger than any difference of days within one customer.
        day_bits = max(int(bought_day.max()) - origin, 1).bit_length()
        day_mask = (1 << day_bits) - 1
        keys = np.left_shift(offsets, day_bits + 1)
        keys += bought_day
        keys -= origin
        keys = pl.Series(keys).sort().to_numpy()  # polars sorts one integer column on every core
        new_day = np.empty(len(keys), dtype=bool)
        new_day[0] = True
        np.not_equal(keys[1:], keys[:-1], out=new_day[1:])
        days = keys[new_day]  # one key per customer and day bought, in order
        steps = np.diff(days)
        new_customer = np.empty(len(days), dtype=bool)
        new_customer[0] = True
        np.greater(steps, day_mask, out=new_customer[1:])
        starts = np.flatnonzero(new_customer)
        ends = np.append(starts[1:], len(days))
        customers = days[starts] >> (day_bits + 1)
        purchase_day_count = ends - starts
        came_back = purchase_day_count > 1
        # The day after each customer's first (another customer's where there is none:
        # blanked below).
        second_day = (days[np.minimum(starts + 1, len(days) - 1)] & day_mask) + origin
        # The steps within a customer are the gaps between consecutive purchase days (at
        # least 1); the steps from one customer to the next become 0, left out of the
        # median.
        steps[starts[1:] - 1] = 0
        if by_id is not None:
            sums = by_id.result().of(customers)
        else:
            positions = np.searchsorted(customers, offsets)
            sums = _sums_by_contact(columns, positions, len(starts))
    frequency, monetary, spend = sums.frequency, sums.monetary, sums.spend
    purchase_count, discounted_count = sums.purchases, sums.discounted
    last_day = (days[ends - 1] & day_mask) + origin
    recency = today - last_day
    windowed = frequency > 0
    r = np.zeros(len(starts), dtype=np.int8)
    f = np.zeros(len(starts), dtype=np.int8)
    m = np.zeros(len(starts), dtype=np.int8)
    r[windowed] = quintile_scores(recency[windowed], smaller_is_better=True)
    f[windowed] = quintile_scores(frequency[windowed])
    m[windowed] = quintile_scores(sums.window_cents[windowed])
    blank = ~windowed
    cell = np.where(windowed, (r.astype(np.int32) - 1) * 5 + f - 1, 0)
    segment = _labels([SEGMENT_OF_CELL[cell] for cell in range(25)], cell)
    table = pl.DataFrame(
        {
            "contact_id": customers + first_contact,
            "first_day": ((days[starts] & day_mask) + origin).astype("datetime64[D]"),
            "last_day": last_day.astype("datetime64[D]"),
            "purchases": purchase_count.astype(np.int32),
            "purchase_days": purchase_day_count.astype(np.int32),
            "second_day": _blank(second_day.astype("datetime64[D]"), ~came_back),
            "spend": spend,
            "discounted": discounted_count.astype(np.int32),
            "recency_days": _blank(recency.astype(np.int32), blank),
            "frequency": _blank(frequency.astype(np.int32), blank),
            "monetary": _blank(monetary, blank),
            "r": _blank(r, blank),
            "f": _blank(f, blank),
            "m": _blank(m, blank),
            "rfm_segment": _blank(segment, blank),
        }
    )
    histogram = np.bincount(steps)
    histogram[:1] = 0
    median = _median_from_histogram(histogram) if histogram.sum() else None
    return History(table, median)  # in contact order: sorted by the key


@dataclass(frozen=True)
class _Purchases:
    """The columns the counts and sums read, one entry per purchase."""

    offsets: np.ndarray  # contact id − the smallest
    in_window: np.ndarray
    total: np.ndarray
    discounted: np.ndarray


@dataclass(frozen=True)
class _Sums:
    """Per customer (or per contact id, until `of` picks the customers)."""

    purchases: np.ndarray
    spend: np.ndarray
    discounted: np.ndarray
    frequency: np.ndarray
    window_cents: np.ndarray

    @property
    def monetary(self) -> np.ndarray:
        return self.window_cents / 100

    def of(self, at: np.ndarray) -> "_Sums":
        return _Sums(*(getattr(self, name)[at] for name in self.__dataclass_fields__))


def _sums_by_contact(columns: _Purchases, index: np.ndarray, span: int) -> _Sums:
    """Counts and sums as histograms of `index` (the contact id offsets or each
    purchase's customer position). Money to the cent, so equal amounts tie whatever the
    order they were added in."""
    in_window = columns.in_window
    window_index = index[in_window]
    window_spend = np.bincount(window_index, weights=columns.total[in_window], minlength=span)
    return _Sums(
        purchases=np.bincount(index, minlength=span),
        spend=np.round(np.bincount(index, weights=columns.total, minlength=span), 2),
        discounted=np.bincount(index[columns.discounted], minlength=span),
        frequency=np.bincount(window_index, minlength=span),
        window_cents=np.rint(window_spend * 100).astype(np.int64),
    )


def _blank(values: np.ndarray | pl.Series, blank: np.ndarray) -> pl.Series:
    """The values, null where `blank` is true."""
    series = values if isinstance(values, pl.Series) else pl.Series(values)
    return series.set(pl.Series(blank), None) if blank.any() else series


def _median_from_histogram(histogram: np.ndarray) -> float:
    """np.median of the whole numbers counted in `histogram` (histogram[v] = how many
    equal v), without sorting them."""
    running = np.cumsum(histogram)
    count = int(running[-1])
    return (_at_rank(running, (count - 1) // 2) + _at_rank(running, count // 2)) / 2


def _at_rank(running: np.ndarray, rank: int) -> int:
    """The value at `rank` (from 0) in sorted order, from a histogram's running totals."""
    return int(np.searchsorted(running, rank, side="right"))


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
    since_last = _days_before(as_of, history.get_column("last_day"))
    purchases = history.get_column("purchases").to_numpy()
    spend = history.get_column("spend").to_numpy()
    repeat = purchases >= 2
    vip_line = _lower_quantile(spend[repeat], 1 - rules.vip_share)
    vip = repeat & (spend >= (vip_line if vip_line is not None else np.inf))
    cell = _choose(
        [
            (since_last > rules.lost_after * interval_days, "lost"),
            (~repeat & (since_last <= interval_days), "new"),
            (~repeat, RelationshipType.ONE_TIME.value),
            (vip, "vip"),
        ],
        "growing",
    )
    return cell.alias("activity_cell")


def relationship_types(
    history: pl.DataFrame, surveyed: pl.Series, *, as_of: date, rules: RelationshipRules
) -> pl.Series:
    """Piercy's type for each row of customer_history().table, in its order."""
    tenure = _days_before(as_of, history.get_column("first_day"))
    purchases = history.get_column("purchases").to_numpy()
    long_term = (tenure >= rules.long_term_days) & (purchases >= rules.long_term_purchases)
    frequent_line = _lower_quantile(purchases[purchases >= 2], rules.close_frequency_share)
    close = purchases >= (frequent_line or 2)
    if len(surveyed):
        close |= np.isin(history.get_column("contact_id").to_numpy(), surveyed.to_numpy())
    hunter = history.get_column("discounted").to_numpy() >= rules.discount_share * purchases
    kind = _choose(
        [
            (long_term & close, RelationshipType.SEEKER.value),
            (long_term, RelationshipType.LOYAL.value),
            (close | hunter, RelationshipType.EXPLOITER.value),
        ],
        RelationshipType.ONE_TIME.value,
    )
    return kind.alias("relationship_type")


def _days_before(as_of: date, days: pl.Series) -> np.ndarray:
    """Whole days from each date of `days` to as_of."""
    return np.datetime64(as_of, "D").astype(np.int64) - days.to_numpy().astype(np.int64)


def _lower_quantile(values: np.ndarray, share: float) -> float | None:
    """The value at ⌊share × (n − 1)⌋ in sorted order (polars' "lower"); None if empty."""
    if not len(values):
        return None
    at = int(share * (len(values) - 1))
    if np.issubdtype(values.dtype, np.integer) and values.min() >= 0 and values.max() < 1 << 20:
        return float(_at_rank(np.cumsum(np.bincount(values)), at))  # counts: no sort
    return float(np.partition(values, at)[at])


def _choose(cases: list[tuple[np.ndarray, str]], otherwise: str) -> pl.Series:
    """The label of the first case true in each row, else `otherwise` (a string column)."""
    labels = [label for _case, label in cases] + [otherwise]
    code: np.ndarray | np.uint32 = np.uint32(len(cases))
    for position in reversed(range(len(cases))):  # the first case, applied last, wins
        code = np.where(cases[position][0], np.uint32(position), code)
    return _labels(labels, np.asarray(code))


def _labels(labels: list[str], code: np.ndarray) -> pl.Series:
    """labels[code] for each code, as a string column."""
    return pl.Series(labels, dtype=pl.String).gather(code.astype(np.uint32, copy=False))


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
