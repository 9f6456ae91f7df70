"""Predictive customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend.

Written for this project with numpy and scipy (the `lifetimes` package is archived and
breaks on current pandas). The formulas are those of:

- Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
  the Pareto/NBD model", Marketing Science 24(2) — the BG/NBD log-likelihood (eq. 6),
  P(alive) (eq. 11) and the conditional expectation of purchases (eq. 10).
- Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" — the spend
  likelihood and the conditional expected average spend.

Inputs are per customer: x = repeat purchases (distinct purchase days after the first),
t_x = time of the last purchase and T = age, both from the first purchase, in one time
unit (days or weeks). Customers with the same (x, t_x, T) are fitted once, weighted by
their count: a million customers fold into far fewer distinct rows.

A fit that does not converge, or has too few repeat buyers to say anything, raises
FitError; callers show that and fall back to the model-free figures.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy import optimize, special

Array = NDArray[np.float64]

# Below this many repeat buyers the parameters are noise; the page says so instead.
MIN_REPEAT_BUYERS = 20
# A parameter beyond e^±13 (about 440,000 or 1/440,000) is the optimiser running off on
# data with no signal (e.g. perfectly regular purchases), not an estimate. Real fits sit
# far inside: CDNOW in weeks has r = 0.24 and α = 4.4; spend scales γ to the hundreds.
MAX_LOG_PARAMETER = 13.0


class FitError(ValueError):
    """The model could not be fitted to these data; the message says why."""


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    loglik: float

    def p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        """Probability that a customer with this history is still active (eq. 11)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        odds = np.where(
            x > 0,
            self.a / (self.b + x - 1) * ((self.alpha + T) / (self.alpha + t_x)) ** (self.r + x),
            0.0,
        )
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, t: float | Array, x: Array, t_x: Array, T: Array) -> Array:
        """Expected purchases in the next t time units, given the history (eq. 10)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        numerator = (
            (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        )
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
        return numerator / (1 + odds)

    def expected_purchases_new(self, t: float | Array) -> Array:
        """Expected purchases of a new customer in a period of length t (eq. 9)."""
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    loglik: float

    def expected_spend(self, x: Array, mean_spend: Array, fallback: float) -> Array:
        """Expected spend per purchase; `fallback` for customers with no repeat purchase."""
        x = np.asarray(x, dtype=float)
        m = np.asarray(mean_spend, dtype=float)
        population = self.p * self.gamma / (self.q - 1) if self.q > 1 else fallback
        weight = self.p * x / (self.p * x + self.q - 1)
        return np.where(x > 0, (1 - weight) * population + weight * m, population)


def _fold(*columns: Array) -> tuple[list[Array], Array]:
    """Distinct rows of the given columns and how many customers share each."""
    names = [f"c{i}" for i in range(len(columns))]
    folded = (
        pl.DataFrame(dict(zip(names, columns, strict=True)))
        .group_by(names)
        .len()
        .sort(names)  # a stable order, so a fit is repeatable to the last digit
    )
    return [folded.get_column(n).to_numpy() for n in names], folded.get_column(
        "len"
    ).to_numpy().astype(float)


class _ByCount:
    """Terms that depend only on the purchase count x, computed once per distinct x.

    x takes a few dozen values where there are a million customers, so the gamma and
    digamma functions run on those values and are spread back by index.
    """

    def __init__(self, x: Array) -> None:
        self.values, self.index = np.unique(x, return_inverse=True)

    def __call__(self, function, *args: float) -> Array:  # type: ignore[no-untyped-def]
        return function(*args, self.values)[self.index]


def _bgnbd_terms(
    params: Array, x: Array, t_x: Array, T: Array, w: Array, by_x: _ByCount
) -> tuple[float, Array]:
    """Log-likelihood (eq. 6) and its gradient in the log-parameters."""
    r, alpha, a, b = np.exp(params)
    a1 = by_x(lambda r, v: special.gammaln(r + v) - special.gammaln(r), r) + r * np.log(alpha)
    a2 = by_x(
        lambda a, b, v: (
            special.gammaln(a + b)
            + special.gammaln(b + v)
            - special.gammaln(b)
            - special.gammaln(a + b + v)
        ),
        a,
        b,
    )
    log_aT = np.log(alpha + T)
    log_at = np.log(alpha + t_x)
    repeat = x > 0
    a3 = -(r + x) * log_aT
    a4 = np.full_like(a3, -np.inf)
    a4[repeat] = np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * log_at[repeat]
    total = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - total)
    w4 = np.exp(a4 - total)
    d_r = by_x(lambda r, v: special.digamma(r + v) - special.digamma(r), r) + np.log(alpha)
    d_r -= w3 * log_aT + w4 * log_at
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = by_x(lambda a, b, v: special.digamma(a + b) - special.digamma(a + b + v), a, b)
    d_a += w4 / a
    d_b = by_x(
        lambda a, b, v: (
            special.digamma(a + b)
            + special.digamma(b + v)
            - special.digamma(b)
            - special.digamma(a + b + v)
        ),
        a,
        b,
    )
    d_b[repeat] -= w4[repeat] / (b + x[repeat] - 1)
    gradient = np.array([w @ d for d in (d_r, d_alpha, d_a, d_b)]) * np.array([r, alpha, a, b])
    return float(w @ (a1 + a2 + total)), gradient


def fit_bgnbd(x: Array, t_x: Array, T: Array) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for these customers."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) == 0 or np.count_nonzero(x) < MIN_REPEAT_BUYERS:
        raise FitError(
            f"too few repeat buyers to fit BG/NBD ({np.count_nonzero(x)}; "
            f"at least {MIN_REPEAT_BUYERS} needed)"
        )
    (ux, ut, uT), w = _fold(x, t_x, T)
    by_x = _ByCount(ux)

    def objective(params: Array) -> tuple[float, Array]:
        loglik, gradient = _bgnbd_terms(params, ux, ut, uT, w, by_x)
        return -loglik, -gradient

    result = _maximise(objective, np.log([1.0, max(float(np.mean(T)), 1.0), 1.0, 1.0]))
    r, alpha, a, b = np.exp(result.x)
    return BgNbd(float(r), float(alpha), float(a), float(b), float(-result.fun))


def _gg_terms(params: Array, x: Array, m: Array, w: Array, by_x: _ByCount) -> tuple[float, Array]:
    """Gamma-Gamma log-likelihood and its gradient in the log-parameters."""
    p, q, gamma = np.exp(params)
    px = p * x
    log_m, log_x = np.log(m), np.log(x)
    log_gxm = np.log(gamma + x * m)
    ll = (
        by_x(lambda p, q, v: special.gammaln(p * v + q) - special.gammaln(p * v), p, q)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * log_m
        + px * log_x
        - (px + q) * log_gxm
    )
    psi_pxq = by_x(lambda p, q, v: special.digamma(p * v + q), p, q)
    d_p = x * (psi_pxq - by_x(lambda p, v: special.digamma(p * v), p) + log_m + log_x - log_gxm)
    d_q = psi_pxq - special.digamma(q) + np.log(gamma) - log_gxm
    d_gamma = q / gamma - (px + q) / (gamma + x * m)
    gradient = np.array([w @ d for d in (d_p, d_q, d_gamma)]) * np.array([p, q, gamma])
    return float(w @ ll), gradient


def fit_gamma_gamma(x: Array, mean_spend: Array) -> GammaGamma:
    """Gamma-Gamma parameters from repeat buyers' purchase counts and mean spend."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(mean_spend, dtype=float)
    keep = (x > 0) & (m > 0)
    if np.count_nonzero(keep) < MIN_REPEAT_BUYERS:
        raise FitError(
            f"too few repeat buyers with spend to fit Gamma-Gamma ({np.count_nonzero(keep)}; "
            f"at least {MIN_REPEAT_BUYERS} needed)"
        )
    (ux, um), w = _fold(x[keep], m[keep])
    by_x = _ByCount(ux)

    def objective(params: Array) -> tuple[float, Array]:
        loglik, gradient = _gg_terms(params, ux, um, w, by_x)
        return -loglik, -gradient

    result = _maximise(objective, np.log([1.0, 1.0, max(float(np.mean(m)), 1.0)]))
    p, q, gamma = np.exp(result.x)
    return GammaGamma(float(p), float(q), float(gamma), float(-result.fun))


