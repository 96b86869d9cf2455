"""Images whose Study/Series/SOP Instance UIDs were blanked are kept, with derived UIDs.

The real case: TotalSegmentator's 20-slice DICOM CT sample (JPEG 2000) has empty
Study/Series/SOP Instance UIDs, SOP Class UID and PatientID. Ingest takes the SOP UIDs
from the file meta, derives the study and series UIDs deterministically and says so in
``qc.uids_derived``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.dicom.derived_uids import fill_missing_uids
from radcurate.imaging.volume import series_volume
from radcurate.ingest import ingest
from tests.data import shipped_dicom_roots
from tests.reference_data import totalsegmentator_reference

ALL_DERIVED = ["SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"]


@pytest.fixture(scope="module")
def example_ct() -> Path:
    return totalsegmentator_reference() / "example_ct_dicom"


def _only_series(catalog: CatalogBackend) -> str:
    documents = list(catalog.iter_series_documents())
    assert len(documents) == 1
    return str(documents[0]["SeriesInstanceUID"])


def test_blank_uid_series_is_one_series_with_stable_uids(
    catalog_url: str, example_ct: Path, tmp_path: Path
) -> None:
    with open_catalog(catalog_url) as catalog:
        first = ingest([example_ct], catalog, workers=1)
        assert (first.new_instances, first.new_series, first.errors) == (20, 1, 0)
        uid = _only_series(catalog)
        document = catalog.series_document(uid)
        assert document is not None
        assert document["instance_count"] == 20
        assert document["SeriesInstanceUID"] == uid
        assert document["SOPClassUID"] == pydicom.uid.CTImageStorage
        records = catalog.instances(uid)
        assert len({r.study_uid for r in records}) == 1
        assert uid.startswith("2.25.") and records[0].study_uid.startswith("2.25.")
        # SOP Instance UIDs come from each file's meta, not from a hash
        for record in records:
            meta = pydicom.dcmread(record.source, stop_before_pixels=True).file_meta
            assert record.sop_uid == meta.MediaStorageSOPInstanceUID
        qc = catalog.results(uid)["qc"]
        assert (qc["uids_derived"], qc["uids_derived_attributes"]) == (True, ALL_DERIVED)
        # the header QC (also written at ingest) names the UIDs blank in the files
        assert qc["header"]["missing_required"] == ALL_DERIVED
        provenance = catalog.result_store.result_sets(uid)
        assert sorted(s.provenance.producer for s in provenance) == ["ingest", "qc-header"]

        again = ingest([example_ct], catalog, workers=1)
        assert not again.changed_anything
        assert again.unchanged == 20
        assert len(catalog.result_store.result_history(uid)) == 0
        uids = sorted((r.study_uid, r.series_uid, r.sop_uid) for r in records)

    # a fresh catalog (and the process pool) derives the very same UIDs
    with open_catalog(f"sqlite:///{tmp_path / 'second.sqlite'}") as other:
        ingest([example_ct], other, workers=2)
        other_uid = _only_series(other)
        assert other_uid == uid
        assert sorted((r.study_uid, r.series_uid, r.sop_uid) for r in other.instances(uid)) == uids
        assert other.results(uid)["qc"]["uids_derived"] is True


def test_blank_uid_series_decodes_to_its_volume(example_ct: Path, tmp_path: Path) -> None:
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([example_ct], catalog, workers=1)
        volume = series_volume(catalog, _only_series(catalog))
    assert volume.array.shape == (20, 512, 512)
    assert float(volume.array.min()) == -1024.0  # air outside the body, in HU
    assert float(np.percentile(volume.array, 99.9)) > 300  # bone
    assert abs(volume.affine[2, 2]) == pytest.approx(2.0)  # slices sorted by position


def _blanked_copy(source: Path, target: Path, *, instance: int, meta_sop: bool) -> None:
    ds = pydicom.dcmread(source)
    ds.StudyInstanceUID = ""
    ds.SeriesInstanceUID = ""
    ds.SOPInstanceUID = ""
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [0.0, 0.0, float(instance)]
    if not meta_sop:
        del ds.file_meta.MediaStorageSOPInstanceUID
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target, enforce_file_format=False)


def test_without_file_meta_uid_the_sop_uid_is_derived_from_the_bytes(tmp_path: Path) -> None:
    ct = shipped_dicom_roots()[0] / "test_files" / "CT_small.dcm"
    for number in (1, 2):
        _blanked_copy(ct, tmp_path / "a" / f"{number}.dcm", instance=number, meta_sop=False)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        summary = ingest([tmp_path / "a", tmp_path / "b"], catalog, workers=1)
        assert (summary.new_instances, summary.errors) == (4, 0)
        documents = list(catalog.iter_series_documents())
        # the folder is part of a derived series UID: two folders, two series
        assert len(documents) == 2
        a, b = (catalog.instances(str(d["SeriesInstanceUID"])) for d in documents)
        assert len({r.sop_uid for r in a}) == 2
        # the same bytes in another folder: the same SOP Instance UID
        assert {r.sop_uid for r in a} == {r.sop_uid for r in b}
        assert catalog.results(a[0].series_uid)["qc"]["uids_derived_attributes"] == [
            "SOPInstanceUID",
            "SeriesInstanceUID",
            "StudyInstanceUID",
        ]


def test_files_that_are_not_images_still_fail_with_the_reason(tmp_path: Path) -> None:
    ds = pydicom.dcmread(shipped_dicom_roots()[0] / "test_files" / "CT_small.dcm")
    ds.StudyInstanceUID = ""
    del ds.Modality
    target = tmp_path / "in" / "x.dcm"
    target.parent.mkdir()
    ds.save_as(target)
    assert fill_missing_uids(pydicom.dcmread(target), str(target)) == ()
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        summary = ingest([target.parent], catalog, workers=1)
        assert summary.errors == 1
        assert "missing StudyInstanceUID" in catalog.errors()[0].reason


def test_present_uids_are_left_alone() -> None:
    ds = pydicom.dcmread(
        shipped_dicom_roots()[0] / "test_files" / "CT_small.dcm", stop_before_pixels=True
    )
    before = (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert fill_missing_uids(ds, "/nowhere/CT_small.dcm") == ()
    assert (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID) == before
