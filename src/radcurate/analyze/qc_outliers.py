"""``qc-outliers``: each series against its population, by robust z-scores.

A population step: it reads what ``qc-pixels`` and ``qc-segmentation`` wrote on *every*
series of the catalog, so it runs after them (the ``qc`` workflow runs it once every
series of its selection is done; run alone, run it after those over the whole
collection). Per series:

- **protocol group**: the series with pixel measures (``has:qc.pixels.series_digest``)
  sharing its Manufacturer, ManufacturerModelName, ConvolutionKernel and
  SeriesDescription (case-insensitive; an attribute the series lacks must be missing in
  the others too). For each ``qc.pixels`` measure the robust z of the series is
  ``(x − median) / (1.4826 · MAD)`` over the group (the series included); when the MAD is
  0 the mean absolute deviation ``· 1.2533`` stands in (Iglewicz and Hoaglin), and when
  that is 0 too the measure gives no z. Groups smaller than ``min_group`` get no z.
- **same pixels in two series**: the other series whose ``qc.pixels.series_digest`` is the
  same (the same frames, in any order).
- **label volumes**: for each label of ``qc.segmentation.volume_ml`` (``{label: ml}``), the
  robust z of its volume against every series carrying that label.

The input hash covers every value the scores are computed from (the group's measures,
the digests, the label populations), so a re-run recomputes a series exactly when its
population changed. Cost: one group query and one read of the group's results per
series (groups of thousands of series take seconds each).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from radcurate.catalog import CatalogBackend
from radcurate.query.ast import FieldMatch, Has, Missing, Node, conjoin
from radcurate.query.patterns import escape
from radcurate.workflow.checks import QCCheck
from radcurate.workflow.step import SeriesItem, Workflow

__all__ = ["GROUP_FIELDS", "OUTLIER_CHECKS", "OutlierQC", "OutlierQCParams", "robust_z"]

#: the attributes that make a protocol group
GROUP_FIELDS = ("Manufacturer", "ManufacturerModelName", "ConvolutionKernel", "SeriesDescription")
#: the ``qc.pixels`` measures compared within a group
PIXEL_MEASURES = (
    "noise_hu", "snr", "cnr", "cv", "cjv", "efc", "fber", "mean_value", "sd_value",
    "clipped_fraction", "metal_fraction", "fov_edge_fraction",
)  # fmt: skip
DIGEST_FIELD = "qc.pixels.series_digest"
VOLUME_FIELD = "qc.segmentation.volume_ml"
MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.2533


class OutlierQCParams(BaseModel):
    """Parameters of ``qc-outliers``."""

    model_config = ConfigDict(extra="forbid")

    min_group: int = Field(5, ge=3, description="Smaller groups or label populations: no z")
    measures: list[str] = Field(
        default_factory=lambda: list(PIXEL_MEASURES),
        description="qc.pixels measures compared within the protocol group",
    )


OUTLIER_CHECKS: tuple[QCCheck, ...] = (
    QCCheck("qc.outliers.pixels_z", "Pixel outlier in its protocol group",
            "Largest |robust z| of the series' qc.pixels measures within its protocol group "
            "(manufacturer, model, kernel, description); qc.outliers.pixels_worst_measure "
            "names the measure.", "qc.outliers.pixels_z:>3.5", "|z| 3.5", "pixels"),
    QCCheck("qc.outliers.duplicate_pixel_series", "Same pixels in another series",
            "Other series whose frames have exactly the same stored pixels.",
            "has:qc.outliers.duplicate_pixel_series", "none allowed", "pixels", "error"),
    QCCheck("qc.outliers.label_volume_z", "Label volume outlier",
            "Largest |robust z| of a label's volume against every series with that label "
            "(qc.outliers.label_volume_worst names it).",
            "qc.outliers.label_volume_max_z:>3.5", "|z| 3.5", "segmentation"),
)  # fmt: skip


def robust_z(value: float, population: Sequence[float]) -> float | None:
    """The robust z of ``value`` in ``population`` (None when the spread is 0).

    Examples
    --------
    >>> round(robust_z(20.0, [10, 11, 12, 9, 10, 11, 20]) or 0.0, 2)
    6.07
    >>> robust_z(1.0, [1.0, 1.0, 1.0]) is None
    True
    """
    values = sorted(float(v) for v in population)
    if not values:
        return None
    median = _median(values)
    mad = _median(sorted(abs(v - median) for v in values)) * MAD_SCALE
    if mad <= 0:
        mad = sum(abs(v - median) for v in values) / len(values) * MEAN_AD_SCALE
    if mad <= 0:
        return None
    return (float(value) - median) / mad


def _median(ordered: Sequence[float]) -> float:
    n = len(ordered)
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def group_query(document: Mapping[str, Any]) -> Node:
    """The query of a series' protocol group (series with pixel measures)."""
    terms: list[Node] = [Has(DIGEST_FIELD)]
    for name in GROUP_FIELDS:
        value = document.get(name)
        values = [v for v in (value if isinstance(value, list) else [value])
                  if v is not None and str(v) != ""]  # fmt: skip
        if not values:
            terms.append(Missing(name))
        terms.extend(FieldMatch(name, escape(str(v))) for v in values)
    return conjoin(terms)


