"""Dataset shift between selections (queries, dataset versions, stored selections), patient
overlap, reference populations, and the index's cross-tabulation on both engines."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from radcurate.analyze.bias_compare import (
    against_reference,
    compare,
    read_reference,
    resolve_selection,
)
from radcurate.analyze.bias_report import BiasInputError
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.catalog.sql import SQLCatalog
from radcurate.query import parse
from tests.bias.conftest import documents, fill


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["field"]: e for e in result["attributes"]}


def test_cross_tabulate_on_both_engines(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        docs = fill(catalog, 300)
        assert isinstance(catalog, SQLCatalog)
        tab = catalog.cross_tabulate(
            ["KVP:<140", "InstitutionName:\"Site B\""], ["Manufacturer", "KVP", "PatientSex"],
            target="clin.trial.dx", numbers=True,
        )  # fmt: skip
        first = [d for d in docs if d["KVP"] < 140]
        second = [d for d in docs if d["InstitutionName"] == "Site B"]
        assert [c["series"] for c in tab.counts] == [len(first), len(second)]
        assert tab.overlap is not None
        assert tab.overlap["series"] == len([d for d in first if d in second])
        patients = {d["PatientID"] for d in first} & {d["PatientID"] for d in second}
        assert tab.overlap["patients"] == len(patients)
        sexes = tab.groupings["PatientSex"]
        counts, missing = tab.tallies["PatientSex"][1]
        assert missing == sum(1 for d in second if "PatientSex" not in d)
        found = {sexes.labels[i]: int(n) for i, n in enumerate(counts) if n}
        assert found == Counter(d["PatientSex"] for d in second if "PatientSex" in d)
        assert tab.numbers is not None
        values, per = tab.numbers["KVP"]
        pairs = zip(values.tolist(), per[0].tolist(), strict=True)
        assert {value: n for value, n in pairs if n} == Counter(float(d["KVP"]) for d in first)
        assert tab.tables is not None and tab.target is not None
        _, _, cells = tab.tables["Manufacturer"]
        assert int(cells.sum()) == len(first)  # every series has a diagnosis


def test_two_dataset_versions_and_leakage(planted: CatalogBackend) -> None:
    planted.create_dataset("train")
    planted.add_to_dataset("train", Selection.of('InstitutionName:("Site A" OR "Site B")'))
    planted.freeze_dataset("train")
    planted.create_dataset("test")
    planted.add_to_dataset("test", Selection.of('InstitutionName:"Site C"'))
    planted.freeze_dataset("test")
    check = lambda text: parse(text)  # noqa: E731
    label_a, a = resolve_selection(planted, "dataset:train@1", check)
    label_b, b = resolve_selection(planted, "dataset:test@1", check)
    result = compare(planted, a, b, ["Manufacturer", "KVP", "age_years", "StationName"],
                     labels=(label_a, label_b))  # fmt: skip
    assert result["a"]["selection"] == "dataset:train@1" and result["a"]["series"] == 1000
    assert result["b"]["series"] == 500
    # patients P{i // 6} span every site: every test patient is also in train
    assert result["overlap"]["leakage"] is True
    assert result["overlap"]["patients"] == result["b"]["patients"]
    assert result["overlap"]["series"] == 0
    rows = _rows(result)
    makers = rows["Manufacturer"]
    assert makers["js_distance"] == pytest.approx(1.0)  # disjoint scanners
    assert makers["p"] < 1e-100
    counts_a = np.asarray([g["count_a"] for g in makers["groups"]])
    counts_b = np.asarray([g["count_b"] for g in makers["groups"]])
    assert makers["js_distance"] == pytest.approx(jensenshannon(counts_a, counts_b, base=2))
    assert rows["KVP"]["js_distance"] < 0.1 and rows["KVP"]["ks"] < 0.1
    docs = documents()
    ages = [[d["age_years"] for d in docs if d["InstitutionName"] in sites]
            for sites in (("Site A", "Site B"), ("Site C",))]  # fmt: skip
    reference = stats.ks_2samp(*ages, method="asymp")
    assert rows["age_years"]["ks"] == pytest.approx(reference.statistic, abs=1e-12)
    assert rows["age_years"]["ks_p"] == pytest.approx(reference.pvalue, abs=1e-9)
    assert rows["StationName"]["computable"] is False


def test_stored_selection_and_bad_selections(planted: CatalogBackend) -> None:
    stored = planted.create_selection(Selection.of("KVP:100"))
    label, found = resolve_selection(planted, f"selection:{stored.id}", parse)
    assert isinstance(found, frozenset)
    assert label == f"selection:{stored.id}" and len(found) == planted.count("KVP:100")
    result = compare(planted, found, parse("KVP:140"), ["KVP"])
    assert _rows(result)["KVP"]["js_distance"] == pytest.approx(1.0)
    with pytest.raises(BiasInputError, match="no dataset 'nope'"):
        resolve_selection(planted, "dataset:nope@1", parse)
    planted.create_dataset("empty")
    with pytest.raises(BiasInputError, match="no version 3"):
        resolve_selection(planted, "dataset:empty@3", parse)
    with pytest.raises(BiasInputError):
        resolve_selection(planted, "selection:0123", parse)
    nothing = compare(planted, parse("Modality:MR"), parse("*"), ["KVP"])
    assert nothing["problems"] == ["selection A has no series"]
    assert _rows(nothing)["KVP"]["reason"] == "no values in one of the selections"


def test_reference_population(planted: CatalogBackend) -> None:
    text = ("field,value,proportion\nage_years,18-49,0.5\nage_years,50+,0.5\n"
            "PatientSex,m,0.5\nPatientSex,F,0.5\nInstitutionName,Site A,1\n")  # fmt: skip
    found = {e["field"]: e for e in against_reference(planted, parse("*"), read_reference(text))}
    docs = documents()
    ages = found["age_years"]
    young = sum(1 for d in docs if d["age_years"] < 50)
    assert [c["count"] for c in ages["categories"]] == [young, len(docs) - young]
    expected = jensenshannon([young, len(docs) - young], [0.5, 0.5], base=2)
    assert ages["js_distance"] == pytest.approx(expected, abs=1e-12)
    sex = found["PatientSex"]
    assert sex["missing"] == sum(1 for d in docs if "PatientSex" not in d)
    assert sex["unmatched"] == 0 and sex["js_distance"] < 0.05
    sites = found["InstitutionName"]
    assert sites["unmatched"] == 1000
    assert sites["js_distance"] == pytest.approx(jensenshannon([500, 1000], [1, 0], base=2))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n", "columns field, value and proportion"),
        ("field,value,proportion\nKVP,120,lots\n", "line 2: proportion is not a number"),
        ("field,value,proportion\nKVP,120,-1\n", "line 2: proportion must be"),
        ("field,value,proportion\n", "no rows"),
        ("field,value,proportion\n,120,1\n", "line 2: no field"),
    ],
)
def test_bad_reference_files(text: str, message: str) -> None:
    with pytest.raises(BiasInputError, match=message):
        read_reference(text)


def test_frozen_versions_stay_frozen(planted: CatalogBackend) -> None:
    planted.create_dataset("grow")
    planted.add_to_dataset("grow", Selection.of("KVP:100"))
    planted.freeze_dataset("grow")
    _, v1 = resolve_selection(planted, "dataset:grow@1", parse)
    first = compare(planted, v1, parse("*"), ["KVP"])
    assert compare(planted, v1, parse("*"), ["KVP"]) == first  # read again from the kept rows
    planted.add_to_dataset("grow", Selection.of("KVP:140"))
    planted.freeze_dataset("grow")
    _, v2 = resolve_selection(planted, "dataset:grow@2", parse)
    again = compare(planted, v1, v2, ["KVP"])
    assert again["a"]["series"] == first["a"]["series"] == planted.count("KVP:100")
    assert again["b"]["series"] == planted.count("KVP:(100 OR 140)")
    assert again["overlap"]["series"] == again["a"]["series"]
    planted.delete_dataset("grow", force=True)  # a new dataset of the same name and version
    planted.create_dataset("grow")
    planted.add_to_dataset("grow", Selection.of("KVP:120"))
    planted.freeze_dataset("grow")
    _, renewed = resolve_selection(planted, "dataset:grow@1", parse)
    assert compare(planted, renewed, v2, ["KVP"])["a"]["series"] == planted.count("KVP:120")
