"""The bias metrics on count tables: numbers in, numbers out (numpy; scipy only for KS p).

Every function takes counts (a contingency table, or counts per group), so
the catalog counts once on its index and the metrics cost nothing by the
number of series. Each equals its reference implementation to 1e-9
(tests/bias/test_metrics.py): :func:`chi_square` and scipy's
``chi2_contingency(table, correction=False)``, :func:`normalized_mutual_info`
and scikit-learn's ``normalized_mutual_info_score`` (arithmetic mean),
:func:`js_distance` and ``scipy.spatial.distance.jensenshannon(p, q, base=2)``,
:func:`kruskal_wallis` and ``scipy.stats.kruskal`` on the rows it counts,
:func:`ks_two_sample` and ``scipy.stats.ks_2samp(method="asymp")``. The
formulas are in docs/bias.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Counts = npt.NDArray[Any]
FloatArray = npt.NDArray[np.float64]


class NotComputable(ValueError):
    """A metric has no value for these counts (the message says why)."""


def chi2_sf(x: float, dof: int) -> float:
    """The chi-square distribution's upper tail ``P(X >= x)`` for a whole ``dof`` >= 1.

    The closed form of the regularised upper incomplete gamma function at
    half-integers: a sum of positive terms (no cancellation), each in log space.

    Examples
    --------
    >>> round(chi2_sf(3.841458820694124, 1), 9), chi2_sf(0.0, 3)
    (0.05, 1.0)
    """
    if dof < 1:
        raise ValueError("dof must be at least 1")
    y = x / 2.0
    if y <= 0:
        return 1.0
    if dof % 2 == 0:
        terms = [-y + i * math.log(y) - math.lgamma(i + 1) for i in range(dof // 2)]
        base = 0.0
    else:
        terms = [
            -y + (i - 0.5) * math.log(y) - math.lgamma(i + 0.5) for i in range(1, dof // 2 + 1)
        ]
        base = math.erfc(math.sqrt(y))
    if not terms:
        return min(1.0, base)
    top = max(terms)
    total = math.exp(top) * math.fsum(math.exp(t - top) for t in terms)
    return min(1.0, base + total)


def trim(table: Counts) -> tuple[Counts, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The table without empty rows and columns, and the kept row and column indexes."""
    rows = np.flatnonzero(table.sum(axis=1) > 0)
    columns = np.flatnonzero(table.sum(axis=0) > 0)
    return table[np.ix_(rows, columns)], rows, columns


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square test of independence (no continuity correction)."""

    statistic: float
    dof: int
    p: float
    expected: FloatArray


def chi_square(table: Counts) -> ChiSquare:
    """Pearson's chi-square on a table with no empty row or column.

    Raises :class:`NotComputable` for fewer than two rows or columns.

    Examples
    --------
    >>> result = chi_square(np.array([[10, 0], [0, 10]]))
    >>> result.statistic, result.dof, result.p < 1e-4
    (20.0, 1, True)
    """
    observed = np.asarray(table, np.float64)
    r, c = observed.shape
    if r < 2 or c < 2:
        raise NotComputable("needs at least two groups on each side")
    n = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    dof = (r - 1) * (c - 1)
    return ChiSquare(statistic, dof, chi2_sf(statistic, dof), expected)


def cramers_v(statistic: float, n: int, r: int, c: int) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) of a chi-square on an ``r x c`` table.

    Raises :class:`NotComputable` when the corrected table is too small (tiny ``n``).

    Examples
    --------
    >>> round(cramers_v(20.0, 20, 2, 2), 9), round(cramers_v(5.0, 100, 2, 3), 6)
    (1.0, 0.173499)
    """
    if n < 2:
        raise NotComputable("needs at least two series")
    phi2 = max(0.0, statistic / n - (r - 1) * (c - 1) / (n - 1))
    rows = r - (r - 1) ** 2 / (n - 1)
    columns = c - (c - 1) ** 2 / (n - 1)
    denominator = min(rows - 1, columns - 1)
    if denominator <= 0:
        raise NotComputable("too few series for the bias correction")
    return math.sqrt(phi2 / denominator)


