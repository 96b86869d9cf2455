"""manifest.parquet holds the same strings as manifest.csv, whatever the values, and writing
it does not import pandas (a fixed 0.3-0.7 s of every export process)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from radcurate.export.manifest import write_manifest

ROWS = [
    {"case": "case_0001", "split": "train", "SeriesDescription": 'T2 "axial", fat-sat',
     "note": "line one\nline two", "n": 3, "x": 0.1, "flag": True, "tags": ["a", "b"]},
    {"case": "case_0002", "split": "", "SeriesDescription": "Thorax 1,0 B31f ÄÖ 胸部",
     "note": None, "n": -1, "x": 1e-12, "flag": False, "tags": []},
    {"case": "case_0003", "split": "test", "SeriesDescription": "  leading/trailing  ",
     "note": "", "n": 0, "x": float("nan"), "flag": None, "tags": {"k": 1}},
]  # fmt: skip
COLUMNS = ["case", "split", "SeriesDescription", "note", "n", "x", "flag", "tags", "missing"]


def test_parquet_equals_csv(tmp_path: Path) -> None:
    assert write_manifest(ROWS, COLUMNS, tmp_path) == []
    with (tmp_path / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    table = pq.read_table(tmp_path / "manifest.parquet")
    assert table.column_names == COLUMNS == rows[0]
    assert [list(r) for r in zip(*table.to_pydict().values(), strict=True)] == rows[1:]
    assert rows[1][3] == "line one\nline two" and rows[2][2].endswith("胸部")
    assert all(t == "string" for t in map(str, table.schema.types))


def test_writing_the_manifest_does_not_import_pandas(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from radcurate.export.manifest import write_manifest\n"
        f"write_manifest([{{'a': 'x,y', 'b': 1}}], ['a', 'b'], Path({str(tmp_path)!r}))\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert pq.read_table(tmp_path / "manifest.parquet").to_pydict() == {"a": ["x,y"], "b": ["1"]}
