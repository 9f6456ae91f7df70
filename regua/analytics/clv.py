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
from numpy.typing import NDArray
from scipy import optimize, special

Array = NDArray[np.float64]

# Below this many repeat buyers the parameters are noise; the page says so instead.
MIN_REPEAT_BUYERS = 20


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
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def _bgnbd_loglik(params: Array, x: Array, t_x: Array, T: Array, w: Array) -> float:
    r, alpha, a, b = np.exp(params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return float(np.sum(w * (a1 + a2 + np.logaddexp(a3, a4))))


def fit_bgnbd(x: Array, t_x: Array, T: Array) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for these customers."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) == 0 or np.count_nonzero(x) < MIN_REPEAT_BUYERS:
        raise FitError(
            f"too few repeat buyers to fit BG/NBD ({np.count_nonzero(x)}; "
            f"at least {MIN_REPEAT_BUYERS} needed)"
        )
    (ux, ut, uT), w = _fold(x, t_x, T)

    def objective(params: Array) -> float:
        return -_bgnbd_loglik(params, ux, ut, uT, w)

    result = _minimise(objective, np.log([1.0, max(float(np.mean(T)), 1.0), 1.0, 1.0]))
    r, alpha, a, b = np.exp(result.x)
    return BgNbd(float(r), float(alpha), float(a), float(b), float(-result.fun))


def _gg_loglik(params: Array, x: Array, m: Array, w: Array) -> float:
    p, q, gamma = np.exp(params)
    px = p * x
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m)
    )
    return float(np.sum(w * ll))


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

    def objective(params: Array) -> float:
        return -_gg_loglik(params, ux, um, w)

    result = _minimise(objective, np.log([1.0, 1.0, max(float(np.mean(m)), 1.0)]))
    p, q, gamma = np.exp(result.x)
    return GammaGamma(float(p), float(q), float(gamma), float(-result.fun))


def _minimise(objective, start: Array) -> optimize.OptimizeResult:  # type: ignore[no-untyped-def]
    """Minimise over log-parameters (keeps every parameter positive).

    Nelder-Mead first for a robust path from a rough start, then BFGS to polish; the fit
    is refused when the optimum is not finite or the parameters run off to 0 or infinity,
    which is how these models fail on data with no signal.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        rough = optimize.minimize(
            objective,
            start,
            method="Nelder-Mead",
            options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-9},
        )
        result = optimize.minimize(objective, rough.x, method="BFGS", options={"gtol": 1e-6})
    if not np.isfinite(result.fun) or result.fun > rough.fun:
        result = rough
    if not np.isfinite(result.fun) or np.any(np.abs(result.x) > 25):
        raise FitError("the fit did not converge (parameters ran off to 0 or infinity)")
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
