"""End to end through the clinical import: a diagnosis column of a clinical table that goes
with one site's scanner is flagged; a random column of the same table is not."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from click.testing import CliRunner

from radcurate.catalog import open_catalog
from radcurate.catalog.sql import SQLCatalog
from radcurate.cli import main
from tests.bias.conftest import documents


def test_clinical_table_shortcut_is_flagged(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    docs = documents(900)
    with open_catalog(url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(docs)
    rng = random.Random(3)
    table = tmp_path / "trial.csv"
    with table.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["SeriesInstanceUID", "diagnosis", "coin"])
        for doc in docs:
            at_a = doc["InstitutionName"] == "Site A"
            sick = rng.random() < (0.95 if at_a else 0.05)
            writer.writerow([doc["SeriesInstanceUID"], "cancer" if sick else "normal",
                             rng.choice(["heads", "tails"])])  # fmt: skip
    env = {"RADCURATE_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    imported = runner.invoke(main, ["clinical", "import", str(table), "--key", "SeriesInstanceUID",
                                    "--name", "trial", "--catalog", url], env=env)  # fmt: skip
    assert imported.exit_code == 0, imported.output
    attributes = "Manufacturer,ManufacturerModelName,ConvolutionKernel,InstitutionName,KVP"
    for target, flagged in (("clin.trial.diagnosis", True), ("clin.trial.coin", False)):
        result = runner.invoke(main, ["bias", "*", "--target", target, "-a", attributes,
                                      "--json", "--catalog", url], env=env)  # fmt: skip
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        pairs = {p["attribute"]: p for p in report["associations"]}
        assert report["counts"]["series"] == 900 and report["target"]["missing"] == 0
        if flagged:
            site = pairs["InstitutionName"]
            assert site["cramers_v"] >= 0.5 and site["p"] < 0.001 and site["flag"]
            assert report["flags"] == attributes.split(",")[:4]
        else:
            assert all(p["cramers_v"] < 0.1 for p in pairs.values())
            assert report["flags"] == []
