"""DICOMweb served by radcurate, driven by the dicomweb-client package (what viewers use)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames

from tests.network.conftest import LiveServer

STAR = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def _headers(files: list[Path]) -> list[Any]:
    return [dcmread(p, stop_before_pixels=True) for p in files]


def _value(item: dict[str, Any], tag: str) -> Any:
    element = item.get(tag, {})
    values = element.get("Value", [])
    return values[0] if values else None


def test_study_search_counts_and_computed_attributes(
    served: LiveServer, archive_files: list[Path]
) -> None:
    client = DICOMwebClient(served.dicomweb)
    headers = _headers(archive_files)
    studies = client.search_for_studies()
    expected = defaultdict(list)
    for ds in headers:
        expected[ds.StudyInstanceUID].append(ds)
    assert {_value(s, "0020000D") for s in studies} == set(expected)
    for study in studies:
        members = expected[_value(study, "0020000D")]
        assert _value(study, "00201208") == len({d.SOPInstanceUID for d in members})
        assert _value(study, "00201206") == len({d.SeriesInstanceUID for d in members})
        assert study["00080061"]["Value"] == sorted({d.Modality for d in members})


def test_ohif_study_list_query(served: LiveServer, archive_files: list[Path]) -> None:
    headers = _headers(archive_files)
    ct = next(d for d in headers if d.Modality == "CT")
    fragment = str(ct.PatientName).split("^")[0][1:4].lower()
    params = {
        "PatientName": f"*{fragment}*",
        "00100020": f"*{str(ct.PatientID)[2:6]}*",
        "StudyDate": f"{int(ct.StudyDate[:4]) - 1}0101-{int(ct.StudyDate[:4]) + 1}1231",
        "ModalitiesInStudy": "CT",
        "limit": "101",
        "offset": "0",
        "fuzzymatching": "false",
        "includefield": "00081030,00080060",
    }
    answer = httpx.get(served.dicomweb + "/studies", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/dicom+json")
    found = {_value(s, "0020000D") for s in answer.json()}
    low, high = params["StudyDate"].split("-")
    wanted = {
        d.StudyInstanceUID
        for d in headers
        if fragment in str(d.PatientName).lower()
        and str(ct.PatientID)[2:6] in str(d.PatientID)
        and low <= d.StudyDate <= high
        and any(o.Modality == "CT" and o.StudyInstanceUID == d.StudyInstanceUID for o in headers)
    }
    assert ct.StudyInstanceUID in found
    assert found == wanted
    for study in answer.json():
        assert "00081030" in study


def test_uid_lists_limit_offset_and_wildcards(served: LiveServer) -> None:
    client = DICOMwebClient(served.dicomweb)
    every = client.search_for_studies()
    uids = sorted(_value(s, "0020000D") for s in every)
    two = client.search_for_studies(search_filters={"StudyInstanceUID": "\\".join(uids[:2])})
    assert sorted(_value(s, "0020000D") for s in two) == uids[:2]
    first = client.search_for_studies(limit=2, offset=0)
    second = client.search_for_studies(limit=2, offset=2)
    assert len(first) == 2
    assert not {_value(s, "0020000D") for s in first} & {_value(s, "0020000D") for s in second}
    assert client.search_for_studies(search_filters={"PatientID": "no-such-*"}) == []
    everything = client.search_for_studies(fields=["all"], limit=1)
    assert "00081030" in everything[0] or "00100010" in everything[0]


def test_series_instances_metadata_frames_and_retrieve(
    served: LiveServer, archive_files: list[Path]
) -> None:
    client = DICOMwebClient(served.dicomweb)
    by_sop = {dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in archive_files}
    study = _value(
        client.search_for_studies(search_filters={"ModalitiesInStudy": "CT"})[0], "0020000D"
    )
    series = client.search_for_series(study)
    ct = next(s for s in series if _value(s, "00080060") == "CT")
    series_uid = _value(ct, "0020000E")
    instances = client.search_for_instances(study, series_uid)
    assert len(instances) == _value(ct, "00201209")
    metadata = client.retrieve_series_metadata(study, series_uid)
    assert len(metadata) == len(instances)
    sop = _value(instances[0], "00080018")
    path = by_sop[sop]
    original = dcmread(path)
    frame = client.retrieve_instance_frames(
        study, series_uid, sop, [1], media_types=(("application/octet-stream", "*"),)
    )[0]
    if original.file_meta.TransferSyntaxUID.is_compressed:
        assert frame == next(generate_frames(original.PixelData, number_of_frames=1))
    else:
        assert frame == original.PixelData[: len(frame)]
    retrieved = client.retrieve_instance(study, series_uid, sop)
    assert retrieved.SOPInstanceUID == sop
    assert retrieved.PixelData == original.PixelData
    raw = httpx.get(
        f"{served.dicomweb}/studies/{study}/series/{series_uid}/instances/{sop}",
        headers={"Accept": 'multipart/related; type="application/dicom"'},
    )
    assert path.read_bytes() in raw.content


def test_frames_of_compressed_instances_as_stored_and_decoded(
    served: LiveServer, archive_files: list[Path]
) -> None:
    compressed = [
        p
        for p in archive_files
        if dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID.is_compressed
    ]
    if not compressed:
        pytest.skip("the demo archive has no compressed instance")
    path = compressed[0]
    ds = dcmread(path)
    url = (
        f"{served.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/1"
    )
    stored = httpx.get(url, headers={"Accept": STAR})
    assert stored.status_code == 200
    assert f"transfer-syntax={ds.file_meta.TransferSyntaxUID}" in stored.text[:400]
    decoded = httpx.get(
        url, headers={"Accept": 'multipart/related; type="application/octet-stream"'}
    )
    assert decoded.status_code == 200
    assert "transfer-syntax=1.2.840.10008.1.2.1" in decoded.text[:400]
    frame_bytes = (
        ds.pixel_array[0].nbytes if int(ds.get("NumberOfFrames", 1)) > 1 else ds.pixel_array.nbytes
    )
    assert len(decoded.content) > frame_bytes


def test_seg_metadata_references_its_series(served: LiveServer) -> None:
    client = DICOMwebClient(served.dicomweb)
    segs = client.search_for_series(search_filters={"Modality": "SEG"})
    if not segs:
        pytest.skip("no SEG in the archive")
    study, series = _value(segs[0], "0020000D"), _value(segs[0], "0020000E")
    metadata = client.retrieve_series_metadata(study, series)
    assert "00081115" in metadata[0]
    referenced = metadata[0]["00081115"]["Value"][0]["0020000E"]["Value"][0]
    assert client.search_for_series(search_filters={"SeriesInstanceUID": referenced})
    instance = _value(client.search_for_instances(study, series)[0], "00080018")
    assert client.retrieve_instance(study, series, instance).Modality == "SEG"


def test_rendered_and_thumbnails(served: LiveServer) -> None:
    client = DICOMwebClient(served.dicomweb)
    ct = client.search_for_series(search_filters={"Modality": "CT"})[0]
    study, series = _value(ct, "0020000D"), _value(ct, "0020000E")
    sop = _value(client.search_for_instances(study, series)[0], "00080018")
    base = f"{served.dicomweb}/studies/{study}/series/{series}"
    jpeg = httpx.get(f"{base}/instances/{sop}/rendered")
    assert jpeg.status_code == 200 and jpeg.content[:2] == b"\xff\xd8"
    png = httpx.get(f"{base}/instances/{sop}/frames/1/rendered", headers={"Accept": "image/png"})
    assert png.content[:4] == b"\x89PNG"
    assert httpx.get(f"{base}/thumbnail").content[:2] == b"\xff\xd8"


def test_stow_ingests_and_is_idempotent(served: LiveServer) -> None:
    client = DICOMwebClient(served.dicomweb)
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    before = served.catalog.info().instances
    answer = client.store_instances([ds])
    assert answer.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    found = client.search_for_instances(ds.StudyInstanceUID, ds.SeriesInstanceUID)
    assert [_value(i, "00080018") for i in found] == [ds.SOPInstanceUID]
    client.store_instances([ds])
    assert served.catalog.info().instances == before + 1
    assert (
        client.retrieve_instance(
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
        ).PixelData
        == ds.PixelData
    )


def test_bad_requests_are_clear_errors(served: LiveServer) -> None:
    base = served.dicomweb
    bad_date = httpx.get(base + "/studies", params={"StudyDate": "2019-13-45x"})
    assert bad_date.status_code == 400 and "StudyDate" in bad_date.json()["error"]["message"]
    assert httpx.get(base + "/studies", params={"NotAKeyword": "x"}).status_code == 400
    assert httpx.get(base + "/studies", params={"limit": "-1"}).status_code == 400
    assert httpx.get(base + "/studies/1.2.3/series/4.5.6/metadata").status_code == 404
    assert httpx.get(base + "/studies/1.2.3").status_code == 404
    xml = httpx.get(base + "/studies", headers={"Accept": "application/dicom+xml"})
    assert xml.status_code == 406
    wrong = httpx.post(
        base + "/studies", content=b"x", headers={"Content-Type": "application/json"}
    )
    assert wrong.status_code == 415
    garbage = httpx.post(
        base + "/studies",
        content=b"--B\r\nContent-Type: application/dicom\r\n\r\nnot dicom\r\n--B--",
        headers={"Content-Type": 'multipart/related; type="application/dicom"; boundary=B'},
    )
    assert garbage.status_code == 409
    assert garbage.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xC000]


def test_jls_frames_of_a_native_instance_are_not_acceptable(served: LiveServer) -> None:
    client = DICOMwebClient(served.dicomweb)
    ct = client.search_for_series(search_filters={"Modality": "MR"})[0]
    study, series = _value(ct, "0020000D"), _value(ct, "0020000E")
    sop = _value(client.search_for_instances(study, series)[0], "00080018")
    answer = httpx.get(
        f"{served.dicomweb}/studies/{study}/series/{series}/instances/{sop}/frames/1",
        headers={"Accept": 'multipart/related; type="image/jls"'},
    )
    assert answer.status_code in (200, 406)
    if answer.status_code == 406:
        assert "transfer-syntax" in answer.json()["error"]["message"]


def test_cors_for_a_viewer_on_another_origin(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from radcurate.catalog import open_catalog
    from radcurate.server import ServerSettings, create_app

    settings = ServerSettings(home=tmp_path, cors_origins=("http://localhost:3000",))
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        app = create_app(settings, catalog)
        with TestClient(app) as client:
            preflight = client.options(
                "/dicomweb/studies",
                headers={
                    "Origin": "http://localhost:3000",
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "accept",
                },
            )
            assert preflight.status_code == 200
            answer = client.get("/dicomweb/studies", headers={"Origin": "http://localhost:3000"})
            assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
            assert answer.json() == []
            other = client.get("/dicomweb/studies", headers={"Origin": "http://evil.example"})
            assert "access-control-allow-origin" not in other.headers


def test_several_frames_of_a_multiframe_instance(
    served: LiveServer, archive_files: list[Path]
) -> None:
    from dicomweb_client.api import DICOMwebClient

    multi = [
        p
        for p in archive_files
        if int(dcmread(p, stop_before_pixels=True).get("NumberOfFrames", 1) or 1) > 2
    ]
    if not multi:
        pytest.skip("no multi-frame instance in the archive")
    ds = dcmread(multi[0])
    client = DICOMwebClient(served.dicomweb)
    got = client.retrieve_instance_frames(
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
        [1, 3],
        media_types=(("application/octet-stream", "*"),),
    )
    count = int(ds.NumberOfFrames)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        frames = list(generate_frames(ds.PixelData, number_of_frames=count))
        assert got == [frames[0], frames[2]]
    else:
        size = len(ds.PixelData) // count
        assert got == [ds.PixelData[:size], ds.PixelData[2 * size : 3 * size]]
    missing = httpx.get(
        f"{served.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/{count + 1}",
        headers={"Accept": STAR},
    )
    assert missing.status_code == 404


def test_bulk_data_by_uri(served: LiveServer) -> None:
    client = DICOMwebClient(served.dicomweb)
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    client.store_instances([ds])
    url = (
        f"{served.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/metadata"
    )
    metadata = httpx.get(url).json()[0]
    private = metadata["00431029"]
    assert "BulkDataURI" in private and "InlineBinary" not in private
    assert metadata["7FE00010"]["BulkDataURI"].endswith("/frames/1")
    answer = httpx.get(private["BulkDataURI"])
    assert answer.status_code == 200
    assert bytes(ds[0x00431029].value) in answer.content
    assert httpx.get(private["BulkDataURI"].replace("00431029", "00431099")).status_code == 404


def test_stow_into_a_store_that_cannot_take_it(served: LiveServer, tmp_path: Path) -> None:
    ds_bytes = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    body = b"--B\r\nContent-Type: application/dicom\r\n\r\n" + ds_bytes + b"\r\n--B--"
    headers = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=B'}
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = served.catalog.info().instances
    served.app.state.store_url = f"file://{blocker}/store"
    answer = httpx.post(served.dicomweb + "/studies", content=body, headers=headers)
    assert answer.status_code == 507, answer.text
    served.app.state.store_url = "ftp://nowhere/x"
    answer = httpx.post(served.dicomweb + "/studies", content=body, headers=headers)
    assert answer.status_code == 501
    assert "ftp" in answer.json()["error"]["message"]
    assert served.catalog.info().instances == before  # nothing half-written


def test_a_vanished_file_is_a_502_not_a_crash(
    served: LiveServer, archive_files: list[Path]
) -> None:
    client = DICOMwebClient(served.dicomweb)
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    client.store_instances([ds])
    stored = next(served.store.rglob(f"{ds.SOPInstanceUID}.dcm"))
    stored.unlink()
    base = (
        f"{served.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )
    for path, accept in (
        ("", 'multipart/related; type="application/dicom"'),
        ("/metadata", "application/dicom+json"),
        ("/frames/1", STAR),
        ("/rendered", "image/jpeg"),
    ):
        answer = httpx.get(base + path, headers={"Accept": accept})
        assert answer.status_code == 502, (path, answer.status_code, answer.text[:200])
        assert answer.json()["error"]["code"] == "unreadable_instance"
        # auth off: the local user is an admin and sees the path (a viewer sees the file
        # name only: tests/server/test_no_paths.py, issue 18)
        assert path == "/rendered" or str(served.store) in answer.text
    # a series of several instances: checked before it streams, not a 200 cut short
    second = dcmread(get_testdata_file("CT_small.dcm"))
    second.SOPInstanceUID = second.SOPInstanceUID + ".2"
    client.store_instances([second])
    series_url = base.rsplit("/instances/", 1)[0]
    answer = httpx.get(
        series_url, headers={"Accept": 'multipart/related; type="application/dicom"'}
    )
    assert answer.status_code == 502 and "ingest its folder again" in answer.text
