"""Issue 13, finding 1: searches answered 500 while an ingest ran.

``search`` built its mask under the index lock, released it, and took it again for
``index.counts(mask)``; a refresh by another thread in between grew the index, and the
mask no longer fitted (``IndexError: boolean index did not match``). A query must see one
consistent snapshot: here one writer appends series while reader threads share the
catalog object (as the server's threads do) and run every kind of query.
"""

from __future__ import annotations

import threading
from typing import Any

from radcurate.catalog import open_catalog
from radcurate.catalog.aggregations import AggregationRequest
from radcurate.catalog.sql import SQLCatalog


def _docs(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "SeriesInstanceUID": f"1.2.5.{i}",
            "StudyInstanceUID": f"1.2.6.{i // 2}",
            "PatientID": f"P{i // 4}",
            "Modality": "CT" if i % 3 else "MR",
            "SeriesDescription": f"series {i} lung" if i % 2 else f"series {i}",
            "SliceThickness": (i % 5) + 0.5,
        }
        for i in range(start, start + count)
    ]


def test_queries_see_one_snapshot_while_series_are_added(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog, open_catalog(catalog_url) as writer:
        assert isinstance(catalog, SQLCatalog) and isinstance(writer, SQLCatalog)
        writer.import_series(_docs(0, 200))
        assert catalog.count("*") == 200
        stop = threading.Event()
        failures: list[BaseException] = []

        def write() -> None:
            start = 200
            while not stop.is_set() and start < 200 + 60 * 40:
                writer.import_series(_docs(start, 40))
                start += 40

        def read(kind: int) -> None:
            while not stop.is_set():
                try:
                    if kind == 0:
                        page = catalog.search("lung Modality:CT", limit=5, sort="-SliceThickness")
                        assert page.total >= len(page.documents)
                    elif kind == 1:
                        catalog.counts("Modality:MR")
                        catalog.series_uids("SliceThickness:>2")
                    else:
                        catalog.aggregate(
                            "lung",
                            [AggregationRequest("Modality"), AggregationRequest("PatientID")],
                        )
                        catalog.suggest_values("Modality", "C", "lung")
                except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                    failures.append(exc)
                    return

        threads = [threading.Thread(target=write)] + [
            threading.Thread(target=read, args=(k % 3,)) for k in range(6)
        ]
        for thread in threads:
            thread.start()
        threads[0].join(120)
        stop.set()
        for thread in threads[1:]:
            thread.join(60)
        assert not failures, repr(failures[0])
        assert catalog.count("*") == writer.count("*")