def adjusted_residuals(table: Counts, expected: FloatArray) -> FloatArray:
    """Haberman's adjusted (standardised) residuals: about N(0, 1) per cell without an
    association; above 2 a group is over-represented, below -2 under-represented."""
    observed = np.asarray(table, np.float64)
    n = observed.sum()
    row = observed.sum(axis=1, keepdims=True) / n
    column = observed.sum(axis=0, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = (observed - expected) / np.sqrt(expected * (1 - row) * (1 - column))
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def _entropy(counts: Counts) -> float:
    found = np.asarray(counts, np.float64)
    found = found[found > 0]
    total = found.sum()
    if total <= 0:
        return 0.0
    p = found / total
    return float(-np.sum(p * np.log(p)))


def mutual_info(table: Counts) -> float:
    """Mutual information (nats) of a contingency table."""
    observed = np.asarray(table, np.float64)
    n = observed.sum()
    rows, columns = np.nonzero(observed)
    cells = observed[rows, columns]
    outer = observed.sum(axis=1)[rows] * observed.sum(axis=0)[columns]
    mi = float(np.sum(cells / n * (np.log(cells) + math.log(n) - np.log(outer))))
    return max(0.0, mi)


def normalized_mutual_info(table: Counts) -> float:
    """Mutual information over the arithmetic mean of both entropies, as scikit-learn's
    ``normalized_mutual_info_score`` (1 when neither side is split, 0 without information).

    Examples
    --------
    >>> round(normalized_mutual_info(np.array([[5, 0], [0, 5]])), 9)
    1.0
    """
    observed = np.asarray(table, np.float64)
    rows = int(np.count_nonzero(observed.sum(axis=1)))
    columns = int(np.count_nonzero(observed.sum(axis=0)))
    if rows == columns == 1 or rows == columns == 0:
        return 1.0
    mi = mutual_info(observed)
    if mi == 0:
        return 0.0
    mean = (_entropy(observed.sum(axis=1)) + _entropy(observed.sum(axis=0))) / 2
    return float(mi / mean)


@dataclass(frozen=True)
class KruskalWallis:
    """Kruskal–Wallis H (tie-corrected), its p-value and eta² = (H - k + 1) / (n - k)."""

    statistic: float
    dof: int
    p: float
    eta_squared: float


def kruskal_wallis(table: Counts) -> KruskalWallis:
    """Kruskal–Wallis on a table of groups (rows) by sorted distinct values (columns).

    Tied values take their average rank; ranks come from the column totals, so
    the test costs one pass over the table, not a sort of the series.

    Examples
    --------
    >>> round(kruskal_wallis(np.array([[1, 1, 0, 0], [0, 0, 1, 1]])).statistic, 6)
    2.4
    """
    observed = np.asarray(table, np.float64)
    observed = observed[observed.sum(axis=1) > 0]
    k = observed.shape[0]
    if k < 2:
        raise NotComputable("needs at least two groups with values")
    ties = observed.sum(axis=0)
    n = ties.sum()
    if np.count_nonzero(ties) < 2:
        raise NotComputable("every value is the same")
    if n <= k:
        raise NotComputable("needs more series than groups")
    before = np.cumsum(ties) - ties
    ranks = before + (ties + 1) / 2
    sums = observed @ ranks
    sizes = observed.sum(axis=1)
    h = 12.0 / (n * (n + 1)) * float(np.sum(sums**2 / sizes)) - 3.0 * (n + 1)
    h /= 1.0 - float(np.sum(ties**3 - ties)) / (n**3 - n)
    h = float(h)
    return KruskalWallis(h, k - 1, chi2_sf(h, k - 1), float((h - k + 1) / (n - k)))


def js_distance(p: Counts, q: Counts) -> float:
    """Jensen–Shannon distance (base 2: 0 same, 1 disjoint) of two count or share vectors.

    Examples
    --------
    >>> js_distance(np.array([1, 0]), np.array([0, 1])), js_distance(np.ones(3), np.ones(3))
    (1.0, 0.0)
    """
    a = np.asarray(p, np.float64)
    b = np.asarray(q, np.float64)
    if a.sum() <= 0 or b.sum() <= 0:
        raise NotComputable("a distribution without any series")
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(a > 0, a * np.log(a / m), 0.0)
        right = np.where(b > 0, b * np.log(b / m), 0.0)
    js = float(np.sum(left) + np.sum(right)) / 2 / math.log(2)
    return math.sqrt(max(0.0, js))


def ks_two_sample(counts_a: Counts, counts_b: Counts) -> tuple[float, float | None]:
    """Two-sample Kolmogorov–Smirnov D on counts per sorted distinct value, and its p
    as ``scipy.stats.ks_2samp(method="asymp")`` gives it (None without scipy)."""
    a = np.asarray(counts_a, np.float64)
    b = np.asarray(counts_b, np.float64)
    n1, n2 = a.sum(), b.sum()
    if n1 <= 0 or n2 <= 0:
        raise NotComputable("a selection without values")
    d = float(np.max(np.abs(np.cumsum(a) / n1 - np.cumsum(b) / n2)))
    try:
        from scipy.stats import distributions  # the exact one-sample KS law, as scipy
    except ImportError:
        return d, None
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(distributions.kstwo.sf(d, np.round(m * n / (m + n))))
    return d, min(1.0, max(0.0, p))


@dataclass(frozen=True)
class Representation:
    """How evenly series spread over the groups of one attribute (missing left out)."""

    groups: int
    entropy: float
    effective_groups: float
    evenness: float | None
    imbalance_ratio: float | None


def representation(counts: Counts) -> Representation:
    """Shannon entropy (nats) of the group shares, exp(entropy), entropy / ln k, and the
    largest group over the smallest (non-empty) one.

    Examples
    --------
    >>> found = representation(np.array([50, 50, 0]))
    >>> found.groups, round(found.effective_groups, 9), found.evenness, found.imbalance_ratio
    (2, 2.0, 1.0, 1.0)
    """
    found = np.asarray(counts, np.float64)
    found = found[found > 0]
    k = int(found.size)
    entropy = _entropy(found)
    return Representation(
        k,
        entropy,
        math.exp(entropy),
        entropy / math.log(k) if k >= 2 else None,
        float(found.max() / found.min()) if k else None,
    )


def holm(pvalues: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone), in the given order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(pvalues)
    order = sorted(range(m), key=pvalues.__getitem__)
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out
