"""The card's figures equal independent counts of the catalog (``dataset:lungs`` holds the
same series as version 1), on both engines; its JSON is byte-identical from call to call."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from radcurate.analyze.bias_report import BiasInputError
from radcurate.analyze.dataset_card import (
    FORMAT,
    DatasetCardError,
    card_json,
    dataset_card,
    resolve_version,
)
from radcurate.catalog import CatalogBackend
from radcurate.catalog.base import FileError, IngestBatch
from radcurate.catalog.curation_types import CurationNotFoundError, Selection
from tests.card.conftest import MEMBERS, uid

Q = "dataset:lungs"


def table(tables: list[dict[str, Any]], field: str) -> dict[str, Any]:
    return next(t for t in tables if t["field"] == field)


def groups(entry: dict[str, Any]) -> dict[Any, int]:
    return {g["value"]: g["count"] for g in entry["groups"]}


def test_figures_equal_independent_counts(card_catalog: CatalogBackend) -> None:
    c = card_catalog
    card = dataset_card(c, "lungs", 1)
    assert card["format"] == FORMAT
    counts = c.counts(Q)
    comp = card["composition"]
    assert comp["counts"]["series"] == counts.series == len(MEMBERS)
    assert comp["counts"]["studies"] == counts.studies
    assert comp["counts"]["patients"] == counts.patients == 2
    assert comp["counts"]["series_frozen"] == len(MEMBERS)
    assert comp["counts"]["instances_frozen"] == 2 * len(MEMBERS)
    assert comp["counts"]["series_not_held"] == 0
    for field in ("Modality", "Manufacturer", "BodyPartExamined", "ai.bodypart"):
        found = groups(table(comp["tables"], field))
        assert sum(found.values()) == c.count(f"{Q} has:{field}")
        for value, n in found.items():
            assert n == c.count(f'{Q} {field}:"{value}"'), (field, value)
    assert groups(table(comp["tables"], "Modality")) == {"CT": 4, "MR": 1}
    assert groups(table(comp["tables"], "ai.bodypart")) == {"chest": 4, "head": 1}
    sex = table(comp["demographics"], "PatientSex")
    assert sex["missing"] == c.count(f"{Q} missing:PatientSex") == 2
    assert sex["missing_rate"] == pytest.approx(2 / 5)
    age = table(comp["demographics"], "age_years")
    assert age["binning"] == "decades"
    assert groups(age) == {
        "[50, 60)": c.count(f"{Q} age_years:>=50 age_years:<60"),
        "[60, 70)": c.count(f"{Q} age_years:>=60 age_years:<70"),
    }
    assert age["missing"] == c.count(f"{Q} missing:age_years") == 1
    ethnic = table(comp["demographics"], "EthnicGroup")
    assert (ethnic["missing"], ethnic["missing_rate"], ethnic["binning"]) == (5, 1.0, None)

    site = groups(table(card["collection"]["acquisition"], "InstitutionName"))
    assert site == {
        "Site A": c.count(f'{Q} InstitutionName:"Site A"'),
        "Site B": c.count(f'{Q} InstitutionName:"Site B"'),
    }
    years = card["collection"]["study_years"]
    assert (years["first_year"], years["last_year"]) == ("2019", "2021")
    for g in years["groups"]:
        y = g["value"]
        assert g["count"] == c.count(f"{Q} StudyDate:{y}-01-01..{y}-12-31")

    checks = {ch["field"]: ch for ch in card["qc"]["checks"]}
    missing = checks["qc.geometry.missing_slices"]
    assert missing["failing"] == c.count(f"{Q} qc.geometry.missing_slices:>0") == 1
    assert missing["checked"] == c.count(f"{Q} has:qc.geometry.missing_slices") == 5
    for check in checks.values():
        if check["checked"]:
            assert check["failing"] == c.count(f"{Q} ({check['fails']})"), check["field"]

    review = card["review"]
    assert review == {
        "accepted": 1,
        "rejected": 1,  # series 5 is rejected too, but no member
        "questionable": 1,
        "pending": 2,
        "total": 5,
    }
    for status in ("accepted", "rejected", "questionable", "pending"):
        assert review[status] == c.count(f"{Q} review:{status}")

    producers = {p["producer"]: p for p in card["preprocessing"]["producers"]}
    assert producers["card-bodypart"]["versions"] == [{"version": "2.1", "series": 5}]
    assert producers["card-bodypart"]["fields"] == ["ai.bodypart"]
    geometry = producers["card-geometry"]  # wrote on six series, five of them members
    assert (geometry["series"], geometry["fields"]) == (5, ["qc.geometry.missing_slices"])

    prov = card["provenance"]
    version = c.dataset_versions("lungs")[0]
    sops = sorted({s for found in c.version_members("lungs", 1).values() for s in found})
    digest = hashlib.sha256("".join(s + "\n" for s in sops).encode()).hexdigest()
    assert prov["content_hash"] == version.content_hash == digest
    assert (prov["frozen_by"], prov["note"], prov["series"]) == ("bo", "first cut", 5)
    assert card["motivation"]["created_by"] == "ana"
    assert card["motivation"]["description"] == "Chest CT and head MR for a card"
    assert card["distribution"]["license"] == "not recorded"


def test_json_is_deterministic_and_a_version_never_changes(sqlite_card: CatalogBackend) -> None:
    first = card_json(dataset_card(sqlite_card, "lungs", 1))
    assert first == card_json(dataset_card(sqlite_card, "lungs", 1))
    assert "generated" not in first
    assert json.loads(first)["dataset"] == {"name": "lungs", "version": 1}
    # the dataset changes; its frozen version 1 does not
    sqlite_card.remove_from_dataset("lungs", Selection(include=(uid(0),)), actor="ana")
    sqlite_card.add_to_dataset("lungs", Selection(include=(uid(5),)), actor="ana")
    assert card_json(dataset_card(sqlite_card, "lungs", 1)) == first
    sqlite_card.freeze_dataset("lungs", actor="ana")
    second = dataset_card(sqlite_card, "lungs", 2)
    assert second["provenance"]["content_hash"] != json.loads(first)["provenance"]["content_hash"]
    assert second["review"]["rejected"] == 2  # series 1 and now series 5
    assert resolve_version(sqlite_card, "lungs") == ("lungs", 2)
    assert resolve_version(sqlite_card, "LUNGS@1") == ("LUNGS", 1)


def test_target_adds_associations(sqlite_card: CatalogBackend) -> None:
    card = dataset_card(sqlite_card, "lungs", 1, target="tag:covid")
    bias = card["bias"]
    assert bias["target"] == "tag:covid"
    site = next(a for a in bias["associations"] if a["attribute"] == "InstitutionName")
    assert site["computable"] and site["cramers_v"] == pytest.approx(1.0)
    assert {"value": "Site A", "target": True} in [
        {"value": o["value"], "target": o["target"]} for o in site["over_represented"]
    ]
    assert dataset_card(sqlite_card, "lungs", 1)["bias"]["associations"] == []


def test_bad_requests_raise_clear_errors(sqlite_card: CatalogBackend) -> None:
    for identifying in ("PatientID", "PatientName", "PatientID:CARD*"):
        with pytest.raises(DatasetCardError, match="identifies patients"):
            dataset_card(sqlite_card, "lungs", 1, target=identifying)
    with pytest.raises(BiasInputError, match="unknown field"):
        dataset_card(sqlite_card, "lungs", 1, target="NoSuchFieldAtAll")
    with pytest.raises(CurationNotFoundError, match="no version 9"):
        dataset_card(sqlite_card, "lungs", 9)
    with pytest.raises(CurationNotFoundError, match="no dataset"):
        dataset_card(sqlite_card, "nope", 1)
    sqlite_card.create_dataset("draft", actor="ana")
    with pytest.raises(DatasetCardError, match="freeze it first"):
        resolve_version(sqlite_card, "draft")
    with pytest.raises(CurationNotFoundError, match="no dataset 'lungs@x'"):
        resolve_version(sqlite_card, "lungs@x")
    sqlite_card.create_dataset("a@b", actor="ana")
    sqlite_card.freeze_dataset("a@b", actor="ana")
    assert resolve_version(sqlite_card, "a@b") == ("a@b", 1)
    assert resolve_version(sqlite_card, "a@b@1") == ("a@b", 1)


def test_empty_version(sqlite_card: CatalogBackend) -> None:
    card = dataset_card(sqlite_card, "empty", 1, target="tag:covid")
    counts = card["composition"]["counts"]
    assert (counts["series"], counts["patients"], counts["series_frozen"]) == (0, 0, 0)
    assert all(t["groups"] == [] for t in card["composition"]["tables"])
    assert card["review"]["total"] == 0
    assert all(ch["failing"] == 0 == ch["checked"] for ch in card["qc"]["checks"])
    assert card["preprocessing"]["producers"] == []
    assert card["bias"]["problems"] == ["no series match the selection"]
    empty_hash = hashlib.sha256(b"").hexdigest()
    assert card["provenance"]["content_hash"] == empty_hash
    assert card_json(card) == card_json(dataset_card(sqlite_card, "empty", 1, target="tag:covid"))


def test_member_that_left_the_catalog(sqlite_card: CatalogBackend) -> None:
    before = dataset_card(sqlite_card, "lungs", 1)
    sources = [r.source for r in sqlite_card.instances(uid(4))]  # every file unreadable
    sqlite_card.write_batch(IngestBatch(errors=[FileError(s, 1, 2, "truncated") for s in sources]))
    sqlite_card.finalize_series([uid(4)])
    card = dataset_card(sqlite_card, "lungs", 1)
    counts = card["composition"]["counts"]
    assert (counts["series"], counts["series_frozen"], counts["series_not_held"]) == (4, 5, 1)
    assert card["provenance"]["content_hash"] == before["provenance"]["content_hash"]
    assert card["review"]["total"] == 4 and card["review"]["pending"] == 1
    makers = groups(table(card["composition"]["tables"], "Manufacturer"))
    assert "Philips" not in makers  # series 4 was the Philips one
