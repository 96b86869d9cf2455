"""The dicomweb+http:// storage backend keeps originals in Orthanc, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.orthanc import OrthancHandle
from click.testing import CliRunner
from pydicom import dcmread

from radcurate.catalog import open_catalog
from radcurate.cli import main
from radcurate.storage import StorageError, open_storage
from radcurate.storage.dicomweb import DicomWebStore


def _one_per_syntax(files: list[Path]) -> list[Path]:
    chosen: dict[str, Path] = {}
    for path in files:
        syntax = str(dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        chosen.setdefault(syntax, path)
    return list(chosen.values())


def test_round_trip_is_byte_identical(orthanc: OrthancHandle, archive_files: list[Path]) -> None:
    store = open_storage(f"dicomweb+{orthanc.http_url}/dicom-web")
    assert isinstance(store, DicomWebStore)
    files = _one_per_syntax(archive_files)
    assert len(files) >= 3  # uncompressed and compressed
    for path in files:
        ds = dcmread(path, stop_before_pixels=True)
        location = store.put(
            str(path), ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
        )
        assert location.startswith(orthanc.http_url)
        with store.open(location) as handle:
            assert handle.read() == path.read_bytes()
        # storing the same file again changes nothing
        assert (
            store.put(str(path), ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
            == location
        )


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_ingest_copy_into_the_pacs(
    orthanc: OrthancHandle, archive_files: list[Path], catalog_url: str
) -> None:
    files = archive_files[:30]
    store_url = f"dicomweb+{orthanc.http_url}/dicom-web"
    result = CliRunner().invoke(
        main,
        [
            "ingest",
            *map(str, files),
            "--copy",
            "--store",
            store_url,
            "--catalog",
            catalog_url,
            "--workers",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    sops = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in files}
    with open_catalog(catalog_url) as catalog:
        locations = [
            r.location
            for d in catalog.iter_search("*")
            for r in catalog.instances(str(d["SeriesInstanceUID"]))
        ]
    assert len(locations) == len(sops)
    assert all(loc.startswith(orthanc.http_url + "/dicom-web/studies/") for loc in locations)
    store = open_storage(store_url)
    by_sop = {dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in files}
    for location in locations:
        sop = location.rsplit("/", 1)[1]
        with store.open(location) as handle:
            assert handle.read() == by_sop[sop].read_bytes()


def test_bad_urls_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="names no host"):
        open_storage("dicomweb+http://")
    store = DicomWebStore("http://127.0.0.1:9/dicom-web", timeout=5)
    source = tmp_path / "x.dcm"
    source.write_bytes(b"x")
    with pytest.raises(OSError, match="cannot reach"):
        store.put(str(source), "1", "2", "3")