def _maximise(objective, start: Array) -> optimize.OptimizeResult:  # type: ignore[no-untyped-def]
    """Minimise the negative log-likelihood over log-parameters (all stay positive).

    L-BFGS with the analytic gradient; the fit is refused when the optimiser does not
    converge or the parameters run off to 0 or infinity, which is how these models
    fail on data with no signal.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-30, 30)] * len(start),
            options={"maxiter": 1000, "ftol": 1e-14, "gtol": 1e-8},
        )
    if not np.isfinite(result.fun) or np.any(np.abs(result.x) > MAX_LOG_PARAMETER):
        raise FitError("the fit did not converge (parameters ran off to 0 or infinity)")
    if not result.success and "ABNORMAL" not in str(result.message):
        raise FitError(f"the fit did not converge ({result.message})")
    return result


def clv(
    model: BgNbd,
    spend: Array,
    x: Array,
    t_x: Array,
    T: Array,
    *,
    periods: int,
    period_length: float,
    margin: float,
    discount_rate: float,
) -> Array:
    """Discounted margin over `periods` future periods of `period_length` time units.

    Each period's expected purchases (the increase of the conditional expectation) times
    the expected spend and the margin, discounted at `discount_rate` per period.
    """
    total = np.zeros(len(np.asarray(x)), dtype=float)
    previous = np.zeros_like(total)
    for i in range(1, periods + 1):
        cumulative = model.expected_purchases(i * period_length, x, t_x, T)
        total += (cumulative - previous) * spend * margin / (1 + discount_rate) ** i
        previous = cumulative
    return total
