"""The same export from every catalog engine: SQLite and PostgreSQL give the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from radcurate.catalog import open_catalog
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.splits import parse_split
from tests.export.conftest import fill


@pytest.mark.postgres
def test_postgresql_and_sqlite_exports_are_byte_identical(
    demo_root: Path, fresh_pg_url: str, tmp_path: Path
) -> None:
    spec = parse_split("train=0.5,test=0.5")
    outs = []
    for n, url in enumerate((f"sqlite:///{tmp_path / 'c.sqlite'}", fresh_pg_url)):
        with open_catalog(url) as catalog:
            fill(catalog, demo_root)
            out = tmp_path / f"out{n}"
            report = export_dataset(catalog, ExportOptions("labelled", "nnunet", out, spec))
            assert report.exported == 2 and report.failed == 0
            outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*") if p.is_file())
    for name in files:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
