"""Issue 4's figures: segments, RFM, CLV fits, cross-sell and the dashboard.

Two kinds of measurement:
- on generated frames in memory (1M customers, 5M orders), so RFM and the CLV fit are
  timed on exactly the scale the issue names, beside a pandas baseline on the very same
  orders (lifetimes' summary_data_from_transaction_data, written out in pandas because
  lifetimes no longer runs on current pandas);
- on the configured database (the bench base): reading the orders and items, the
  cross-sell pairs, the scores refresh, a compound segment count and the dashboard.
"""

import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from regua.analytics import clv, crosssell, frames, rfm
from regua.analytics.customer_value import calibration_summary

CDNOW = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "CDNOW_sample.txt"


def _median_seconds(
    action: Callable[[], Any], runs: int, *, warm_up: int = 0
) -> tuple[float, list[float], Any]:
    """The median of `runs` timed runs, after `warm_up` untimed ones (the first runs of a
    fresh process pay for growing its heap, a page fault per new page)."""
    for _ in range(warm_up):
        action()
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def generated_purchases(
    customers: int = 1_000_000, orders: int = 5_000_000, *, as_of: date, seed: int = 4
) -> pl.DataFrame:
    """Orders over two years: every customer buys once, the other orders go to customers
    by heterogeneous buying rates (gamma-distributed, the shape BG/NBD assumes); totals
    lognormal around R$ 120."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.8, 1.0, customers)
    repeat = rng.choice(customers, orders - customers, p=rate / rate.sum())
    contact = np.concatenate([np.arange(customers), repeat]) + 1
    first = rng.integers(0, 730, customers)  # each customer's first day (days before as_of)
    offset = (rng.random(orders) * (first[contact - 1] + 1)).astype(np.int64)
    day = np.datetime64(as_of) - offset.astype("timedelta64[D]")
    total = np.round(rng.lognormal(4.6, 0.6, orders), 2)
    discount = np.where(rng.random(orders) < 0.25, np.round(total * 0.1, 2), 0.0)
    return pl.DataFrame(
        {
            "order_id": np.arange(1, orders + 1),
            "contact_id": contact,
            "day": day,
            "total": total,
            "discount": discount,
        }
    )


def pandas_summary(orders: Any, as_of: date) -> Any:
    """lifetimes.utils.summary_data_from_transaction_data (lifetimes 0.11), line for line
    in pandas, with freq="D" and monetary_value_col="total": the summary the Python CLV
    tutorials compute from their orders before any model."""
    import pandas as pd

    customer, when, money, freq = "contact_id", "day", "total", "D"
    end = pd.to_datetime(as_of).to_period(freq).to_timestamp()
    # _find_first_transactions
    select = [customer, when, money]
    transactions = orders[select].sort_values(select).copy()
    transactions[when] = pd.to_datetime(transactions[when])
    transactions = transactions.set_index(when).to_period(freq).to_timestamp()
    transactions = transactions.loc[(transactions.index <= end)].reset_index()
    period = transactions.groupby([when, customer], sort=False, as_index=False).sum()
    period["first"] = False
    first = period.groupby(customer, sort=True, as_index=False).head(1).index
    period.loc[first, "first"] = True
    period[when] = pd.Index(period[when]).to_period(freq)
    repeated = period[[*select, "first"]]
    # summary_data_from_transaction_data
    repeated[when] = repeated[when].dt.to_timestamp()
    customers = repeated.groupby(customer, sort=False)[when].agg(["min", "max", "count"])
    customers["frequency"] = customers["count"] - 1
    customers["T"] = (end - customers["min"]) / np.timedelta64(1, freq)
    customers["recency"] = (customers["max"] - customers["min"]) / np.timedelta64(1, freq)
    repeated.loc[repeated[repeated["first"]].index, money] = np.nan
    customers["monetary_value"] = repeated.groupby(customer)[money].mean().fillna(0)
    return customers[["frequency", "recency", "T", "monetary_value"]].astype(float)


def in_memory(runs: int = 3, customers: int = 1_000_000, orders: int = 5_000_000) -> dict[str, Any]:
    as_of = date(2026, 11, 23)
    purchases = generated_purchases(customers, orders, as_of=as_of)
    ours_s, ours_runs, scores = _median_seconds(
        lambda: rfm.rfm_scores(purchases, as_of=as_of), runs, warm_up=1
    )
    summary_s, _summary_runs, _s = _median_seconds(
        lambda: calibration_summary(purchases, calibration_end=as_of, time_unit="day"), runs
    )
    import pandas as pd

    # Column by column from numpy: polars' to_pandas() would need pyarrow.
    as_pandas = pd.DataFrame(
        {name: purchases.get_column(name).to_numpy() for name in purchases.columns}
    )
    pandas_s, pandas_runs, _p = _median_seconds(
        lambda: pandas_summary(as_pandas, as_of), runs, warm_up=1
    )
    summary = calibration_summary(purchases, calibration_end=as_of, time_unit="day")
    x = summary.get_column("x").to_numpy().astype(float)
    t_x, T = summary.get_column("t_x").to_numpy(), summary.get_column("T").to_numpy()
    mean_spend = summary.get_column("mean_spend").to_numpy()
    fit_s, fit_runs, _f = _median_seconds(
        lambda: (clv.fit_bgnbd(x, t_x, T), clv.fit_gamma_gamma(x, mean_spend)), runs
    )
    cdnow_s, _cdnow_runs, fitted = _median_seconds(_cdnow_fit, 5)
    return {
        "customers": scores.table.height,
        "orders": purchases.height,
        "rfm_activity_s": ours_s,
        "rfm_activity_runs_s": ours_runs,
        "clv_summary_s": summary_s,
        "pandas_summary_s": pandas_s,
        "pandas_summary_runs_s": pandas_runs,
        "ratio_rfm_vs_pandas": pandas_s / ours_s,
        "ratio_summary_vs_pandas": pandas_s / summary_s,
        "fit_1m_s": fit_s,
        "fit_1m_runs_s": fit_runs,
        "fit_cdnow_s": cdnow_s,
        "cdnow_bgnbd": fitted[0].__dict__,
        "cdnow_gamma_gamma": fitted[1].__dict__,
    }


def _cdnow_fit() -> tuple[clv.BgNbd, clv.GammaGamma]:
    rows = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    frame = pl.DataFrame(
        {
            "order_id": list(range(len(rows))),
            "contact_id": [int(r[0]) for r in rows],
            "day": [date(int(r[2][:4]), int(r[2][4:6]), int(r[2][6:])) for r in rows],
            "total": [float(r[4]) for r in rows],
            "discount": [0.0] * len(rows),
        }
    )
    summary = calibration_summary(frame, calibration_end=date(1997, 9, 30), time_unit="week")
    x = summary.get_column("x").to_numpy().astype(float)
    return (
        clv.fit_bgnbd(x, summary.get_column("t_x").to_numpy(), summary.get_column("T").to_numpy()),
        clv.fit_gamma_gamma(x, summary.get_column("mean_spend").to_numpy()),
    )


COMPOUND = {
    "match": "all",
    "conditions": [
        {"field": "gender", "op": "eq", "value": "female"},
        {"field": "city", "op": "eq", "value": "São Paulo"},
        {"field": "score.rfm_segment", "op": "in", "value": ["champions", "loyal", "at_risk"]},
        {"field": "orders.last", "op": "not_within_days", "value": 30},
    ],
}


def on_database(runs: int = 5) -> dict[str, Any]:
    """Figures on the configured database's data (the bench base)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from regua.analytics.dashboard import Filter, dashboard_refresh
    from regua.analytics.models import CustomerScore
    from regua.analytics.services import scores_refresh
    from regua.customers.models import Contact
    from regua.segments.rules import compile_rule

    as_of = timezone.localdate()
    figures: dict[str, Any] = {}
    load_s, _l, purchases = _median_seconds(lambda: frames.purchases(until=as_of), 3)
    figures["orders"] = purchases.height
    figures["load_orders_s"] = load_s
    items_s, _i, items = _median_seconds(
        lambda: frames.items(until=as_of, since=as_of - timedelta(days=730)), 3
    )
    pairs_s, _p, pairs = _median_seconds(lambda: crosssell.pairs(items, top=10), 3)
    figures.update(
        items=items.height,
        load_items_s=items_s,
        pairs_s=pairs_s,
        pairs=pairs.height,
        crosssell_total_s=items_s + pairs_s,
    )
    refresh_s, _r, refreshed = _median_seconds(lambda: scores_refresh(as_of=as_of), 1)
    figures["scores_refresh_s"] = refresh_s
    figures["scored_customers"] = refreshed.customers
    figures["contacts"] = Contact.objects.count()
    rule = compile_rule(COMPOUND)
    count_s, count_runs, members = _median_seconds(
        lambda: Contact.objects.filter(rule).count(), runs
    )
    figures.update(segment_count_s=count_s, segment_count_runs_s=count_runs, members=members)
    # The dashboard's job as it runs the first time in a day: the scores are a day old,
    # so it refreshes them and computes the figures from the same read of the orders.
    filters = Filter(as_of - timedelta(days=29), as_of)
    CustomerScore.objects.update(as_of=as_of - timedelta(days=1))
    full_s, _d, _snapshot = _median_seconds(lambda: dashboard_refresh(filters, as_of=as_of), 1)
    recompute_s, _d, _snapshot = _median_seconds(lambda: dashboard_refresh(filters, as_of=as_of), 1)
    figures["dashboard_recompute_s"] = recompute_s
    figures["dashboard_recompute_with_scores_s"] = full_s
    user = get_user_model().objects.filter(role="admin").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench@regua.local", "bench-pw-123")
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    client.get("/analytics/")
    render = []
    for _ in range(max(runs, 10)):
        started = time.perf_counter()
        response = client.get("/analytics/")
        render.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    render.sort()
    figures["dashboard_cached_median_ms"] = statistics.median(render)
    figures["dashboard_cached_p95_ms"] = render[int(len(render) * 0.95) - 1]
    return figures