@dataclass
class Population:
    """What the scores of one series are computed from."""

    own: dict[str, float] = field(default_factory=dict)
    group: dict[str, dict[str, float]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    labels: dict[str, dict[str, float]] = field(default_factory=dict)
    own_volumes: dict[str, float] = field(default_factory=dict)

    def digest(self) -> str:
        """A hash of every value (the input hash)."""
        text = json.dumps(
            [self.own, self.group, self.duplicates, self.labels, self.own_volumes],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _pixels_of(results: Mapping[str, Any]) -> dict[str, Any]:
    qc = results.get("qc") or {}
    pixels = qc.get("pixels") if isinstance(qc, dict) else None
    return pixels if isinstance(pixels, dict) else {}


def _volumes_of(results: Mapping[str, Any]) -> dict[str, float]:
    qc = results.get("qc") or {}
    segmentation = qc.get("segmentation") if isinstance(qc, dict) else None
    raw = segmentation.get("volume_ml") if isinstance(segmentation, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in ((k, _number(v)) for k, v in raw.items()) if v is not None}


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, raw in values.items() if (v := _number(raw)) is not None}


#: a population read is reused while its fingerprint holds, for at most this long (s)
CACHE_SECONDS = 60.0
#: populations kept at most (the oldest is dropped)
CACHE_ENTRIES = 64
PIXELS_PRODUCER, SEGMENTATION_PRODUCER = "qc-pixels", "qc-segmentation"


@dataclass
class PopulationCache:
    """Decoded populations (``{uid: {name: value}}``) by query, reused for the next series of
    the same group while the fingerprint holds: the same series, and the same version,
    parameters and input hash of the producer's result sets on each. So a group of *g*
    series decodes its results once instead of *g* times; values rewritten under an
    unchanged provenance (by hand, by another producer) are seen again after
    :data:`CACHE_SECONDS`."""

    entries: dict[tuple[str, str], tuple[float, str, dict[str, dict[str, float]]]] = field(
        default_factory=dict
    )

    def read(
        self, catalog: CatalogBackend, query: Node, producer: str,
        extract: Callable[[Mapping[str, Any]], dict[str, float]],
    ) -> dict[str, dict[str, float]]:  # fmt: skip
        """``extract(results)`` of every series matching ``query``."""
        uids = catalog.series_uids(query)
        stored = catalog.result_store.stored_inputs(uids, producer)
        lines = []
        for uid in uids:
            mark = stored.get(uid)
            lines.append(uid if mark is None else
                         f"{uid}|{mark.version}|{mark.params_hash}|{mark.input_hash}")  # fmt: skip
        fingerprint = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        key, now = (catalog.url, repr(query)), time.monotonic()
        hit = self.entries.get(key)
        if hit is not None and hit[1] == fingerprint and now - hit[0] < CACHE_SECONDS:
            return hit[2]
        values = {uid: extract(r) for uid, r in catalog.result_store.results_of(uids).items()}
        self.entries.pop(key, None)
        while len(self.entries) >= CACHE_ENTRIES:
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = (now, fingerprint, values)
        return values


def read_population(
    catalog: CatalogBackend, item: SeriesItem, cache: PopulationCache | None = None
) -> Population:
    """The series' own measures and those of its group, duplicates and label populations
    (every numeric ``qc.pixels`` value, so the input hash covers any choice of measures)."""
    cache = cache or PopulationCache()
    mine = catalog.results(item.series_uid)
    pixels = _pixels_of(mine)
    found = Population(own_volumes=_volumes_of(mine))
    found.own = _numbers(pixels)
    digest = pixels.get("series_digest")
    if isinstance(digest, str) and digest:
        group = cache.read(catalog, group_query(item.document), PIXELS_PRODUCER,
                           lambda r: _numbers(_pixels_of(r)))  # fmt: skip
        found.group = dict(group)
        found.group[item.series_uid] = found.own  # its own values as read now
        same = catalog.series_uids(FieldMatch(DIGEST_FIELD, escape(digest)))
        found.duplicates = sorted(u for u in same if u != item.series_uid)
    for label in sorted(found.own_volumes):
        if "." in label or not label.strip():
            continue  # not addressable as a field path
        volumes = cache.read(catalog, Has(f"{VOLUME_FIELD}.{label}"), SEGMENTATION_PRODUCER,
                             _volumes_of)  # fmt: skip
        found.labels[label] = {u: v[label] for u, v in volumes.items() if label in v}
        found.labels[label][item.series_uid] = found.own_volumes[label]
    return found


def outlier_scores(
    population: Population, min_group: int, measures: Sequence[str] = PIXEL_MEASURES
) -> dict[str, Any]:
    """The ``qc.outliers`` values of one series."""
    out: dict[str, Any] = {"group_size": len(population.group), "scored": False}
    if population.group or population.own:
        out["duplicate_pixel_series"] = population.duplicates
    if len(population.group) >= min_group and population.own:
        by_measure: dict[str, float] = {}
        for measure in measures:
            value = population.own.get(measure)
            if value is None:
                continue
            others = [v[measure] for v in population.group.values() if measure in v]
            if len(others) < min_group:
                continue
            z = robust_z(value, others)
            if z is not None:
                by_measure[measure] = round(z, 3)
        if by_measure:
            worst = max(by_measure, key=lambda m: abs(by_measure[m]))
            out.update(pixels_z=round(abs(by_measure[worst]), 3), pixels_worst_measure=worst,
                       pixels_z_by_measure=by_measure, scored=True)  # fmt: skip
    label_z: dict[str, float] = {}
    for label, volumes in population.labels.items():
        own = population.own_volumes.get(label)
        if own is None or len(volumes) < min_group:
            continue
        z = robust_z(own, list(volumes.values()))
        if z is not None:
            label_z[label] = round(z, 3)
    if label_z:
        worst_label = max(label_z, key=lambda k: abs(label_z[k]))
        out.update(label_volume_z=label_z, label_volume_worst=worst_label,
                   label_volume_max_z=round(abs(label_z[worst_label]), 3), scored=True)  # fmt: skip
    return out


def _key(item: SeriesItem) -> tuple[int, str, str]:
    return (id(item), item.series_uid, item.catalog.url)


class OutlierQC(Workflow):
    """Robust z-scores of each series against its protocol group and label populations."""

    name = "qc-outliers"
    title = "QC: outliers against the population"
    description = (
        "Robust z of each series' pixel measures within its protocol group (manufacturer, "
        "model, kernel, description), series with the same pixels, robust z of each "
        "segmentation label's volume; run after qc-pixels / qc-segmentation over the whole "
        "population; qc.outliers.* fields"
    )
    version = "1"
    Params = OutlierQCParams
    checks: ClassVar[tuple[QCCheck, ...]] = OUTLIER_CHECKS

    def __init__(self) -> None:
        #: the population :meth:`input_hash` read, reused by :meth:`process` right after
        #: (keyed by the item object: a new item, e.g. a later run, reads it again)
        self._last: tuple[tuple[int, str, str], Population] | None = None
        self._cache = PopulationCache()

    def input_hash(self, item: SeriesItem) -> str:
        """A hash of every population value the scores depend on."""
        found = read_population(item.catalog, item, self._cache)
        self._last = (_key(item), found)
        return found.digest()

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        assert isinstance(params, OutlierQCParams)
        last, self._last = self._last, None
        found = last[1] if last is not None and last[0] == _key(item) else None
        population = found or read_population(item.catalog, item, self._cache)
        scores = outlier_scores(population, params.min_group, params.measures)
        return {"qc": {"outliers": scores}}
