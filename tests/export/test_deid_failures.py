"""A de-identified copy whose series fails writes no original UID: not as the series UID of
its error, not inside the reason (a stored file's path names the study, series and SOP)."""

from __future__ import annotations

import json
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file

from radcurate.catalog import open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.export.deid import DeidOptions
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.splits import parse_split
from radcurate.ingest import ingest


def test_failed_series_names_only_replacement_uids(tmp_path: Path) -> None:
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    ds = dcmread(source)
    originals = {str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ct.dcm").write_bytes(Path(source).read_bytes())
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        # copied into a store whose paths are <StudyUID>/<SeriesUID>/<SOPUID>.dcm
        ingest([tmp_path / "in"], catalog, workers=1, store_url=(tmp_path / "store").as_uri())
        catalog.create_dataset("d")
        catalog.add_to_dataset("d", Selection(query="*"))
        stored = [p for p in (tmp_path / "store").rglob("*.dcm")]
        assert len(stored) == 1 and str(ds.SeriesInstanceUID) in str(stored[0])
        stored[0].unlink()  # the copy fails: the file is gone
        options = ExportOptions("d", "dicom", tmp_path / "out", parse_split("train=1.0"),
                                deid=DeidOptions(key=b"failure-key-1"))  # fmt: skip
        report = export_dataset(catalog, options)
    assert report.failed == 1
    written = (tmp_path / "out" / "export.json").read_text()
    written += (tmp_path / "out" / "manifest.csv").read_text()
    errors = json.loads((tmp_path / "out" / "export.json").read_text())["errors"]
    assert errors and "FileNotFoundError" in errors[0][1]
    for uid in originals:
        assert uid not in written, "an original UID is in the export"
    assert errors[0][0] not in originals and errors[0][0] in errors[0][1]
