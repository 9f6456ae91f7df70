"""RFM, activity matrix, relationship types, cohorts and cross-sell on hand-made frames."""

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua.analytics import cohorts, crosssell, rfm

AS_OF = date(2026, 6, 30)


def purchases(rows: list[tuple[int, date, float] | tuple[int, date, float, float]]) -> pl.DataFrame:
    """A purchases frame as frames.purchases returns it (order ids in row order)."""
    data = [(i + 1, r[0], r[1], r[2], r[3] if len(r) > 3 else 0.0) for i, r in enumerate(rows)]
    return pl.DataFrame(
        data,
        schema={
            "order_id": pl.Int64,
            "contact_id": pl.Int64,
            "day": pl.Date,
            "total": pl.Float64,
            "discount": pl.Float64,
        },
        orient="row",
    )


def rfm_table(frame: pl.DataFrame) -> pl.DataFrame:
    """The customers with an RFM score (a purchase in the window)."""
    return rfm.rfm_scores(frame, as_of=AS_OF).table.filter(pl.col("r").is_not_null())


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


def reference_score(values: list[float], value: float, smaller_is_better: bool) -> int:
    worse = sum(1 for v in values if (v > value if smaller_is_better else v < value))
    return min(5, 1 + worse * 5 // len(values))


@settings(max_examples=120, deadline=None)
@given(
    st.one_of(
        # days and counts (counted), whole numbers far apart (sorted), amounts (sorted)
        st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=60),
        st.lists(st.integers(min_value=-(10**15), max_value=10**15), min_size=1, max_size=60),
        st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
    ),
    st.booleans(),
)
def test_quintile_scores_match_the_reference_and_ties_share_a_score(
    values: list[float], smaller: bool
) -> None:
    import numpy as np

    scores = rfm.quintile_scores(np.array(values), smaller_is_better=smaller).tolist()
    expected = [reference_score(values, v, smaller) for v in values]
    assert scores == expected
    by_value: dict[float, set[int]] = {}
    for value, score in zip(values, scores, strict=True):
        by_value.setdefault(value, set()).add(score)
    assert all(len(s) == 1 for s in by_value.values())


def test_the_best_fifth_scores_five_and_the_worst_fifth_one() -> None:
    table = rfm_table(purchases([(c, days_ago(c), 10.0 * c) for c in range(1, 11)]))
    # contact 1 bought most recently (R best) and spent least (M worst)
    assert table.filter(pl.col("contact_id").is_in([1, 2]))["r"].to_list() == [5, 5]
    assert table.filter(pl.col("contact_id").is_in([9, 10]))["r"].to_list() == [1, 1]
    assert table.filter(pl.col("contact_id").is_in([9, 10]))["m"].to_list() == [5, 5]
    # everyone bought once: all tie on F and score 1
    assert set(table["f"].to_list()) == {1}


def test_equal_spend_ties_whatever_the_order_it_was_added_in() -> None:
    # (0.1 + 0.2) + 0.3 and (0.3 + 0.2) + 0.1 differ in the last bit as floats; to the
    # cent they are equal, and so are their M scores
    amounts = [0.1, 0.2, 0.3]
    rows = [(1, days_ago(3 - n), amount) for n, amount in enumerate(amounts)]
    rows += [(2, days_ago(3 - n), amount) for n, amount in enumerate(reversed(amounts))]
    rows += [(c, days_ago(2), 0.25) for c in range(3, 9)]
    table = rfm_table(purchases(rows)).sort("contact_id")
    assert table["monetary"].to_list()[:2] == [0.6, 0.6]
    assert table["m"][0] == table["m"][1]


def test_sparse_contact_ids_score_like_dense_ones() -> None:
    rows = [(c, days_ago(c * 7 % 400), 10.0 + c) for c in range(1, 60)]
    rows += [(c, days_ago(c % 30), 5.0) for c in range(1, 60, 3)]
    dense = rfm.rfm_scores(purchases(rows), as_of=AS_OF).table
    # ids three apart: a table of ids with gaps, read at the customers' ids; a billion
    # apart: the sums go by each customer's position instead
    for step in (3, 10**9):
        sparse = rfm.rfm_scores(
            purchases([(c * step, day, total) for c, day, total in rows]), as_of=AS_OF
        ).table
        assert sparse["contact_id"].to_list() == [c * step for c in dense["contact_id"]]
        assert sparse.drop("contact_id").equals(dense.drop("contact_id"))


def test_fewer_than_five_customers_and_no_orders() -> None:
    table = rfm_table(purchases([(1, days_ago(1), 50.0), (2, days_ago(40), 80.0)]))
    assert table.sort("contact_id").select("r", "m").rows() == [(3, 1), (1, 3)]
    empty = rfm.rfm_scores(purchases([]), as_of=AS_OF)
    assert empty.table.is_empty()
    assert empty.interval_days == 90.0 and empty.interval_derived


