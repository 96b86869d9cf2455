"""fill_polygons equals a brute-force even-odd test of every pixel centre (edge rule included),
also with more than 255 crossings on a row."""

from __future__ import annotations

import numpy as np
import pytest

from radcurate.imaging.contours import fill_polygons


def _brute(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Centre (c, r) is inside when an odd number of edges with low <= r < high cross the row
    at x < c (a centre exactly on an edge belongs to the polygon on its left)."""
    rows, cols = shape
    out = np.zeros(shape, dtype=bool)
    for r in range(rows):
        crossings: list[float] = []
        for polygon in polygons:
            for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
                low, high = min(y0, y1), max(y0, y1)
                if low <= r < high and y0 != y1:
                    crossings.append(x0 + (r - y0) * (x1 - x0) / (y1 - y0))
        for c in range(cols):
            out[r, c] = sum(1 for x in crossings if np.floor(x) + 1 <= c) % 2 == 1
    return out


def _plane(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    row0, col0, mask = fill_polygons(polygons, shape)
    plane = np.zeros(shape, dtype=bool)
    plane[row0 : row0 + mask.shape[0], col0 : col0 + mask.shape[1]] = mask
    return plane


@pytest.mark.parametrize("seed", range(6))
def test_random_polygons_equal_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (23, 31)
    polygons = [rng.uniform(-3, 34, (rng.integers(3, 12), 2)) for _ in range(rng.integers(1, 4))]
    if seed % 2:  # vertices on pixel centres: the edge rule decides
        polygons = [np.round(p) for p in polygons]
    assert np.array_equal(_plane(polygons, shape), _brute(polygons, shape))


def test_more_than_255_crossings_on_a_row() -> None:
    """A comb of 150 teeth crosses row 5 300 times: counting in uint8 wraps, parity must not."""
    teeth = []
    for k in range(150):
        teeth += [[4.0 * k + 0.5, 1.5], [4.0 * k + 2.5, 9.5]]
    comb = np.array([*teeth, [600.5, 9.5], [600.5, 12.5], [0.2, 12.5]])
    shape = (14, 605)
    got = _plane([comb], shape)
    assert np.array_equal(got, _brute([comb], shape))
    assert got[5].sum() > 100
