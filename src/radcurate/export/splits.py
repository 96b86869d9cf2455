"""Patient-level splits: train/val/test fractions or k folds, stratified, deterministic for a seed.

Every patient goes to exactly one split (so no patient's series lie in two sets). Patients
are grouped by their stratum (the values of the stratification fields), each stratum's
patients are put in an order fixed by ``sha256(seed, patient)`` and dealt one by one to the
split furthest below its share *within that stratum* (ties: the split furthest below its
share overall, then the order the splits were given). The same patients, fractions and seed
give the same assignment in any process; a patient keeps its split when other patients'
strata change only if its own stratum is unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["SPLIT_NAMES", "SplitError", "SplitSpec", "assign_splits", "parse_split"]

#: the split names an export knows, in this order
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")


class SplitError(ValueError):
    """A split specification that cannot be used."""


@dataclass(frozen=True)
class SplitSpec:
    """How patients are split.

    Attributes
    ----------
    fractions
        ``(name, fraction)`` of each split, summing to 1.
    folds
        Cross-validation folds over the patients outside ``test`` (0: none).
    """

    fractions: tuple[tuple[str, float], ...] = (("train", 0.8), ("test", 0.2))
    folds: int = 0

    def to_dict(self) -> dict[str, object]:
        """The JSON form (in the manifest and ``export.json``)."""
        return {"fractions": dict(self.fractions), "folds": self.folds}


def parse_split(text: str | None, folds: int | None = None) -> SplitSpec:
    """``train=0.7,val=0.1,test=0.2`` (and/or a number of folds) as a :class:`SplitSpec`.

    Without ``text``: every patient in ``train`` when folds are asked, else 80/20 train/test.

    Examples
    --------
    >>> parse_split("train=0.7,val=0.1,test=0.2").fractions
    (('train', 0.7), ('val', 0.1), ('test', 0.2))
    >>> parse_split(None, folds=5).fractions
    (('train', 1.0),)
    """
    if folds is not None and folds < 2:
        raise SplitError(f"--folds needs at least 2 folds, not {folds}")
    if not text:
        fractions: tuple[tuple[str, float], ...] = (
            (("train", 1.0),) if folds else SplitSpec().fractions
        )
        return SplitSpec(fractions, folds or 0)
    parts: list[tuple[str, float]] = []
    for raw in text.split(","):
        name, sep, value = raw.partition("=")
        name = name.strip().lower()
        if not sep or name not in SPLIT_NAMES:
            raise SplitError(
                f"{raw.strip()!r} is not SPLIT=FRACTION with SPLIT one of {', '.join(SPLIT_NAMES)}"
            )
        try:
            fraction = float(value)
        except ValueError:
            raise SplitError(f"{raw.strip()!r}: the fraction is not a number") from None
        if not 0 <= fraction <= 1:
            raise SplitError(f"{raw.strip()!r}: the fraction must lie between 0 and 1")
        if any(n == name for n, _ in parts):
            raise SplitError(f"split {name!r} is given twice")
        parts.append((name, fraction))
    total = sum(f for _, f in parts)
    if abs(total - 1.0) > 1e-6:
        raise SplitError(f"the split fractions sum to {total:g}, not 1")
    if folds and any(n == "val" and f > 0 for n, f in parts):
        raise SplitError("give --folds or a val fraction, not both (the folds are the validation)")
    return SplitSpec(tuple(parts), folds or 0)


def _order_key(seed: int, patient: str) -> str:
    return hashlib.sha256(f"{seed}\0{patient}".encode()).hexdigest()


def _deal(
    patients: Sequence[str], names: Sequence[str], shares: Sequence[float], overall: list[int]
) -> dict[str, int]:
    """Each patient (in the given order) to the index of the split furthest below its share."""
    counts = [0] * len(names)
    chosen: dict[str, int] = {}
    for n, patient in enumerate(patients, start=1):
        total = sum(overall) + 1

        def deficit(k: int, n: int = n, total: int = total) -> tuple[float, float, int]:
            return (shares[k] * n - counts[k], shares[k] * total - overall[k], -k)

        best = max((k for k in range(len(names)) if shares[k] > 0), key=deficit)
        counts[best] += 1
        overall[best] += 1
        chosen[patient] = best
    return chosen


def assign_splits(
    strata: Mapping[str, str], spec: SplitSpec, seed: int
) -> dict[str, tuple[str, int | None]]:
    """``patient -> (split, fold)`` for every patient (fold None without folds or in test).

    Parameters
    ----------
    strata
        Each patient's stratum (``""`` for all when not stratified).

    Examples
    --------
    >>> out = assign_splits({f"p{k}": "" for k in range(10)}, parse_split("train=0.8,test=0.2"), 1)
    >>> sorted(v for v, _ in out.values()).count("test")
    2
    """
    names = [n for n, _ in spec.fractions]
    shares = [f for _, f in spec.fractions]
    by_stratum: dict[str, list[str]] = {}
    for patient in sorted(strata):
        by_stratum.setdefault(strata[patient], []).append(patient)
    overall = [0] * len(names)
    split_of: dict[str, str] = {}
    for stratum in sorted(by_stratum):
        ordered = sorted(by_stratum[stratum], key=lambda p: (_order_key(seed, p), p))
        for patient, k in _deal(ordered, names, shares, overall).items():
            split_of[patient] = names[k]
    folds: dict[str, int] = {}
    if spec.folds:
        fold_names = [str(k) for k in range(spec.folds)]
        fold_shares = [1.0 / spec.folds] * spec.folds
        fold_overall = [0] * spec.folds
        for stratum in sorted(by_stratum):
            pool = [p for p in by_stratum[stratum] if split_of[p] != "test"]
            ordered = sorted(pool, key=lambda p: (_order_key(seed + 1, p), p))
            folds.update(_deal(ordered, fold_names, fold_shares, fold_overall))
    return {p: (split_of[p], folds.get(p)) for p in sorted(strata)}
