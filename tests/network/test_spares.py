"""The spare-file pool: complete generations only, dry pools, spent folders removed, cleanup."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from radcurate.network.spares import SparePool


def _wait(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_files_are_empty_and_come_from_complete_generations(tmp_path: Path) -> None:
    pool = SparePool(tmp_path / "spares", size=6, generation=3)
    pool.start()
    try:
        assert pool.wait_ready(timeout=10)
        taken = [pool.take() for _ in range(6)]
        assert all(path is not None for path in taken)
        paths = [Path(p) for p in taken if p is not None]
        assert len(set(paths)) == 6
        assert all(p.stat().st_size == 0 for p in paths)
        folders = {p.parent for p in paths}
        assert len(folders) == 2
        assert all(len(list(folder.iterdir())) == 3 for folder in folders)
    finally:
        pool.stop()


def test_a_dry_pool_says_so_and_refills(tmp_path: Path) -> None:
    pool = SparePool(tmp_path / "spares", size=2, generation=2)
    assert pool.take() is None  # nothing made yet: the caller creates its own file
    assert pool.misses == 1
    pool.start()
    try:
        assert pool.wait_ready(timeout=10)
        assert pool.take() is not None and pool.take() is not None
        _wait(lambda: pool.ready == 2)  # taken below the low-water mark: a new generation
        assert pool.misses == 1
    finally:
        pool.stop()


def test_spent_generations_are_removed_and_stop_cleans_up(tmp_path: Path) -> None:
    root = tmp_path / "spares"
    pool = SparePool(root, size=4, generation=2)
    pool.start()
    target = tmp_path / "placed"
    target.mkdir()
    try:
        assert pool.wait_ready(timeout=10)
        first = [pool.take() for _ in range(2)]
        generation = Path(str(first[0])).parent
        for index, path in enumerate(first):
            os.replace(str(path), target / f"{index}.dcm")  # as the receiver does
        _wait(lambda: not generation.exists())
        assert len(list(target.iterdir())) == 2
    finally:
        pool.stop()
    assert not root.exists()


def test_start_clears_leftovers_of_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "spares"
    (root / "17").mkdir(parents=True)
    (root / "17" / "0.part").write_bytes(b"half an instance")
    pool = SparePool(root, size=2, generation=2)
    pool.start()
    try:
        assert pool.wait_ready(timeout=10)
        assert not (root / "17").exists()
    finally:
        pool.stop()


def test_sizes_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        SparePool(tmp_path, size=0)
