"""Shared fixtures: a fresh catalog per test on every backend, real PostgreSQL included."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ENV = "RADCURATE_TEST_PG_URL"


def pg_admin_url() -> str | None:
    """The maintenance-database URL of the test PostgreSQL server, if configured."""
    return os.environ.get(PG_ENV) or None


def _require_pg() -> str:
    url = pg_admin_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set; scripts/test.sh starts PostgreSQL and sets it")
        pytest.skip(f"{PG_ENV} not set (run the suite through scripts/test.sh)")
    return url


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A brand-new PostgreSQL database, dropped afterwards."""
    import psycopg

    admin = _require_pg()
    name = f"radcurate_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            # tests may derive more databases from this one's name (name_suffix)
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s",
                (name, name + "\\_%"),
            ).fetchall()
            for (db,) in rows:
                _drop_database(conn, db)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty catalog URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return str(request.getfixturevalue("fresh_pg_url"))


def _drop_database(conn: Any, name: str) -> None:
    """DROP ... WITH (FORCE), retried while an autovacuum worker (which the test role may
    not terminate) still holds the database."""
    import psycopg

    for attempt in range(40):
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            if attempt == 39:
                raise
            time.sleep(0.25)
