"""Thumbnails after ingest (CLI hook), as a job; a series that grows gets a new thumbnail."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from pydicom.uid import generate_uid

from radcurate.catalog import open_catalog
from radcurate.cli import main
from radcurate.render.cache import ThumbnailCache
from tests.jobs.conftest import write_ct_series


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_ingest_renders_thumbnails_and_a_grown_series_gets_a_new_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"RADCURATE_HOME": str(home), "RADCURATE_CATALOG": ""}
    uid = generate_uid(entropy_srcs=["jobs-grow"])
    folder = tmp_path / "dicom"
    write_ct_series(folder, uid, range(0, 6))
    other = generate_uid(entropy_srcs=["jobs-other"])
    write_ct_series(tmp_path / "dicom2", other, range(0, 3), study_uid="1.2.826.0.1.99.2")

    code, out = _run(
        env, "ingest", "--json", "--workers", "1", str(folder), str(tmp_path / "dicom2")
    )
    assert code == 0, out
    body = json.loads(out)
    assert body["thumbnails"]["generated"] == 2 and body["thumbnails"]["failed"] == 0
    cache = ThumbnailCache(home / "thumbnails")
    catalog_url = f"sqlite:///{home / 'catalog.sqlite'}"
    with open_catalog(catalog_url) as catalog:
        first = cache.lookup(catalog, uid)
        assert first is not None and first.read_bytes().startswith(b"\x89PNG")
        assert cache.lookup(catalog, other) is not None
        (job,) = catalog.jobs(kind="thumbnails")
        assert (job.state, job.done, job.total) == ("done", 2, 2)
        assert job.params["trigger"] == "radcurate ingest"

    # the same ingest again: nothing new to render
    code, out = _run(env, "ingest", "--json", "--workers", "1", str(folder))
    assert code == 0, out
    assert json.loads(out)["thumbnails"]["generated"] == 0

    # the series grows: a new content key, a new thumbnail; the other series is untouched
    write_ct_series(folder, uid, range(6, 12))
    code, out = _run(env, "ingest", "--json", "--workers", "2", str(folder))
    assert code == 0, out
    counts = json.loads(out)["thumbnails"]
    assert (counts["generated"], counts["cached"]) == (1, 1)
    with open_catalog(catalog_url) as catalog:
        second = cache.lookup(catalog, uid)
        assert second is not None and second != first
        assert len(catalog.instances(uid)) == 12
        assert json.loads(second.with_suffix(".json").read_text())["series_uid"] == uid
        assert len(catalog.jobs(kind="thumbnails")) == 3

    code, out = _run(env, "jobs", "--json")
    assert code == 0, out
    items = json.loads(out)["items"]
    assert [i["state"] for i in items] == ["done"] * 3
    code, out = _run(env, "jobs")
    assert code == 0 and "thumbnails" in out and "done" in out


def test_no_thumbnails_flag(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"RADCURATE_HOME": str(home), "RADCURATE_CATALOG": ""}
    folder = tmp_path / "dicom"
    write_ct_series(folder, generate_uid(entropy_srcs=["jobs-skip"]), range(0, 2))
    code, out = _run(env, "ingest", "--json", "--no-thumbnails", str(folder))
    assert code == 0, out
    assert json.loads(out)["thumbnails"] is None
    assert not (home / "thumbnails").exists()
    code, out = _run(env, "jobs", "--json")
    assert json.loads(out) == {"items": []}
    code, out = _run(env, "jobs", "0123")
    assert code == 1 and "no job 0123" in out
