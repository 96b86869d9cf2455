"""A query whose field needs a column loaded on demand reads the catalog without the index
lock: the other queries go on meanwhile (the load benchmark at a million series saw them wait
seconds behind one such read: p99 3-5 s). Both engines."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from radcurate.catalog import open_catalog
from radcurate.catalog.sql import SQLCatalog

READ_SECONDS = 1.5
#: a sequence path: a column the index loads when a query first asks for it
FIELD = "ReferencedImageSequence.ReferencedSOPClassUID"
CT, MR = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"


def _docs(count: int) -> list[dict[str, Any]]:
    return [
        {
            "SeriesInstanceUID": f"1.2.3.{i}", "StudyInstanceUID": f"1.2.9.{i // 3}",
            "PatientID": f"P{i // 6}", "Modality": "CT" if i % 2 else "MR",
            "ReferencedImageSequence": [{"ReferencedSOPClassUID": CT if i % 3 else MR}],
            "instance_count": 1,
        }
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[SQLCatalog]:
    """60 series, their index built; the sequence path is not loaded yet."""
    with open_catalog(catalog_url) as opened:
        assert isinstance(opened, SQLCatalog)
        opened.import_series(_docs(60))
        assert opened.count("Modality:CT") == 30
        yield opened


def test_other_queries_answer_while_a_demand_column_is_read(
    catalog: SQLCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = threading.Event()
    real = catalog.top_level_values

    def slow(head: str, uids: list[str] | None) -> Iterator[tuple[str, Any]]:
        if head == "ReferencedImageSequence" and uids is None:
            reading.set()
            time.sleep(READ_SECONDS)  # a million rows' read, in small
        yield from real(head, uids)

    monkeypatch.setattr(catalog, "top_level_values", slow)
    counted: list[int] = []
    loader = threading.Thread(target=lambda: counted.append(catalog.count(f"{FIELD}:{CT}")))
    loader.start()
    assert reading.wait(10)
    start = time.monotonic()
    assert catalog.count("Modality:MR") == 30
    waited = time.monotonic() - start
    loader.join(30)
    assert counted == [40]
    assert waited < READ_SECONDS / 2, f"the query waited {waited:.2f} s for the column"
    # loaded once: a second query for the field does not read the catalog again
    reading.clear()
    assert catalog.count(f"{FIELD}:{MR}") == 20
    assert not reading.is_set()


def test_a_series_changed_while_its_column_was_read_gets_its_new_value(
    catalog: SQLCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading, changed = threading.Event(), threading.Event()
    real = catalog.top_level_values

    def stale(head: str, uids: list[str] | None) -> Iterator[tuple[str, Any]]:
        if head != "ReferencedImageSequence" or uids is not None:
            yield from real(head, uids)
            return
        values = list(real(head, uids))  # read before the change below
        reading.set()
        assert changed.wait(10)
        yield from values

    monkeypatch.setattr(catalog, "top_level_values", stale)
    counted: list[int] = []
    loader = threading.Thread(target=lambda: counted.append(catalog.count(f"{FIELD}:{MR}")))
    loader.start()
    assert reading.wait(10)
    # series 0 (MR) is removed and comes back as CT, as a re-ingest would change it
    with catalog._transaction() as cur:
        cur.execute(catalog._sql("UPDATE series SET dirty = 1 WHERE series_uid = ?"),
                    ("1.2.3.0",))  # fmt: skip
    catalog.finalize_series(["1.2.3.0"])  # no instance rows: the series goes
    doc = _docs(1)[0]
    doc["ReferencedImageSequence"] = [{"ReferencedSOPClassUID": CT}]
    assert catalog.import_series([doc]) == 1
    assert catalog.count("Modality:MR") == 30  # a refresh, while the column is read
    changed.set()
    loader.join(30)
    assert counted and catalog.count(f"{FIELD}:{MR}") == 19
    assert catalog.count(f"{FIELD}:{CT}") == 41
