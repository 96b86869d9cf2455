"""Re-ingesting changed files keeps tags, dataset memberships, ai/qc results and frozen versions."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydicom

from radcurate.catalog import open_catalog
from radcurate.catalog.curation import Selection
from radcurate.ingest import ingest
from tests.data import shipped_dicom_roots

SERIES = shipped_dicom_roots()[0] / "test_files" / "dicomdirtests" / "77654033"


def test_reingest_of_changed_files_keeps_curation(catalog_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SERIES, folder)
    with open_catalog(catalog_url) as catalog:
        ingest([folder], catalog, workers=1)
        uids = sorted(d["SeriesInstanceUID"] for d in catalog.iter_series_documents())
        assert uids
        everything = Selection.of("*")
        catalog.tag_series("keep-me", everything)
        catalog.create_dataset("cohort")
        catalog.add_to_dataset("cohort", everything)
        catalog.set_results(uids[0], "ai", {"bodypart": "head"})
        catalog.set_results(uids[0], "qc", {"noise": 3.5})
        v1 = catalog.freeze_dataset("cohort")
        members_v1 = catalog.version_members("cohort", 1)

        # change every file: a new description, and a new SOP Instance UID for one of them
        sources = sorted(r.source for u in uids for r in catalog.instances(u))
        for n, source in enumerate(sources):
            ds = pydicom.dcmread(source)
            ds.SeriesDescription = "renamed at the scanner"
            if n == 0:
                ds.SOPInstanceUID = ds.SOPInstanceUID + ".9"
            ds.save_as(source)
            os.utime(source, ns=(1, 2 + n))
        summary = ingest([folder], catalog, workers=1)
        assert summary.changed_instances == len(sources)

        for u in uids:
            document = catalog.series_document(u)
            assert document is not None
            assert document["SeriesDescription"] == "renamed at the scanner"
        assert set(catalog.series_uids("tag:keep-me dataset:cohort")) == set(uids)
        assert catalog.curation_of(uids)[uids[0]] == {"tags": ["keep-me"], "datasets": ["cohort"]}
        kept = catalog.results(uids[0])  # beside the header checks ingest writes again
        assert (kept["ai"], kept["qc"]["noise"], kept["clin"]) == ({"bodypart": "head"}, 3.5, {})
        assert catalog.count("SeriesDescription:renamed* tag:keep-me") == len(uids)
        # the frozen version still names the SOP UIDs it was frozen with
        assert catalog.version_members("cohort", 1) == members_v1
        assert catalog.dataset_version("cohort", 1).content_hash == v1.content_hash
        # freezing now sees the new SOP UID: a new version with another hash
        v2 = catalog.freeze_dataset("cohort")
        assert v2.version == 2 and v2.content_hash != v1.content_hash
        assert catalog.diff_dataset_versions("cohort", 1, 2) == ([], [])