def test_every_r_f_cell_has_one_named_segment() -> None:
    names = {rfm.segment_of(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert names == set(rfm.SEGMENT_MAP)
    for r in range(1, 6):
        for f in range(1, 6):
            owners = [
                key
                for key, (_l, cells) in rfm.SEGMENT_MAP.items()
                if any(r in rs and f in fs for rs, fs in cells)
            ]
            assert len(owners) == 1, (r, f, owners)
    assert rfm.segment_of(5, 5) == "champions"
    assert rfm.segment_of(1, 5) == "cant_lose"
    assert rfm.segment_of(5, 1) == "new_customers"


def test_purchases_outside_the_window_leave_rfm_blank_but_count_in_history() -> None:
    scores = rfm.rfm_scores(
        purchases([(1, days_ago(400), 99.0), (2, days_ago(3), 10.0)]), as_of=AS_OF
    )
    row = scores.table.filter(pl.col("contact_id") == 1).row(0, named=True)
    assert row["r"] is None and row["purchases"] == 1 and row["spend"] == 99.0


def test_activity_cells_follow_the_median_interval() -> None:
    # given: repeat buyers with 30-day gaps (the median interval), and other kinds
    rows = [
        (1, days_ago(10), 50.0),  # one purchase, recent → new
        (2, days_ago(60), 50.0),  # one purchase, older than the interval → one-time
        (3, days_ago(200), 50.0),  # nothing for > 3 × 30 days → lost
        (3, days_ago(230), 50.0),
    ]
    for contact, spend in ((4, 10.0), (5, 20.0), (6, 30.0), (7, 40.0), (8, 900.0)):
        rows += [(contact, days_ago(5), spend), (contact, days_ago(35), spend)]
    # when
    scores = rfm.rfm_scores(purchases(rows), as_of=AS_OF)
    cells = dict(scores.table.select("contact_id", "activity_cell").rows())
    # then
    assert scores.interval_days == 30.0 and scores.interval_derived
    assert cells[1] == "new" and cells[2] == "one_time" and cells[3] == "lost"
    assert cells[8] == "vip"
    assert {cells[c] for c in (4, 5, 6, 7)} <= {"growing", "vip"}
    assert cells[4] == "growing"


def test_activity_thresholds_are_configurable() -> None:
    rows = [(1, days_ago(50), 10.0), (1, days_ago(80), 10.0)]
    rules = rfm.ActivityRules(interval_days=10, lost_after=4)
    scores = rfm.rfm_scores(purchases(rows), as_of=AS_OF, activity=rules)
    assert scores.table["activity_cell"].to_list() == ["lost"]
    assert not scores.interval_derived


def test_relationship_types_after_piercy() -> None:
    rows = []
    # long-term and frequent: seeker; long-term, few purchases: loyal
    rows += [(1, days_ago(400 - 40 * k), 100.0) for k in range(8)]
    rows += [(2, days_ago(500), 100.0), (2, days_ago(20), 100.0)]
    # short-term discount hunter: exploiter; one recent purchase: one-time
    rows += [(3, days_ago(30), 50.0, 20.0), (3, days_ago(10), 50.0, 15.0)]
    rows += [(4, days_ago(5), 70.0)]
    rows += [(5, days_ago(600), 70.0), (5, days_ago(300), 70.0)]  # surveyed → seeker
    # new and frequent (the upper quarter of repeat buyers): exploiters too
    rows += [(c, days_ago(10 * k + 1), 30.0) for c in (6, 7) for k in range(5)]
    scores = rfm.rfm_scores(
        purchases(rows), as_of=AS_OF, surveyed=pl.Series("contact_id", [5], pl.Int64)
    )
    kinds = dict(scores.table.select("contact_id", "relationship_type").rows())
    assert kinds == {
        1: "seeker",
        2: "loyal",
        3: "exploiter",
        4: "one_time",
        5: "seeker",
        6: "exploiter",
        7: "exploiter",
    }


def test_cohorts_count_retention_and_revenue_by_month_since_the_first_order() -> None:
    rows = [
        (1, date(2026, 1, 10), 100.0),
        (1, date(2026, 2, 3), 40.0),
        (2, date(2026, 1, 20), 60.0),
        (2, date(2026, 3, 1), 30.0),
        (3, date(2026, 2, 14), 80.0),
        (3, date(2026, 2, 20), 20.0),
    ]
    table = cohorts.cohort_table(purchases(rows), as_of=date(2026, 3, 31), months=3)
    cells = {(str(r["cohort"]), r["age"]): r for r in table.to_dicts()}
    assert cells[("2026-01-01", 0)]["retention"] == 100.0
    assert cells[("2026-01-01", 1)]["customers"] == 1
    assert cells[("2026-01-01", 1)]["retention"] == 50.0
    assert cells[("2026-01-01", 2)]["revenue"] == 30.0
    assert cells[("2026-02-01", 0)]["revenue"] == 100.0  # both February orders of contact 3
    assert cells[("2026-02-01", 0)]["size"] == 1


def test_time_to_second_purchase_and_expected_next_purchase() -> None:
    rows = [
        (1, date(2026, 1, 1), 10.0),
        (1, date(2026, 1, 1), 15.0),  # same day: one purchase day
        (1, date(2026, 1, 21), 10.0),
        (1, date(2026, 2, 10), 10.0),
        (2, date(2026, 3, 1), 10.0),
        (2, date(2026, 3, 31), 10.0),
        (3, date(2026, 5, 1), 10.0),
    ]
    frame = purchases(rows)
    gaps = cohorts.second_purchase_gaps(frame, as_of=AS_OF)
    assert dict(gaps.rows()) == {1: 20, 2: 30}
    nxt = dict(cohorts.expected_next_purchase(frame, as_of=AS_OF).rows())
    assert nxt[1] == date(2026, 3, 2)  # last + own mean interval of 20 days
    assert nxt[2] == date(2026, 4, 30)
    assert nxt[3] == date(2026, 5, 26)  # one-time: + median time to second purchase (25)
    bins = cohorts.second_purchase_distribution(gaps, bin_days=30)
    assert bins.select("from_day", "customers").rows() == [(0, 1), (30, 1)]


def test_cross_sell_support_confidence_and_lift() -> None:
    # given: 10 baskets; A in 5, B in 4, A with B in 3 (one basket lists A twice)
    baskets = {
        1: ["A", "B"],
        2: ["A", "B", "A"],
        3: ["A", "B", "C"],
        4: ["A"],
        5: ["A", "C"],
        6: ["B"],
        7: ["C"],
        8: ["D"],
        9: ["D"],
        10: ["C", "D"],
    }
    items = pl.DataFrame(
        [(order, 1, sku) for order, skus in baskets.items() for sku in skus],
        schema={"order_id": pl.Int64, "contact_id": pl.Int64, "sku": pl.String},
        orient="row",
    )
    # when
    table = crosssell.pairs(items, min_baskets=1, top=5)
    ab = table.filter((pl.col("sku") == "A") & (pl.col("other") == "B")).row(0, named=True)
    ba = table.filter((pl.col("sku") == "B") & (pl.col("other") == "A")).row(0, named=True)
    # then
    assert ab["baskets"] == 3
    assert ab["support"] == pytest.approx(0.3)
    assert ab["confidence"] == pytest.approx(3 / 5)
    assert ab["lift"] == pytest.approx((3 / 5) / (4 / 10))
    assert ba["confidence"] == pytest.approx(3 / 4)
    assert ab["rank"] == 1  # B is A's best partner by lift
    assert crosssell.pairs(items, min_baskets=3)["sku"].to_list() == ["A", "B"]


def test_cross_sell_with_no_items() -> None:
    empty = pl.DataFrame(schema={"order_id": pl.Int64, "contact_id": pl.Int64, "sku": pl.String})
    assert crosssell.pairs(empty).is_empty()


def test_the_likelihood_gradients_match_finite_differences() -> None:
    import numpy as np
    from scipy import optimize

    from regua.analytics import clv

    rng = np.random.default_rng(7)
    x = rng.integers(0, 6, 300).astype(float)
    T = rng.uniform(5, 50, 300)
    t_x = np.where(x > 0, T * rng.uniform(0.1, 1, 300), 0.0)
    m = rng.uniform(5, 80, 300)
    w = np.ones(300)
    by_x = clv._ByCount(x)
    for params in (np.log([0.5, 8.0, 0.9, 2.5]), np.log([2.0, 1.0, 3.0, 0.7])):
        error = optimize.check_grad(
            lambda p: clv._bgnbd_terms(p, x, t_x, T, w, by_x)[0],
            lambda p: clv._bgnbd_terms(p, x, t_x, T, w, by_x)[1],
            params,
        )
        assert error < 1e-3 * max(1.0, abs(clv._bgnbd_terms(params, x, t_x, T, w, by_x)[0]) / 1e3)
    keep = x > 0
    by_repeat = clv._ByCount(x[keep])
    params = np.log([4.0, 3.0, 12.0])
    error = optimize.check_grad(
        lambda p: clv._gg_terms(p, x[keep], m[keep], w[keep], by_repeat)[0],
        lambda p: clv._gg_terms(p, x[keep], m[keep], w[keep], by_repeat)[1],
        params,
    )
    assert error < 1e-3


def test_a_fit_on_data_without_signal_is_refused_not_shown() -> None:
    from regua.analytics.customer_value import ClvSettings, customer_value

    # given: thirty customers buying like clockwork, every 35 days
    rows = [
        (n + 1, days_ago(7 + 35 * k + n), 50.0 + 10 * k)
        for n in range(30)
        for k in range(1 + n % 4)
    ]
    # when
    result = customer_value(
        purchases(rows), calibration_end=AS_OF, settings=ClvSettings(time_unit="day")
    )
    # then: no CLV for anyone, and the reason
    assert not result.fitted and result.problems
    assert "clv" not in result.table.columns
