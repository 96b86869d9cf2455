"""``series_keys`` pages in code-point UID order even where the database collates otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from radcurate.catalog import open_catalog
from radcurate.ingest.pipeline import finalize_dirty
from tests.conftest import pg_admin_url
from tests.series_rows import one_instance_series

#: code-point order; a collation that ignores punctuation puts 1.23.x before 1.2.35
UIDS = ["1.2.35", "1.2.4", "1.23.4", "1.23.5", "1.3"]


@pytest.fixture
def punctuation_blind_pg_url(fresh_pg_url: str) -> Iterator[str]:
    """A database whose default ICU collation ignores punctuation (dropped with its parent)."""
    import psycopg

    admin = pg_admin_url()
    assert admin is not None
    name = fresh_pg_url.rsplit("/", 1)[1] + "_icu"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" LOCALE_PROVIDER icu ICU_LOCALE 'und-u-ka-shifted' "
            "LOCALE 'C.UTF-8' TEMPLATE template0"
        )
    yield fresh_pg_url.rsplit("/", 1)[0] + "/" + name


def test_pages_follow_python_order_under_any_collation(punctuation_blind_pg_url: str) -> None:
    with open_catalog(punctuation_blind_pg_url) as catalog:
        ordered = catalog._read("SELECT x FROM (VALUES ('1.2.35'), ('1.23.4')) t(x) ORDER BY x")  # type: ignore[attr-defined]
        assert [r[0] for r in ordered] == ["1.23.4", "1.2.35"], "the collation should differ"
        rows = [
            {"SeriesInstanceUID": uid, "StudyInstanceUID": "9", "PatientID": "P", "Modality": "CT"}
            for uid in UIDS
        ]
        catalog.write_batch(one_instance_series(rows))
        finalize_dirty(catalog)
        for size in (1, 2, 3):
            seen: list[str] = []
            after = None
            while True:
                page = catalog.series_keys("Modality", ["CT"], after=after, limit=size)
                seen.extend(k.series_uid for k in page)
                if len(page) < size:
                    break
                after = page[-1].series_uid
            assert seen == sorted(UIDS), size
