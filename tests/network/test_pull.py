"""Pull-ingest from Orthanc over DICOMweb: index in place, a re-run reads only what is new."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from bench.orthanc import running_orthanc
from click.testing import CliRunner
from pydicom import dcmread

from radcurate.catalog import open_catalog
from radcurate.catalog.base import IngestBatch
from radcurate.cli import main
from radcurate.ingest.pipeline import finalize_dirty
from radcurate.network.pull import PullError, pull_ingest
from radcurate.render import render_series
from tests.network.conftest import serving, upload

STAR = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def _by_study(files: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for path in files:
        out.setdefault(dcmread(path, stop_before_pixels=True).StudyInstanceUID, []).append(path)
    return out


def _pull(catalog_url: str, source: str, *query: str) -> dict[str, object]:
    args = ["ingest", source, "--catalog", catalog_url, "--json"]
    for item in query:
        args += ["--query", item]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_pull_indexes_in_place_and_rerun_picks_up_only_new(
    catalog_url: str, archive_files: list[Path], tmp_path: Path
) -> None:
    studies = _by_study(archive_files)
    first, later = sorted(studies)[: len(studies) // 2], sorted(studies)[len(studies) // 2 :]
    with running_orthanc() as pacs:
        source = f"dicomweb+{pacs.http_url}/dicom-web"
        upload(pacs, [p for s in first for p in studies[s]])
        run = _pull(catalog_url, source)["runs"][0]  # type: ignore[index]
        sops = {
            dcmread(p, stop_before_pixels=True).SOPInstanceUID for s in first for p in studies[s]
        }
        assert run["new_instances"] == len(sops)
        with open_catalog(catalog_url) as catalog:
            info = catalog.info()
            assert info.studies == len(first)
            document = next(catalog.iter_search("*"))
            assert document["PatientName"]
            record = catalog.instances(str(document["SeriesInstanceUID"]))[0]
            assert record.location.startswith(pacs.http_url + "/dicom-web/studies/")
            assert not (tmp_path / "store").exists()
        again = _pull(catalog_url, source)["runs"][0]  # type: ignore[index]
        assert again["new_instances"] == 0 and again["series_read"] == 0
        upload(pacs, [p for s in later for p in studies[s]])
        third = _pull(catalog_url, source)["runs"][0]  # type: ignore[index]
        new_sops = {
            dcmread(p, stop_before_pixels=True).SOPInstanceUID for s in later for p in studies[s]
        }
        assert third["new_instances"] == len(new_sops)
        assert third["series_unchanged"] == run["series_seen"]
        with open_catalog(catalog_url) as catalog:
            assert catalog.info().studies == len(studies)
            # radcurate's DICOMweb serves pulled instances by fetching them from the PACS
            with serving(catalog, tmp_path / "home") as live:
                path = next(
                    p
                    for s in later
                    for p in studies[s]
                    if dcmread(p).get("Modality") in ("CT", "MR")
                )
                ds = dcmread(path)
                url = (
                    f"{live.dicomweb}/studies/{ds.StudyInstanceUID}/series/"
                    f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
                )
                answer = httpx.get(url, headers={"Accept": "application/dicom"}, timeout=60)
                assert answer.status_code == 200
                assert answer.content == path.read_bytes()
                # frames and thumbnails come from the PACS too
                frame = httpx.get(
                    url + "/frames/1",
                    headers={"Accept": STAR},
                    timeout=60,
                )
                assert frame.status_code == 200
                series_url = url.rsplit("/instances/", 1)[0]
                thumbnail = httpx.get(series_url + "/thumbnail", timeout=60)
                assert thumbnail.status_code == 200, thumbnail.text
                assert thumbnail.content[:2] == b"\xff\xd8"
                # ... and so do the gallery's thumbnails and the viewer's slices
                api = f"{live.url}/api/series/{ds.SeriesInstanceUID}"
                png = httpx.get(api + "/thumbnail", timeout=60)
                assert png.status_code == 200, png.text
                assert png.content[:4] == b"\x89PNG"
                slice_png = httpx.get(api + "/slice", params={"index": 0}, timeout=60)
                assert slice_png.status_code == 200, slice_png.text
                # a picture, not the "cannot decode" card
                rendering = render_series(catalog, str(ds.SeriesInstanceUID))
                assert not rendering.undecodable, rendering
                metadata = httpx.get(url + "/metadata", timeout=60)
                assert metadata.json()[0]["00080018"]["Value"] == [ds.SOPInstanceUID]


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_pull_with_a_query_takes_only_matching_studies(
    catalog_url: str, archive_files: list[Path]
) -> None:
    with running_orthanc() as pacs:
        upload(pacs, archive_files)
        run = _pull(catalog_url, f"dicomweb+{pacs.http_url}/dicom-web", "ModalitiesInStudy=MR")
    with open_catalog(catalog_url) as catalog:
        studies = {d["StudyInstanceUID"] for d in catalog.iter_search("*")}
        assert studies
        mr = {
            dcmread(p, stop_before_pixels=True).StudyInstanceUID
            for p in archive_files
            if dcmread(p, stop_before_pixels=True).Modality == "MR"
        }
        assert studies == mr
    assert run["runs"][0]["studies"] == len(mr)  # type: ignore[index]


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_unreachable_pacs_is_a_clear_error(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog, pytest.raises(PullError, match="cannot reach"):
        pull_ingest("dicomweb+http://127.0.0.1:9/dicom-web", catalog)
    result = CliRunner().invoke(
        main, ["ingest", "dicomweb+http://127.0.0.1:9/x", "--catalog", catalog_url]
    )
    assert result.exit_code == 1
    assert "cannot reach" in result.output


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_pulled_instances_keep_their_transfer_syntax(catalog_url: str, tmp_path: Path) -> None:
    """Issue 13, finding 8: Orthanc's DICOMweb metadata names no transfer syntax; a pull
    records the stored one (JPEG 2000, RLE), the server labels frames and instances with it,
    and a catalog pulled before (no syntax recorded) is repaired by pulling again."""
    from pydicom.data import get_testdata_file

    files = {
        "1.2.840.10008.1.2.4.90": Path(get_testdata_file("US1_J2KR.dcm")),
        "1.2.840.10008.1.2.5": Path(get_testdata_file("OBXXXX1A_rle.dcm")),
    }
    with running_orthanc() as pacs:
        source = f"dicomweb+{pacs.http_url}/dicom-web"
        upload(pacs, list(files.values()))
        _pull(catalog_url, source)
        with open_catalog(catalog_url) as catalog:
            for syntax, path in files.items():
                ds = dcmread(path, stop_before_pixels=True)
                (record,) = catalog.instances(str(ds.SeriesInstanceUID))
                assert record.transfer_syntax == syntax
            # as a catalog pulled before this fix: no syntax recorded
            for path in files.values():
                uid = str(dcmread(path, stop_before_pixels=True).SeriesInstanceUID)
                (record,) = catalog.instances(uid)
                record.transfer_syntax = None
                batch = IngestBatch(instances=[record])
                catalog.write_batch(batch)
                finalize_dirty(catalog)
                assert catalog.instances(uid)[0].transfer_syntax is None
            with serving(catalog, tmp_path / "home") as live:
                for syntax, path in files.items():  # served with the file's own syntax
                    ds = dcmread(path, stop_before_pixels=True)
                    url = (
                        f"{live.dicomweb}/studies/{ds.StudyInstanceUID}/series/"
                        f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
                    )
                    answer = httpx.get(
                        url, headers={"Accept": 'multipart/related; type="application/dicom"'},
                        timeout=60,
                    )  # fmt: skip
                    assert answer.status_code == 200, answer.text[:200]
                    assert f"transfer-syntax={syntax}" in answer.text[:400]
                    frame = httpx.get(url + "/frames/1", headers={"Accept": STAR}, timeout=60)
                    assert frame.status_code == 200
                    assert f"transfer-syntax={syntax}" in frame.text[:400]
        repaired = _pull(catalog_url, source)["runs"][0]  # type: ignore[index]
        assert repaired["series_read"] == len(files)
        with open_catalog(catalog_url) as catalog:
            for syntax, path in files.items():
                uid = str(dcmread(path, stop_before_pixels=True).SeriesInstanceUID)
                assert catalog.instances(uid)[0].transfer_syntax == syntax
