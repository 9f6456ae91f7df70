"""Each customer's expected value: BG/NBD and Gamma-Gamma fitted on the purchase history.

1. Purchase days up to the calibration end: x = repeat purchase days, t_x = the last
   one and T = the customer's age, both measured from the first purchase, in days or
   weeks; mean spend = the average of the repeat days' totals.
2. Fit BG/NBD on (x, t_x, T) and Gamma-Gamma on the repeat buyers' (x, mean spend).
3. P(alive), expected purchases over the horizon, expected spend per purchase and the
   CLV: margin on the expected purchases of each future month, discounted monthly.

When a fit fails (too few repeat buyers, no convergence) the result carries the reason
and only the model-free figures (purchases and spend so far); nothing is guessed.
"""

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from . import clv
from .rfm import purchase_days

DAYS_PER_UNIT = {"day": 1.0, "week": 7.0}
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class ClvSettings:
    horizon_months: int = 12
    margin: float = 0.3  # share of revenue kept as contribution margin
    annual_discount_rate: float = 0.12
    time_unit: str = "week"

    @property
    def monthly_discount_rate(self) -> float:
        return float((1 + self.annual_discount_rate) ** (1 / 12) - 1)


@dataclass
class ClvResult:
    table: pl.DataFrame  # contact_id, x, t_x, T, spend, mean_spend, [p_alive, …, clv]
    calibration_end: date
    settings: ClvSettings
    bgnbd: clv.BgNbd | None = None
    gamma_gamma: clv.GammaGamma | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def fitted(self) -> bool:
        """Both models fitted and their predictions usable for every customer."""
        return self.bgnbd is not None and self.gamma_gamma is not None and not self.problems

    def parameters(self) -> dict[str, object]:
        return {
            "bgnbd": None
            if self.bgnbd is None
            else {
                "r": self.bgnbd.r,
                "alpha": self.bgnbd.alpha,
                "a": self.bgnbd.a,
                "b": self.bgnbd.b,
                "loglik": self.bgnbd.loglik,
            },
            "gamma_gamma": None
            if self.gamma_gamma is None
            else {
                "p": self.gamma_gamma.p,
                "q": self.gamma_gamma.q,
                "gamma": self.gamma_gamma.gamma,
            },
        }


def calibration_summary(
    purchases: pl.DataFrame, *, calibration_end: date, time_unit: str
) -> pl.DataFrame:
    """contact_id, x, t_x, T, spend, mean_spend (of the repeat days) per customer."""
    unit = DAYS_PER_UNIT[time_unit]
    days = purchase_days(purchases.filter(pl.col("day") <= calibration_end)).sort(
        "contact_id", "day"
    )
    return (
        days.group_by("contact_id", maintain_order=True)
        .agg(
            first_day=pl.col("day").first(),
            last_day=pl.col("day").last(),
            x=(pl.len() - 1).cast(pl.Int32),
            spend=pl.col("total").sum(),
            first_total=pl.col("total").first(),
        )
        .with_columns(
            t_x=(pl.col("last_day") - pl.col("first_day")).dt.total_days() / unit,
            T=(pl.lit(calibration_end) - pl.col("first_day")).dt.total_days() / unit,
            mean_spend=pl.when(pl.col("x") > 0)
            .then((pl.col("spend") - pl.col("first_total")) / pl.col("x"))
            .otherwise(0.0),
        )
        .select("contact_id", "x", "t_x", "T", "spend", "mean_spend", "last_day")
    )


def customer_value(
    purchases: pl.DataFrame, *, calibration_end: date, settings: ClvSettings = ClvSettings()
) -> ClvResult:
    summary = calibration_summary(
        purchases, calibration_end=calibration_end, time_unit=settings.time_unit
    )
    result = ClvResult(summary, calibration_end, settings)
    x = summary.get_column("x").to_numpy().astype(float)
    t_x = summary.get_column("t_x").to_numpy()
    T = summary.get_column("T").to_numpy()
    try:
        result.bgnbd = clv.fit_bgnbd(x, t_x, T)
    except clv.FitError as error:
        result.problems.append(str(error))
    try:
        result.gamma_gamma = clv.fit_gamma_gamma(x, summary.get_column("mean_spend").to_numpy())
    except clv.FitError as error:
        result.problems.append(str(error))
    if result.bgnbd is None or result.gamma_gamma is None:
        return result
    unit_days = DAYS_PER_UNIT[settings.time_unit]
    month = DAYS_PER_MONTH / unit_days
    first_spend = (
        summary.get_column("spend").to_numpy() - summary.get_column("mean_spend").to_numpy() * x
    )
    fallback = float(np.mean(first_spend)) if len(first_spend) else 0.0
    spend = result.gamma_gamma.expected_spend(
        x, summary.get_column("mean_spend").to_numpy(), fallback
    )
    with np.errstate(over="ignore", invalid="ignore"):
        expected = result.bgnbd.expected_purchases(settings.horizon_months * month, x, t_x, T)
        value = clv.clv(
            result.bgnbd,
            spend,
            x,
            t_x,
            T,
            periods=settings.horizon_months,
            period_length=month,
            margin=settings.margin,
            discount_rate=settings.monthly_discount_rate,
        )
    if not all(np.all(np.isfinite(v)) for v in (expected, value, spend)):
        result.problems.append(
            "the fitted models give no finite value for some customers; "
            "only the model-free figures are shown"
        )
        return result
    result.table = summary.with_columns(
        p_alive=pl.Series(result.bgnbd.p_alive(x, t_x, T)),
        expected_purchases=pl.Series(expected),
        expected_spend=pl.Series(spend),
        clv=pl.Series(value),
    )
    return result
