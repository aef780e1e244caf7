"""Upper-tail probabilities of count distributions, as surprise scores.

The fault-rate detectors ask one question: how unlikely is a count at least
this large under the expected rate? The answer is a tail probability; the
score is its negative base-10 logarithm (``surprise``), so 6 means "one in a
million" and higher is more anomalous, as River's ``score_one`` wants.

Tails are summed upwards from the observed count in log space, which is exact
and fast in the region that matters (counts above the mean); counts at or
below the mean return probability 1 without work.

>>> round(poisson_sf(3, 0.5), 5)
0.01439
>>> round(binomial_sf(4, 10, 0.1), 5)
0.0128
>>> round(surprise(1e-6), 3)
6.0
"""

from __future__ import annotations

import math

_EPS = 1e-9  # relative precision of a tail sum: far below what a threshold can tell apart
_MAX_TERMS = 100_000


def surprise(p: float) -> float:
    """``-log10(p)``, clipped so that ``p == 0`` stays finite.

    >>> surprise(1.0)
    0.0
    >>> surprise(0.0)
    300.0
    """
    return 300.0 if p <= 1e-300 else max(0.0, -math.log10(p))


def _sum_upwards(log_first: float, ratio) -> float:
    """Sum a tail whose first term is ``exp(log_first)`` and term j+1/term j is ``ratio(j)``."""
    total, term, j = 0.0, 1.0, 0
    while j < _MAX_TERMS:
        total += term
        r = ratio(j)
        if r <= 0.0:
            break
        term *= r
        if term < _EPS * total and r < 1.0:
            break
        j += 1
    return min(1.0, math.exp(log_first) * total)


def poisson_sf(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu).

    >>> poisson_sf(0, 2.0)
    1.0
    >>> round(poisson_sf(2, 0.1), 6)
    0.004679
    """
    if k <= 0 or k <= mu:
        return 1.0
    if mu <= 0.0:
        return 0.0
    log_first = k * math.log(mu) - mu - math.lgamma(k + 1)
    return _sum_upwards(log_first, lambda j: mu / (k + j + 1))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p).

    >>> binomial_sf(3, 2, 0.5)
    0.0
    >>> round(binomial_sf(3, 3, 0.5), 6)
    0.125
    """
    if k <= 0 or k <= n * p:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_first = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                 + k * math.log(p) + (n - k) * math.log1p(-p))
    odds = p / (1.0 - p)
    return _sum_upwards(log_first, lambda j: (n - k - j) / (k + j + 1) * odds)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly (``n`` is a count of faults: small).

    >>> round(binomial_cdf(2, 10, 0.3), 4), round(binomial_cdf(0, 10, 0.3), 4), binomial_cdf(10, 10, 0.3)
    (0.3828, 0.0282, 1.0)
    """
    if k >= n or p <= 0.0:
        return 1.0
    if k < 0 or p >= 1.0:
        return 0.0
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    total = sum(math.exp(log_n - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * log_p + (n - j) * log_q)
                for j in range(k + 1))
    return min(1.0, total)


def negbin_sf(k: int, shape: float, rate: float) -> float:
    """P(X >= k) for the Gamma(shape, rate)-Poisson mixture (negative binomial).

    The predictive distribution of a count when the Poisson rate itself is
    only known through a Gamma posterior: wider than a Poisson with the same
    mean while little has been learned, converging to it as ``rate`` grows.

    >>> round(negbin_sf(3, 0.5, 10.0), 6) > round(poisson_sf(3, 0.05), 6)
    True
    """
    mean = shape / rate if rate > 0 else math.inf
    if k <= 0 or k <= mean:
        return 1.0
    q = 1.0 / (rate + 1.0)  # success probability of the mixture
    log_first = (math.lgamma(k + shape) - math.lgamma(shape) - math.lgamma(k + 1)
                 + shape * math.log1p(-q) + k * math.log(q))
    return _sum_upwards(log_first, lambda j: (k + j + shape) / (k + j + 1) * q)


def betabinomial_sf(k: int, n: int, a: float, b: float) -> float:
    """P(X >= k) for X ~ BetaBinomial(n, a, b): a binomial whose rate is only known as Beta(a, b).

    Comparing a cohort with a reference group of limited size: the
    reference's rate is uncertain, and a plain binomial tail would treat it as
    exact (anti-conservative for small references).

    >>> round(betabinomial_sf(9, 48, 0.5, 48.5), 4) > round(binomial_sf(9, 48, 0.5 / 49), 8)
    True
    >>> round(betabinomial_sf(1, 1, 1.0, 1.0), 3)
    0.5
    """
    mean = n * a / (a + b)
    if k <= 0 or k <= mean:
        return 1.0
    if k > n:
        return 0.0
    log_first = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                 + math.lgamma(k + a) + math.lgamma(n - k + b) - math.lgamma(n + a + b)
                 - math.lgamma(a) - math.lgamma(b) + math.lgamma(a + b))
    return _sum_upwards(log_first, lambda j: 0.0 if j >= n - k else
                        (n - k - j) / (k + j + 1) * (k + j + a) / (n - k - j - 1 + b))
