"""Every bias metric equals its reference implementation to 1e-9 on random tables.

References: scipy's ``chi2_contingency`` (no continuity correction), ``chi2.sf``,
``kruskal``, ``ks_2samp`` (asymptotic), ``jensenshannon`` (base 2) and
``entropy``; scikit-learn's ``normalized_mutual_info_score`` (arithmetic), also
computed here from the labels themselves, so the NMI check runs without it.
Bergsma's bias-corrected Cramér's V and Haberman's adjusted residuals are
written out from scipy's statistic and expected counts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from radcurate.analyze.bias_metrics import (
    NotComputable,
    adjusted_residuals,
    chi2_sf,
    chi_square,
    cramers_v,
    holm,
    js_distance,
    kruskal_wallis,
    ks_two_sample,
    mutual_info,
    normalized_mutual_info,
    representation,
)

TOL = 1e-9


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


@st.composite
def tables(draw: st.DrawFn, min_side: int = 2, max_side: int = 6, high: int = 60) -> np.ndarray:
    """A random contingency table without empty rows or columns."""
    r = draw(st.integers(min_side, max_side))
    c = draw(st.integers(min_side, max_side))
    cells = draw(st.lists(st.integers(0, high), min_size=r * c, max_size=r * c))
    table = np.asarray(cells, np.int64).reshape(r, c)
    table[np.arange(r), np.arange(r) % c] += 1  # every row non-empty
    table[np.arange(c) % r, np.arange(c)] += 1  # every column non-empty
    return table


def _labels(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, columns = np.nonzero(table)
    counts = table[rows, columns]
    return np.repeat(rows, counts), np.repeat(columns, counts)


@settings(max_examples=150, deadline=None)
@given(tables())
def test_chi_square_equals_scipy(table: np.ndarray) -> None:
    mine = chi_square(table)
    statistic, p, dof, expected = stats.chi2_contingency(table, correction=False)
    assert _close(mine.statistic, statistic)
    assert mine.dof == dof
    assert _close(mine.p, p)
    np.testing.assert_allclose(mine.expected, expected, rtol=TOL, atol=TOL)


@settings(max_examples=150, deadline=None)
@given(tables())
def test_cramers_v_and_residuals_from_scipy(table: np.ndarray) -> None:
    statistic, _, _, expected = stats.chi2_contingency(table, correction=False)
    n = table.sum()
    r, c = table.shape
    phi2 = max(0.0, statistic / n - (r - 1) * (c - 1) / (n - 1))
    corrected = min(r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)) - 1
    if corrected > 0:
        assert _close(cramers_v(statistic, n, r, c), math.sqrt(phi2 / corrected))
    row = table.sum(axis=1, keepdims=True) / n
    column = table.sum(axis=0, keepdims=True) / n
    reference = (table - expected) / np.sqrt(expected * (1 - row) * (1 - column))
    np.testing.assert_allclose(adjusted_residuals(table, expected), reference, rtol=TOL, atol=TOL)


def _nmi_reference(a: np.ndarray, b: np.ndarray) -> float:
    """scikit-learn's arithmetic NMI written from the labels (its special cases included)."""
    if len(np.unique(a)) == len(np.unique(b)) == 1:
        return 1.0
    n = a.size
    pairs: dict[tuple[int, int], int] = {}
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        pairs[(x, y)] = pairs.get((x, y), 0) + 1
    pa = np.bincount(a) / n
    pb = np.bincount(b) / n
    mi = sum(k / n * math.log(k / n / (pa[x] * pb[y])) for (x, y), k in pairs.items())
    if mi <= 0:
        return 0.0
    return float(mi / ((stats.entropy(pa[pa > 0]) + stats.entropy(pb[pb > 0])) / 2))


@settings(max_examples=150, deadline=None)
@given(tables(min_side=1, max_side=5, high=30))
def test_normalized_mutual_info_equals_the_reference(table: np.ndarray) -> None:
    a, b = _labels(table)
    assert _close(normalized_mutual_info(table), _nmi_reference(a, b))


