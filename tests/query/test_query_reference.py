"""The reference evaluator: each semantic rule of the query language on hand-made records."""

from __future__ import annotations

from typing import Any

import pytest

from radcurate.dicom.values import FieldType
from radcurate.query import SearchRecord, evaluate, matches, parse
from radcurate.query.reference import field_values

CT: dict[str, Any] = {
    "Modality": "CT",
    "Manufacturer": "SIEMENS",
    "ManufacturerModelName": "SOMATOM Definition AS+",
    "SeriesDescription": "Thorax 1.0 B30f",
    "StudyDescription": "CT CHEST W/O CONTRAST",
    "BodyPartExamined": "CHEST",
    "ConvolutionKernel": ["B30f", "Sharp"],
    "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"],
    "PatientName": "Santos^Harry",
    "PatientAge": "047Y",
    "age_years": 47.0,
    "Rows": 512,
    "SliceThickness": 1.5,
    "PixelSpacing": [0.7, 0.7],
    "slice_positions": [-10.0, -8.5, 2.0],
    "StudyDate": "2019-03-15",
    "StudyTime": "10:36:40.25",
    "AcquisitionDateTime": "2019-03-15T10:37:02",
    "AccessionNumber": "2019",
    "00091001": "RADCURATE_DEMO",
    "00091011": 1.0028,
    "ProcedureCodeSequence": [
        {"CodeValue": "CTCH", "CodeMeaning": "CT Chest"},
        {"CodeValue": "XYZ", "CodeMeaning": "Other", "Nested": [{"Deep": "found"}]},
    ],
    "EmptySeq": [],
    "Nothing": None,
    "varying": {"KVP": [100, 120]},
}
MR: dict[str, Any] = {
    "Modality": "MR",
    "Manufacturer": "GE MEDICAL SYSTEMS",
    "SeriesDescription": "t1_se_tra",
    "PatientSex": "F",
    "age_years": 60.0,
    "Rows": 256,
    "SliceThickness": 5,
    "StudyDate": "2020-12-31",
}
RECORDS = {
    "ct": SearchRecord(
        CT,
        tags=["Excluded", "needs-review"],
        datasets=["lidc-train"],
        ai={"bodypart": "chest", "scores": {"nodule": 0.8}, "labels": ["Nodule", "Emphysema"]},
        qc={"missing_slices": True, "gaps": 0},
        review="accepted",
    ),
    "mr": SearchRecord(MR, datasets=["brain-mri"], qc={"missing_slices": False}),
}


