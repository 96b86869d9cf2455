"""Segment names from nnU-Net dataset.json and seg_info.json-style tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from radcurate.ingest.nifti_dicom import NiftiError
from radcurate.ingest.nifti_import import import_nifti
from radcurate.ingest.nifti_seg import label_table
from tests.nifti_import.helpers import ct_like, save


@pytest.mark.parametrize(
    "document",
    [
        {"labels": {"background": 0, "liver": 1, "spleen": 2}},
        {"labels": {"background": 0, "liver": [1], "spleen": [2, 1]}},
        {"1": "liver", "2": "spleen"},
        {"liver": 1, "spleen": 2},
        [{"value": 1, "name": "liver"}, {"label": 2, "name": "spleen"}],
        {"segments": [{"labelID": 1, "segment_label": "liver"}, {"value": 2, "name": "spleen"}]},
    ],
)
def test_accepted_forms(document: object) -> None:
    assert label_table(document) == {1: "liver", 2: "spleen"}


@pytest.mark.parametrize("document", ["liver", 3, [1, 2], {"liver": "one"}])
def test_other_documents_are_refused(document: object) -> None:
    with pytest.raises(NiftiError, match="label table not understood"):
        label_table(document)


def test_labels_option_names_the_segments(tmp_path: Path) -> None:
    labels = np.zeros((12, 10, 6), np.uint8)
    labels[1:3, 1:3, 1:3] = 3
    labels[5:9, 5:9, 2:5] = 7
    save(tmp_path / "in" / "vol.nii.gz", ct_like(), np.eye(4))
    save(tmp_path / "in" / "vol_mask.nii.gz", labels, np.eye(4))
    (tmp_path / "in" / "seg_info.json").write_text(json.dumps({"3": "from the folder"}))
    table = tmp_path / "dataset.json"
    table.write_text(json.dumps({"labels": {"background": 0, "kidney": 3, "tumour": 7}}))
    summary = import_nifti(tmp_path / "in", None, tmp_path / "out", labels=table)
    assert summary.segments == {"vol/vol_mask": {"kidney": 8, "tumour": 48}}
    seg = pydicom.dcmread(tmp_path / "out" / "in" / "vol" / "seg_vol_mask.dcm")
    names = [(s.SegmentNumber, s.SegmentLabel, s.TrackingID) for s in seg.SegmentSequence]
    assert names == [(1, "kidney", "label=3"), (2, "tumour", "label=7")]
    # without --labels the folder's table names value 3; value 7 has no name
    again = import_nifti(tmp_path / "in", None, tmp_path / "out2")
    assert again.segments == {"vol/vol_mask": {"from the folder": 8, "label 7": 48}}
