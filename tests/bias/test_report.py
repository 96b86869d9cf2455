"""Bias reports on a catalog: the planted shortcut is flagged, random labels are not,
and bad input is an error or a stated "not computable", never a crash."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from radcurate.analyze.bias_report import (
    DEFAULT_ATTRIBUTES,
    BiasInputError,
    bias_report,
    field_name,
    target_of,
)
from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import Selection
from radcurate.query import parse
from tests.bias.conftest import SERIES, documents

ACQUISITION = ["Manufacturer", "ManufacturerModelName", "ConvolutionKernel", "InstitutionName",
               "KVP", "SliceThickness", "StationName"]  # fmt: skip


def _parser(catalog: CatalogBackend) -> Any:
    known = [f.name for f in catalog.fields()]
    return lambda text: parse(text, fields=known)


def _pairs(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["attribute"]: e for e in report["associations"]}


def test_planted_shortcut_is_flagged(planted: CatalogBackend) -> None:
    report = bias_report(planted, parse("*"), "clin.trial.dx", ACQUISITION)
    pairs = _pairs(report)
    for name in ("Manufacturer", "ManufacturerModelName", "ConvolutionKernel", "InstitutionName"):
        pair = pairs[name]
        assert pair["cramers_v"] >= 0.5 and pair["p_adjusted"] < 0.001, name
        assert pair["flag"] is True
        top = max(pair["cells"], key=lambda c: c["residual"])
        assert top["target"] == "cancer" and top["residual"] > 10  # site A's scanner
        assert top["filter"] in ("Manufacturer:SIEMENS", "ManufacturerModelName:\"SOMATOM "
                                 "Definition\"", "ConvolutionKernel:B30f",
                                 "InstitutionName:\"Site A\"")  # fmt: skip
        assert planted.count(f"{top['filter']} {top['target_filter']}") == top["count"]
    for name in ("KVP", "SliceThickness"):
        assert pairs[name]["cramers_v"] < 0.1 and pairs[name]["flag"] is False
    assert report["flags"] == [
        "Manufacturer", "ManufacturerModelName", "ConvolutionKernel", "InstitutionName"
    ]  # fmt: skip
    assert pairs["StationName"]["computable"] is False
    assert pairs["StationName"]["reason"] == "the attribute has no value in the selection"


def test_random_labels_are_not_flagged(planted: CatalogBackend) -> None:
    for target in ("ai.coin", "ai.noise"):
        report = bias_report(planted, parse("*"), target, ACQUISITION[:6])
        for pair in report["associations"]:
            effect = pair["eta_squared"] if pair["test"] == "kruskal" else pair["cramers_v"]
            assert effect < 0.1 and pair["flag"] is False, (target, pair["attribute"])
        assert report["flags"] == []


def test_numeric_target_by_kruskal_wallis(planted: CatalogBackend) -> None:
    report = bias_report(planted, parse("*"), "clin.trial.score", ["InstitutionName", "KVP"])
    assert report["target"]["kind"] == "numeric"
    site, kvp = _pairs(report)["InstitutionName"], _pairs(report)["KVP"]
    assert site["test"] == "kruskal" and site["eta_squared"] >= 0.14 and site["flag"]
    assert kvp["eta_squared"] < 0.05 and not kvp["flag"]
    medians = {g["value"]: g["median"] for g in site["groups"]}
    assert medians["Site A"] > medians["Site B"] + 0.5


def test_query_target_compares_members_with_the_others(planted: CatalogBackend) -> None:
    planted.tag_series("review-me", Selection.of('InstitutionName:"Site A" clin.trial.dx:cancer'))
    report = bias_report(planted, parse("*"), parse("tag:review-me"), ["ConvolutionKernel", "KVP"])
    pairs = _pairs(report)
    assert pairs["ConvolutionKernel"]["flag"] and not pairs["KVP"]["flag"]
    assert pairs["ConvolutionKernel"]["columns"] == [True, False]
    members = report["target"]["representation"]["groups"][0]
    assert members["filter"] == "tag:review-me"
    assert members["count"] == planted.count("tag:review-me")


def test_representation(planted: CatalogBackend) -> None:
    report = bias_report(planted, parse("*"), None, ["Manufacturer", "PatientSex", "age_years",
                                                      "SliceThickness", "ImageType"])  # fmt: skip
    assert report["associations"] == [] and report["target"] is None
    found = {e["field"]: e for e in report["representation"]}
    makers = found["Manufacturer"]
    assert makers["k"] == 3 and makers["missing"] == 0
    assert {g["value"] for g in makers["groups"]} == {"SIEMENS", "GE MEDICAL SYSTEMS", "Philips"}
    assert makers["effective_groups"] == pytest.approx(3.0)
    assert makers["evenness"] == pytest.approx(1.0)
    sex = found["PatientSex"]
    assert sex["missing"] == sum(1 for i in range(SERIES) if i % 7 == 0)
    assert sex["missing_rate"] == pytest.approx(sex["missing"] / SERIES)
    assert sum(g["share"] for g in sex["groups"]) + sex["missing_rate"] == pytest.approx(1.0)
    assert found["age_years"]["binning"] == "decades"
    assert found["age_years"]["groups"][0]["value"] == "[10, 20)"
    assert found["SliceThickness"]["binning"] == "binned" and found["SliceThickness"]["k"] <= 10
    assert {g["value"] for g in found["ImageType"]["groups"]} == {
        "ORIGINAL\\PRIMARY\\AXIAL", "DERIVED\\SECONDARY"
    }  # fmt: skip
    for entry in report["representation"]:  # every bar's filter selects exactly its series
        for group in entry["groups"]:
            if group["filter"] is not None:
                assert planted.count(group["filter"]) == group["count"], group


def test_counts_equal_a_count_of_the_documents(planted: CatalogBackend) -> None:
    report = bias_report(planted, parse("KVP:>=120"), "InstitutionName", ["Manufacturer", "KVP"])
    docs = [d for d in documents() if d["KVP"] >= 120]
    assert report["counts"]["series"] == len(docs)
    pair = _pairs(report)["Manufacturer"]
    expected = Counter((d["Manufacturer"].lower(), d["InstitutionName"]) for d in docs)
    found = Counter({(c["value"].lower(), c["target"]): c["count"] for c in pair["cells"]})
    assert found == expected


def test_bad_input(planted: CatalogBackend) -> None:
    check = _parser(planted)
    with pytest.raises(BiasInputError, match=r"unknown field 'Manufactuer'.*Manufacturer"):
        target_of("Manufactuer", check)
    with pytest.raises(BiasInputError, match="not a field name"):
        field_name("two words", check)
    with pytest.raises(BiasInputError, match="no target"):
        target_of("  ", check)
    with pytest.raises(BiasInputError, match="no attributes"):
        bias_report(planted, parse("*"), "Modality", [])
    one = bias_report(planted, parse("*"), "Modality", ["Manufacturer"])  # every series is CT
    assert one["problems"] == ["the target has fewer than two values in the selection"]
    assert _pairs(one)["Manufacturer"]["reason"] == "the target has one value in the selection"
    empty = bias_report(planted, parse("Modality:MR"), "clin.trial.dx", list(DEFAULT_ATTRIBUTES))
    assert empty["problems"][0] == "no series match the selection"
    assert all(not p["computable"] and not p["flag"] for p in empty["associations"])
    same = bias_report(planted, parse("*"), "KVP", ["KVP", "Manufacturer"])
    assert _pairs(same)["KVP"]["reason"] == "the attribute is the target"
    absent = bias_report(planted, parse("*"), "ai.nothing", ["KVP"])
    assert _pairs(absent)["KVP"]["reason"] == "no series has a target value"


def test_the_index_switched_off_gives_the_same_report(planted: CatalogBackend) -> None:
    with_index = bias_report(planted, parse("*"), "clin.trial.dx", ACQUISITION)
    planted.use_search_index = False  # type: ignore[attr-defined]
    try:
        without = bias_report(planted, parse("*"), "clin.trial.dx", ACQUISITION)
    finally:
        planted.use_search_index = True  # type: ignore[attr-defined]
    assert without == with_index


def test_review_status_as_target(planted: CatalogBackend) -> None:
    reviews = planted.reviews
    reviews.set_reviews(Selection.of('InstitutionName:"Site A"'), "rejected", actor="t")
    reviews.set_reviews(Selection.of('InstitutionName:"Site B" KVP:120'), "accepted", actor="t")
    check = _parser(planted)
    field = bias_report(planted, parse("*"), target_of("review", check), ["ConvolutionKernel"])
    pair = _pairs(field)["ConvolutionKernel"]
    assert set(pair["columns"]) == {"rejected", "accepted", "pending"} and pair["flag"]
    query = target_of("review:rejected", check)
    report = bias_report(planted, parse("*"), query, ["ConvolutionKernel", "KVP"])
    assert _pairs(report)["ConvolutionKernel"]["cramers_v"] > 0.99  # the kernel decides it
    assert report["flags"] == ["ConvolutionKernel"]
