"""The same QIDO-RS queries answered by radcurate and by Orthanc holding the same files agree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.orthanc import OrthancHandle

from tests.network.conftest import LiveServer, upload

STUDY_TAGS = [
    "00080020",
    "00080030",
    "00080050",
    "00100010",
    "00100020",
    "00100030",
    "00100040",
    "0020000D",
    "00200010",
    "00080061",
    "00201206",
    "00201208",
    "00081030",
]
SERIES_TAGS = ["0020000E", "00080060", "0008103E", "00200011", "00201209"]
INSTANCE_TAGS = ["00080016", "00080018", "00200013", "00280010", "00280011"]


@pytest.fixture(scope="module")
def pacs(orthanc: OrthancHandle, archive_files: list[Path]) -> Iterator[str]:
    upload(orthanc, archive_files)
    yield orthanc.http_url + "/dicom-web"


def _values(item: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    out = {}
    for tag in tags:
        values = item.get(tag, {}).get("Value")
        if values:
            out[tag] = [v.get("Alphabetic") if isinstance(v, dict) else v for v in values]
    return out


def _ask(base: str, path: str, params: dict[str, str], key: str, tags: list[str]) -> dict[str, Any]:
    # written out by hand: Orthanc does not decode %2A, which httpx makes of "*"
    query = "&".join(
        [*(f"{k}={v}" for k, v in params.items()), *(f"includefield={t}" for t in tags)]
    )
    answer = httpx.get(f"{base}{path}?{query}", timeout=60)
    assert answer.status_code == 200, answer.text
    items = answer.json() if answer.content else []
    return {_values(i, [key])[key][0]: _values(i, tags) for i in items}


def _differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[Any]:
    return [
        (uid, tag, ours[uid].get(tag), theirs[uid].get(tag))
        for uid in sorted(ours)
        for tag in sorted(set(ours[uid]) | set(theirs.get(uid, {})))
        if ours[uid].get(tag) != theirs.get(uid, {}).get(tag)
    ]


QUERIES = [
    {},
    {"ModalitiesInStudy": "CT"},
    {"ModalitiesInStudy": "MR"},
    {"PatientName": "*a*"},
    {"StudyDate": "20150101-20201231"},
    {"StudyDate": "-20180101"},
    {"PatientSex": "F"},
    {"AccessionNumber": "*1*"},
]


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "query", QUERIES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "all"
)
def test_study_queries_agree(served: LiveServer, pacs: str, query: dict[str, str]) -> None:
    ours = _ask(served.dicomweb, "/studies", query, "0020000D", STUDY_TAGS)
    theirs = _ask(pacs, "/studies", query, "0020000D", STUDY_TAGS)
    assert set(ours) == set(theirs)
    assert _differences(ours, theirs) == []


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "query", [{}, {"Modality": "MR"}, {"Modality": "CT"}, {"SeriesDescription": "*a*"}]
)
def test_series_and_instance_queries_agree(
    served: LiveServer, pacs: str, query: dict[str, str]
) -> None:
    ours = _ask(served.dicomweb, "/series", query, "0020000E", SERIES_TAGS)
    theirs = _ask(pacs, "/series", query, "0020000E", SERIES_TAGS)
    assert set(ours) == set(theirs)
    assert _differences(ours, theirs) == []
    for series_uid in sorted(ours)[:3]:
        study = httpx.get(
            served.dicomweb + "/series", params={"SeriesInstanceUID": series_uid}
        ).json()
        study_uid = study[0]["0020000D"]["Value"][0]
        path = f"/studies/{study_uid}/series/{series_uid}/instances"
        assert _ask(served.dicomweb, path, {}, "00080018", INSTANCE_TAGS) == _ask(
            pacs, path, {}, "00080018", INSTANCE_TAGS
        )