def hits(query: str, **kwargs: Any) -> set[str]:
    tree = parse(query)
    return {name for name, rec in RECORDS.items() if matches(tree, rec, **kwargs)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # free text: case-insensitive substring over the text fields, wildcards inside
        ("thorax", {"ct"}),
        ("THOR", {"ct"}),
        ("b30", {"ct"}),
        ("sharp", {"ct"}),  # every value of a multi-valued text field
        ("ung", set()),
        ("?hest", {"ct"}),
        ("?HORAX", {"ct"}),  # '?' needs one character: "Thorax" has none before T
        ("t1*tra", {"mr"}),
        ("chest*contrast", {"ct"}),
        ('"w/o contrast"', {"ct"}),
        ('"chest  ct"', set()),  # phrases are exact, spaces included
        ('"1.0 B30"', {"ct"}),
        ("harry", {"ct"}),
        ("ge", {"mr"}),
        ("mr", {"mr"}),  # Modality is a text field
        ("512", set()),  # numbers are not free text
        ("axial", set()),  # ImageType is not a text field
        ("excluded", {"ct"}),  # tags
        ("lidc", {"ct"}),  # datasets
        ("emphysema", {"ct"}),  # ai strings, nested lists included
        ('"t1\\*tra"', set()),  # an escaped star is literal
        ("*", {"ct", "mr"}),
        ("", {"ct", "mr"}),
        # field filters: whole value, case-insensitive, wildcards anchored
        ("Modality:CT", {"ct"}),
        ("Modality:ct", {"ct"}),
        ("Modality:C", set()),
        ("Manufacturer:SIEM*", {"ct"}),
        ("Manufacturer:*SYSTEMS", {"mr"}),
        ("Manufacturer:siemen?", {"ct"}),
        ("Manufacturer:siemen", set()),
        ('Manufacturer:"GE MEDICAL SYSTEMS"', {"mr"}),
        ('SeriesDescription:"Thorax*"', set()),  # phrases are literal in fields too
        ("ImageType:axial", {"ct"}),  # any value of a multi-valued field
        ("ImageType:(DERIVED OR AXIAL)", {"ct"}),
        ("Modality:(CT OR MR)", {"ct", "mr"}),
        ("Modality:(SR OR PT)", set()),
        ("Modality:*", {"ct", "mr"}),
        ("PatientSex:*", {"mr"}),
        # numbers
        ("Rows:512", {"ct"}),
        ("Rows:512.0", {"ct"}),
        ("Rows:5*", set()),  # wildcards never match numbers
        ("Rows:abc", set()),
        ("SliceThickness:1.5", {"ct"}),
        ("SliceThickness:5", {"mr"}),
        ("SliceThickness:<=1.5", {"ct"}),
        ("SliceThickness:<1.5", set()),
        ("SliceThickness:>1.5", {"mr"}),
        ("SliceThickness:>=1.5", {"ct", "mr"}),
        ("SliceThickness:<1e1", {"ct", "mr"}),
        ("SliceThickness:<abc", set()),
        ("PixelSpacing:0.7", {"ct"}),
        ("00091011:1.0028", {"ct"}),
        ("(0009,1011):>1", {"ct"}),
        # ranges: inclusive, exclusive, open ends, one value must satisfy both bounds
        ("age_years:[40 TO 60]", {"ct", "mr"}),
        ("age_years:[40 TO 60}", {"ct"}),
        ("age_years:{47 TO 60]", {"mr"}),
        ("age_years:{47 TO 60}", set()),
        ("age_years:[50 TO *]", {"mr"}),
        ("age_years:[* TO 50]", {"ct"}),
        ("age_years:47..60", {"ct", "mr"}),
        ("age_years:..50", {"ct"}),
        ("slice_positions:[-9 TO 0]", {"ct"}),  # -8.5
        ("slice_positions:[-1 TO 1]", set()),  # -8.5 and 2.0 bracket it, neither inside
        ("slice_positions:>=-1 slice_positions:<=1", {"ct"}),  # two terms: any value each
        ("varying.KVP:[110 TO 130]", {"ct"}),
        # AS ages are strings; age_years is the number
        ("PatientAge:047Y", {"ct"}),
        ("PatientAge:047y", {"ct"}),
        ("PatientAge:04*", {"ct"}),
        ("PatientAge:47", set()),
        # dates: ISO strings, partial values are whole periods
        ("StudyDate:2019-03-15", {"ct"}),
        ("StudyDate:2019", {"ct"}),
        ("StudyDate:2019-03", {"ct"}),
        ("StudyDate:2019-04", set()),
        ("StudyDate:20190315", {"ct"}),  # the DICOM form
        ("StudyDate:2019*", {"ct"}),
        ("StudyDate:2019-01-01..2020-12-31", {"ct", "mr"}),
        ("StudyDate:2019..2019", {"ct"}),
        ("StudyDate:2019-04..2020", {"mr"}),
        ("StudyDate:>=2019-03-15", {"ct", "mr"}),
        ("StudyDate:>2019-03-15", {"mr"}),
        ("StudyDate:>2019", {"mr"}),
        ("StudyDate:>=2020", {"mr"}),
        ("StudyDate:<2020", {"ct"}),
        ("StudyDate:<=2019", {"ct"}),
        ("StudyDate:<=2020", {"ct", "mr"}),
        ("StudyDate:<2019-03-15", set()),
        ("StudyDate:{2019 TO 2020]", {"mr"}),
        ("StudyDate:[2019 TO 2020}", {"ct"}),
        ("StudyDate:[2019-03-16 TO *]", {"mr"}),
        ("AccessionNumber:2019", {"ct"}),  # not a date field: whole value
        ("AccessionNumber:20", set()),
        ("StudyTime:10", {"ct"}),
        ("StudyTime:10:36:40", {"ct"}),
        ("StudyTime:1036", {"ct"}),
        ("StudyTime:10:37", set()),
        ("StudyTime:<10:37", {"ct"}),
        ("StudyTime:>10:36", set()),
        ("AcquisitionDateTime:2019-03-15", {"ct"}),
        ("AcquisitionDateTime:2019-03-15T10", {"ct"}),
        ("AcquisitionDateTime:>=2019-03-15T10:37", {"ct"}),
        ("AcquisitionDateTime:>2019-03-15T10:37", set()),
        # strings compare as lowercased code points
        ("Manufacturer:>h", {"ct"}),
        ("Manufacturer:<=GE", set()),
        ("Manufacturer:<GF", {"mr"}),
        # sequences: any item
        ("ProcedureCodeSequence.CodeValue:CTCH", {"ct"}),
        ("ProcedureCodeSequence.CodeMeaning:other", {"ct"}),
        ('ProcedureCodeSequence.CodeMeaning:"ct ch*"', set()),
        ("ProcedureCodeSequence.CodeMeaning:ct\\ ch*", {"ct"}),
        ("ProcedureCodeSequence.Nested.Deep:found", {"ct"}),
        ("ProcedureCodeSequence:*", {"ct"}),
        ("ProcedureCodeSequence:CTCH", set()),  # items are not values
        ("has:ProcedureCodeSequence.Nested", {"ct"}),
        # private tags by number
        ("(0009,1001):radcurate*", {"ct"}),
        ("00091001:RADCURATE_DEMO", {"ct"}),
        ("(0018,1210):B30*", {"ct"}),
        ("has:(0009,1001)", {"ct"}),
        # has / missing
        ("has:ConvolutionKernel", {"ct"}),
        ("missing:ConvolutionKernel", {"mr"}),
        ("missing:PatientSex", {"ct"}),
        ("has:EmptySeq", set()),
        ("missing:EmptySeq", {"ct", "mr"}),
        ("has:Nothing", set()),
        ("missing:NoSuchField", {"ct", "mr"}),
        # tags / datasets: whole value, case-insensitive, wildcards
        ("tag:excluded", {"ct"}),
        ("tag:EXCLUDED", {"ct"}),
        ("tag:exclude", set()),
        ("tag:needs-*", {"ct"}),
        ("-tag:excluded", {"mr"}),
        ("dataset:lidc-train", {"ct"}),
        ("dataset:*-mri", {"mr"}),
        ("dataset:(lidc-train OR brain-mri)", {"ct", "mr"}),
        # ai / qc
        ("ai.bodypart:chest", {"ct"}),
        ("ai.bodypart:CHEST", {"ct"}),
        ("ai.scores.nodule:>0.5", {"ct"}),
        ("ai.scores.nodule:[0 TO 0.5]", set()),
        ("ai.labels:nodule", {"ct"}),
        ("has:ai.bodypart", {"ct"}),
        ("missing:ai.bodypart", {"mr"}),
        ("qc.missing_slices:true", {"ct"}),
        ("qc.missing_slices:FALSE", {"mr"}),
        ("qc.missing_slices:t*", set()),
        ("qc.missing_slices:1", set()),
        ("qc.missing_slices:>0", set()),
        ("qc.gaps:0", {"ct"}),
        ("qc.gaps:false", set()),
        # boolean structure and precedence: NOT > AND > OR
        ("NOT Modality:SR", {"ct", "mr"}),
        ("NOT Modality:CT", {"mr"}),
        ("Modality:CT Rows:256", set()),
        ("Modality:CT AND Rows:512", {"ct"}),
        ("Modality:CT OR Rows:256", {"ct", "mr"}),
        ("Modality:MR OR Modality:CT Rows:256", {"mr"}),  # MR OR (CT AND 256)
        ("(Modality:MR OR Modality:CT) Rows:512", {"ct"}),
        ("NOT Modality:MR OR Rows:256", {"ct", "mr"}),  # (NOT MR) OR 256
        ("NOT (Modality:MR OR Rows:512)", set()),
        ("-Modality:MR -Modality:CT", set()),
        ("NOT NOT Modality:CT", {"ct"}),
        ("NOT *", set()),
        # review status: pending when never reviewed; the review pseudo-field has one value
        ("review:accepted", {"ct"}),
        ("review:pending", {"mr"}),
        ("-review:accepted", {"mr"}),
        ("review:(rejected OR pending)", {"mr"}),
        ("review:rejected", set()),
        ("has:review", {"ct", "mr"}),
        ("missing:review", set()),
        ("accepted", set()),  # not free text
    ],
)
def test_semantics(query: str, expected: set[str]) -> None:
    assert hits(query) == expected