@settings(max_examples=150, deadline=None)
@given(tables(min_side=1, max_side=5, high=30))
def test_normalized_mutual_info_equals_scikit_learn(table: np.ndarray) -> None:
    from sklearn import metrics  # in the test extra

    a, b = _labels(table)
    assert _close(normalized_mutual_info(table), metrics.normalized_mutual_info_score(a, b))
    assert _close(mutual_info(table), metrics.mutual_info_score(a, b))


@settings(max_examples=150, deadline=None)
@given(tables(max_side=5, high=20))
def test_kruskal_wallis_equals_scipy(table: np.ndarray) -> None:
    values = np.sort(np.random.default_rng(table.sum()).normal(size=table.shape[1]))
    groups = [np.repeat(values, row) for row in table]
    mine = kruskal_wallis(table)
    reference = stats.kruskal(*groups)
    assert _close(mine.statistic, reference.statistic)
    assert _close(mine.p, reference.pvalue)
    n, k = table.sum(), table.shape[0]
    assert _close(mine.eta_squared, (reference.statistic - k + 1) / (n - k))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=2, max_size=12), st.data())
def test_js_distance_equals_scipy(p: list[int], data: st.DataObject) -> None:
    q = data.draw(st.lists(st.integers(0, 50), min_size=len(p), max_size=len(p)))
    if sum(p) == 0 or sum(q) == 0:
        with pytest.raises(NotComputable):
            js_distance(np.asarray(p), np.asarray(q))
        return
    reference = jensenshannon(np.asarray(p, float), np.asarray(q, float), base=2)
    assert _close(js_distance(np.asarray(p), np.asarray(q)), float(reference))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=2, max_size=10), st.data())
def test_ks_two_sample_equals_scipy(a: list[int], data: st.DataObject) -> None:
    b = data.draw(st.lists(st.integers(0, 40), min_size=len(a), max_size=len(a)))
    if sum(a) == 0 or sum(b) == 0:
        return
    values = np.arange(len(a), dtype=float) * 1.5
    d, p = ks_two_sample(np.asarray(a), np.asarray(b))
    reference = stats.ks_2samp(np.repeat(values, a), np.repeat(values, b), method="asymp")
    assert _close(d, reference.statistic)
    assert p is not None and _close(p, reference.pvalue)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 400, allow_nan=False), st.integers(1, 300))
def test_chi2_upper_tail_equals_scipy(x: float, dof: int) -> None:
    assert _close(chi2_sf(x, dof), float(stats.chi2.sf(x, dof)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=20))
def test_representation_figures(counts: list[int]) -> None:
    found = representation(np.asarray(counts))
    present = [c for c in counts if c]
    assert found.groups == len(present)
    if not present:
        assert found.imbalance_ratio is None and found.evenness is None
        return
    entropy = float(stats.entropy(present))
    assert _close(found.entropy, entropy)
    assert _close(found.effective_groups, math.exp(entropy))
    assert found.imbalance_ratio == max(present) / min(present)
    if len(present) >= 2:
        assert found.evenness is not None
        assert _close(found.evenness, entropy / math.log(len(present)))


def test_holm_steps_down_and_stays_monotone() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []
    assert holm([0.9, 0.9]) == [1.0, 1.0]


def test_too_small_tables_are_not_computable() -> None:
    with pytest.raises(NotComputable, match="two groups"):
        chi_square(np.array([[3, 4]]))
    with pytest.raises(NotComputable, match="two groups"):
        kruskal_wallis(np.array([[3, 4]]))
    with pytest.raises(NotComputable, match="the same"):
        kruskal_wallis(np.array([[3], [4]]))
    with pytest.raises(NotComputable):
        cramers_v(1.0, 1, 2, 2)


def test_a_perfect_and_an_absent_association() -> None:
    perfect = np.array([[50, 0], [0, 50]])
    assert cramers_v(chi_square(perfect).statistic, 100, 2, 2) == pytest.approx(1.0)
    assert normalized_mutual_info(perfect) == pytest.approx(1.0)
    flat = np.array([[25, 25], [25, 25]])
    assert cramers_v(chi_square(flat).statistic, 100, 2, 2) == 0.0
    assert normalized_mutual_info(flat) == pytest.approx(0.0, abs=1e-12)
