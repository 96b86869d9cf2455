"""Patient-level splits: every patient in one split, shares as asked, stratified, deterministic."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from radcurate.export.splits import SplitError, assign_splits, parse_split

PATIENTS = {f"PAT{k:03d}": ("siemens" if k % 3 else "ge") for k in range(60)}


def test_every_patient_in_exactly_one_split_with_the_asked_shares() -> None:
    spec = parse_split("train=0.7,val=0.1,test=0.2")
    out = assign_splits(dict.fromkeys(PATIENTS, ""), spec, seed=1)
    assert set(out) == set(PATIENTS)
    counts = Counter(split for split, _ in out.values())
    assert counts == {"train": 42, "val": 6, "test": 12}


def test_stratified_splits_keep_each_stratum_proportional() -> None:
    spec = parse_split("train=0.5,test=0.5")
    out = assign_splits(PATIENTS, spec, seed=7)
    per = Counter((PATIENTS[p], split) for p, (split, _) in out.items())
    assert per[("ge", "train")] == per[("ge", "test")] == 10
    assert per[("siemens", "train")] == per[("siemens", "test")] == 20
    # without stratification the same seed can leave a stratum unbalanced (negative case)
    plain = assign_splits(dict.fromkeys(PATIENTS, ""), spec, seed=7)
    skew = Counter((PATIENTS[p], split) for p, (split, _) in plain.items())
    assert skew[("ge", "train")] != 10


def test_same_seed_same_assignment_other_seed_another() -> None:
    spec = parse_split("train=0.8,test=0.2")
    first = assign_splits(PATIENTS, spec, seed=3)
    assert assign_splits(dict(reversed(list(PATIENTS.items()))), spec, seed=3) == first
    assert assign_splits(PATIENTS, spec, seed=4) != first


def test_same_assignment_in_another_process() -> None:
    code = (
        "from radcurate.export.splits import assign_splits, parse_split\n"
        "p = {f'PAT{k:03d}': '' for k in range(30)}\n"
        "print(sorted(assign_splits(p, parse_split('train=0.6,test=0.4'), 5).items()))\n"
    )
    here = sorted(
        assign_splits(
            {f"PAT{k:03d}": "" for k in range(30)}, parse_split("train=0.6,test=0.4"), 5
        ).items()
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert there.stdout.strip() == str(here)


def test_folds_partition_the_patients_outside_test() -> None:
    spec = parse_split("train=0.8,test=0.2", folds=5)
    out = assign_splits(PATIENTS, spec, seed=0)
    folds = Counter(fold for split, fold in out.values() if split != "test")
    assert sorted(folds) == [0, 1, 2, 3, 4]
    assert max(folds.values()) - min(folds.values()) <= 1
    assert all(fold is None for split, fold in out.values() if split == "test")
    only = assign_splits(PATIENTS, parse_split(None, folds=3), seed=0)
    assert {split for split, _ in only.values()} == {"train"}
    assert Counter(f for _, f in only.values()) == {0: 20, 1: 20, 2: 20}


@pytest.mark.parametrize(
    ("text", "folds", "message"),
    [
        ("train=0.7,test=0.2", None, "sum to 0.9"),
        ("train=0.5,dev=0.5", None, "not SPLIT=FRACTION"),
        ("train=x,test=1", None, "not a number"),
        ("train=0.5,train=0.5", None, "twice"),
        ("train=0.7,val=0.1,test=0.2", 5, "not both"),
        (None, 1, "at least 2"),
    ],
)
def test_bad_split_specs_are_refused(text: str | None, folds: int | None, message: str) -> None:
    with pytest.raises(SplitError, match=message):
        parse_split(text, folds)