def test_field_types_from_the_registry_win() -> None:
    # with the registry saying AccessionNumber is a date, '2019' is a whole period
    types = {"AccessionNumber": FieldType.DATE}
    rec = SearchRecord({"AccessionNumber": "2019-05-01"})
    assert matches(parse("AccessionNumber:2019"), rec, field_types=types)
    assert not matches(parse("AccessionNumber:2019"), rec)
    # private keys have no dictionary type; the registry can give one
    rec = SearchRecord({"00091020": "2019-05-01"})
    assert matches(parse("(0009,1020):<=2019"), rec, field_types={"00091020": FieldType.DATE})
    assert not matches(parse("(0009,1020):<=2019"), rec)


def test_configurable_text_fields() -> None:
    rec = SearchRecord(CT)
    assert not matches(parse("axial"), rec)
    assert matches(parse("axial"), rec, text_fields=["ImageType"])
    assert matches(parse("ct chest"), rec, text_fields=["ProcedureCodeSequence.CodeMeaning"])
    assert not matches(parse("thorax"), rec, text_fields=[])


def test_records_as_dicts_and_evaluate() -> None:
    docs: list[SearchRecord | dict[str, Any]] = [
        {"document": CT, "tags": ["x"]},
        MR,
        SearchRecord(MR, tags=["x"]),
    ]
    assert evaluate(parse("tag:x"), docs) == [docs[0], docs[2]]
    assert evaluate(parse("Modality:MR"), docs) == docs[1:]
    assert matches(parse("Modality:CT"), {"document": CT})


def test_field_values_walk() -> None:
    rec = RECORDS["ct"]
    assert field_values(rec, "ConvolutionKernel") == ["B30f", "Sharp"]
    assert field_values(rec, "ProcedureCodeSequence.CodeValue") == ["CTCH", "XYZ"]
    assert field_values(rec, "ai.scores.nodule") == [0.8]
    assert field_values(rec, "Modality.Nope") == []
    assert field_values(rec, "Nothing") == []
    assert field_values(rec, "review") == ["accepted"]
    assert field_values(RECORDS["mr"], "review") == ["pending"]
