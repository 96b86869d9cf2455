"""``radcurate ingest --annotate``: the annotate workflow (each annotator where it applies)
runs after the ingest, and a second ingest changes nothing and annotates nothing again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from radcurate.catalog import open_catalog
from radcurate.cli import main
from radcurate.demo.archive import DemoManifest


@pytest.mark.slow
def test_ingest_annotate_writes_each_annotators_results(
    demo_archive: DemoManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RADCURATE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    args = ["ingest", str(demo_archive.root), "--catalog", url, "--in-place"]
    args += ["--no-thumbnails", "--annotate", "--json"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code in (0, 1), first.output
    annotation = json.loads(first.output[first.output.index("{") :])["annotation"]
    assert annotation["state"] == "done" and annotation["processed"] > 0
    with open_catalog(url) as catalog:
        # every CT has a body part, or a per-series reason in the job (the demo's localizer
        # and deliberately broken series are refused, not skipped silently)
        without = set(catalog.series_uids("Modality:CT -has:ai.bodypart"))
        assert catalog.count("has:ai.bodypart") > 0
        _, errors = catalog.job_errors(annotation["job"], limit=1000)
        assert without <= {uid for uid, _ in errors}
        assert catalog.count("has:ai.structures") >= 1
        producers = {
            s.provenance.producer
            for uid in catalog.series_uids("Modality:CT")
            for s in catalog.result_store.result_sets(uid)
        }
        assert {"annotate-bodypart", "annotate-ct-masks"} <= producers
    second = CliRunner().invoke(main, args)
    again = json.loads(second.output[second.output.index("{") :])["annotation"]
    assert again["processed"] == 0 and again["skipped"] > 0
