"""Label voxel counts of the export equal a plain bincount, for few and many labels."""

from __future__ import annotations

import numpy as np
import pytest

from radcurate.export.labels import _label_counts


@pytest.mark.parametrize(("n", "dtype"), [(1, np.uint8), (3, np.uint8), (40, np.uint8),
                                          (300, np.uint16)])  # fmt: skip
def test_counts_equal_bincount(n: int, dtype: type) -> None:
    rng = np.random.default_rng(n)
    labels = rng.integers(0, n + 1, (7, 33, 29)).astype(dtype)
    labels[0] = 0
    expected = np.bincount(labels.ravel().astype(np.int64), minlength=n + 1)
    assert _label_counts(labels, n) == [0, *expected[1:].tolist()]
