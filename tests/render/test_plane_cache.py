"""The reformat volume cache: the same pixels as reading slice by slice, far fewer reads
after the first cut, a new read when a file changes, and a byte budget that evicts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo import generate_archive
from radcurate.ingest import ingest
from radcurate.render import api as render_api
from radcurate.render import plane_cache
from radcurate.render.plane_cache import CachedVolume, PlaneCache


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogBackend]:
    root = tmp_path_factory.mktemp("planes")
    manifest = generate_archive(root / "archive", patients=3, seed=0)
    with open_catalog(f"sqlite:///{root / 'c.sqlite'}") as opened:
        ingest([manifest.root], opened, workers=1)
        yield opened


def _ct(catalog: CatalogBackend) -> str:
    return str(
        max(
            (d for d in catalog.iter_search("Modality:CT") if d.get("slice_count")),
            key=lambda d: d["slice_count"],
        )["SeriesInstanceUID"]
    )


def test_cached_cuts_equal_streamed_ones_and_are_faster(
    catalog: CatalogBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = _ct(catalog)
    monkeypatch.setattr(plane_cache, "PLANES", PlaneCache(0))  # off: slice by slice
    monkeypatch.setattr("radcurate.render.reformat.PLANES", plane_cache.PLANES)
    streamed = {
        (plane, i): np.asarray(render_api.render_slice(catalog, uid, i, plane=plane).image)
        for plane in ("coronal", "sagittal")
        for i in (10, 40)
    }
    start = time.perf_counter()
    render_api.render_slice(catalog, uid, 20, plane="coronal")
    uncached = time.perf_counter() - start

    cache = PlaneCache(512 * 2**20)
    monkeypatch.setattr("radcurate.render.reformat.PLANES", cache)
    for (plane, i), expected in streamed.items():
        got = np.asarray(render_api.render_slice(catalog, uid, i, plane=plane).image)
        assert np.array_equal(got, expected), (plane, i)
    assert cache.size_bytes > 0
    start = time.perf_counter()
    render_api.render_slice(catalog, uid, 20, plane="coronal")
    cached = time.perf_counter() - start
    print(
        f"coronal slice: {uncached * 1000:.0f} ms read slice by slice, {cached * 1000:.0f} ms cut"
    )
    assert cached < uncached


def test_budget_evicts_the_least_recently_used() -> None:
    def volume(mib: int) -> CachedVolume:
        return CachedVolume(np.zeros((mib, 512, 512), np.float32), None, None, None)

    cache = PlaneCache(3 * 2**20)
    a, b, c = ((("a", 1),), (("b", 1),), (("c", 1),))
    cache.put(a, volume(1))
    cache.put(b, volume(1))
    assert cache.get(a) is not None  # a is now the most recent
    cache.put(c, volume(2))  # 4 MiB > 3: b goes
    assert cache.get(b) is None and cache.get(a) is not None and cache.get(c) is not None
    cache.put((("d", 1),), volume(4))  # larger than the whole budget: never kept
    assert cache.get((("d", 1),)) is None and cache.size_bytes == 3 * 2**20
    assert not cache.fits(4, 512, 512) and cache.fits(3, 512, 512)


def test_a_changed_file_is_read_again() -> None:
    from radcurate.dicom.instance import InstanceRecord
    from radcurate.render.plane_cache import volume_key

    fields = {f: None for f in InstanceRecord.__dataclass_fields__}
    fields.update(location="/x/1.dcm", source="/x/1.dcm", size=1, mtime_ns=1)
    before = InstanceRecord(**fields)  # type: ignore[arg-type]
    after = InstanceRecord(**{**fields, "mtime_ns": 2})  # type: ignore[arg-type]
    assert volume_key([before]) != volume_key([after])
