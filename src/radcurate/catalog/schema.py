"""Versioned catalog schema: an ordered list of migrations per SQL dialect.

A migration is applied once, in a transaction, and recorded in
``schema_migrations``. Never edit a released migration; append a new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from radcurate.catalog.base import CatalogError
from radcurate.catalog.layout_store import LAYOUT_TABLES
from radcurate.catalog.schema_access import AUTH_TABLES, PROJECT_TABLES


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        """The statements for ``dialect`` (``sqlite`` or ``postgresql``)."""
        return self.sqlite if dialect == "sqlite" else self.postgresql


def _both(
    statements: str, *, json_type_sqlite: str = "TEXT", json_type_pg: str = "JSONB"
) -> dict[str, tuple[str, ...]]:
    parts = [s.strip() for s in statements.split(";") if s.strip()]
    return {
        "sqlite": tuple(
            p.replace("{JSON}", json_type_sqlite).replace("{REAL}", "REAL") for p in parts
        ),
        "postgresql": tuple(
            p.replace("{JSON}", json_type_pg).replace("{REAL}", "DOUBLE PRECISION") for p in parts
        ),
    }


_INITIAL = _both(
    """
    CREATE TABLE series (
        series_uid TEXT PRIMARY KEY,
        study_uid TEXT NOT NULL,
        patient_id TEXT,
        modality TEXT,
        header {JSON} NOT NULL,
        header_source TEXT NOT NULL,
        header_problems {JSON},
        facts {JSON},
        instance_count INTEGER NOT NULL DEFAULT 0,
        dirty INTEGER NOT NULL DEFAULT 1,
        created_at {REAL} NOT NULL,
        updated_at {REAL} NOT NULL
    );
    CREATE INDEX series_study ON series (study_uid);
    CREATE INDEX series_patient ON series (patient_id);
    CREATE INDEX series_modality ON series (modality);
    CREATE INDEX series_dirty ON series (dirty);
    CREATE TABLE instances (
        id INTEGER PRIMARY KEY {AUTOINCREMENT},
        source TEXT NOT NULL UNIQUE,
        source_dir TEXT NOT NULL,
        location TEXT NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        study_uid TEXT NOT NULL,
        series_uid TEXT NOT NULL,
        sop_uid TEXT NOT NULL,
        sop_class_uid TEXT,
        instance_number INTEGER,
        pos_x {REAL},
        pos_y {REAL},
        pos_z {REAL},
        orientation {JSON},
        transfer_syntax TEXT,
        image_rows INTEGER,
        image_columns INTEGER,
        frames INTEGER,
        attrs {JSON}
    );
    CREATE INDEX instances_series ON instances (series_uid);
    CREATE INDEX instances_sop ON instances (sop_uid);
    CREATE INDEX instances_dir ON instances (source_dir);
    CREATE TABLE ingest_errors (
        source TEXT PRIMARY KEY,
        source_dir TEXT NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        reason TEXT NOT NULL,
        at {REAL} NOT NULL
    );
    CREATE INDEX ingest_errors_dir ON ingest_errors (source_dir);
    CREATE TABLE fields (
        name TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        series_count BIGINT NOT NULL DEFAULT 0
    )
    """
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="series, instances, ingest errors, field registry",
        sqlite=tuple(s.replace("{AUTOINCREMENT}", "AUTOINCREMENT") for s in _INITIAL["sqlite"]),
        postgresql=tuple(
            s.replace(
                "INTEGER PRIMARY KEY {AUTOINCREMENT}",
                "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            )
            for s in _INITIAL["postgresql"]
        ),
    ),
)

_RESULTS = _both(
    """
    CREATE TABLE series_results (
        series_uid TEXT NOT NULL,
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value {JSON} NOT NULL,
        updated_at {REAL} NOT NULL,
        PRIMARY KEY (series_uid, namespace, key)
    );
    CREATE INDEX series_results_key ON series_results (namespace, key)
    """
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        version=2,
        description="ai.* and qc.* results, kept apart from the DICOM document",
        sqlite=_RESULTS["sqlite"],
        postgresql=_RESULTS["postgresql"],
    ),
)

# The search index (catalog/index/) follows the catalog by change numbers: every write
# stamps the series it touches with ``seq`` (SQLite: a counter bumped once per write
# transaction; PostgreSQL: the writing transaction's id), and a deleted series leaves a
# tombstone. ``search_doc`` is the document cut down to the indexed fields.
_CHANGES = _both(
    """
    ALTER TABLE series ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE series ADD COLUMN search_doc {JSON};
    CREATE INDEX series_seq ON series (seq, series_uid);
    CREATE TABLE deleted_series (
        series_uid TEXT PRIMARY KEY,
        seq BIGINT NOT NULL
    );
    CREATE INDEX deleted_series_seq ON deleted_series (seq);
    CREATE TABLE change_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        value BIGINT NOT NULL
    );
    INSERT INTO change_counter (id, value) VALUES (1, 1)
    """
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        version=5,
        description="change numbers, tombstones and indexed-field documents for the search index",
        sqlite=_CHANGES["sqlite"],
        postgresql=_CHANGES["postgresql"],
    ),
)

_JOBS = _both(
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        params {JSON},
        done BIGINT NOT NULL DEFAULT 0,
        total BIGINT,
        message TEXT NOT NULL DEFAULT '',
        result {JSON},
        error TEXT,
        owner TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        created_at {REAL} NOT NULL,
        started_at {REAL},
        finished_at {REAL},
        heartbeat_at {REAL}
    );
    CREATE INDEX jobs_created ON jobs (created_at);
    CREATE INDEX jobs_state ON jobs (state)
    """
)

# version 4 follows the curation tables (version 3); keep MIGRATIONS sorted by version
MIGRATIONS = tuple(
    sorted(
        (
            *MIGRATIONS,
            Migration(
                version=4,
                description="jobs: background work, its progress and heartbeat",
                sqlite=_JOBS["sqlite"],
                postgresql=_JOBS["postgresql"],
            ),
        ),
        key=lambda m: m.version,
    )
)

# Membership rows (series_tags, dataset_series, dataset_version_series) carry no foreign
# key: a per-row check costs more than the 100,000-row insert itself on PostgreSQL. The
# curation code deletes them with their tag/dataset and share-locks the tag/dataset row
# while it adds members, so no orphan can appear.
_CURATION = _both(
    """
    CREATE TABLE tags (
        id INTEGER PRIMARY KEY {AUTOINCREMENT},
        name TEXT NOT NULL,
        name_lower TEXT NOT NULL UNIQUE,
        color TEXT,
        created_at {REAL} NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE series_tags (
        tag_id BIGINT NOT NULL,
        series_uid TEXT NOT NULL,
        added_at {REAL} NOT NULL,
        PRIMARY KEY (tag_id, series_uid)
    );
    CREATE INDEX series_tags_series ON series_tags (series_uid);
    CREATE TABLE datasets (
        id INTEGER PRIMARY KEY {AUTOINCREMENT},
        name TEXT NOT NULL,
        name_lower TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at {REAL} NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE dataset_series (
        dataset_id BIGINT NOT NULL,
        series_uid TEXT NOT NULL,
        added_at {REAL} NOT NULL,
        PRIMARY KEY (dataset_id, series_uid)
    );
    CREATE INDEX dataset_series_series ON dataset_series (series_uid);
    CREATE TABLE dataset_versions (
        dataset_id BIGINT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        series_count BIGINT NOT NULL,
        instance_count BIGINT NOT NULL,
        created_at {REAL} NOT NULL,
        created_by TEXT NOT NULL,
        note TEXT,
        PRIMARY KEY (dataset_id, version)
    );
    CREATE TABLE dataset_version_series (
        dataset_id BIGINT NOT NULL,
        version INTEGER NOT NULL,
        series_uid TEXT NOT NULL,
        sop_uids TEXT NOT NULL,
        PRIMARY KEY (dataset_id, version, series_uid)
    );
    CREATE TABLE selections (
        id TEXT PRIMARY KEY,
        query {JSON},
        include_uids {JSON} NOT NULL,
        exclude_uids {JSON} NOT NULL,
        created_at {REAL} NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY {AUTOINCREMENT},
        at {REAL} NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        selection {JSON},
        series_count BIGINT,
        detail {JSON}
    );
    CREATE INDEX audit_log_action ON audit_log (action, id);
    CREATE TABLE user_settings (
        user_name TEXT PRIMARY KEY,
        settings {JSON} NOT NULL,
        updated_at {REAL} NOT NULL
    )
    """
)

# version 3 sits before the jobs (4) and search-index (5) steps: keep MIGRATIONS sorted
MIGRATIONS = tuple(
    sorted(
        (
            *MIGRATIONS,
            Migration(
                version=3,
                description="curation: tags, datasets and frozen versions, selections, audit log, "
                "user settings",
                sqlite=tuple(
                    s.replace("{AUTOINCREMENT}", "AUTOINCREMENT") for s in _CURATION["sqlite"]
                ),
                postgresql=tuple(
                    s.replace(
                        "INTEGER PRIMARY KEY {AUTOINCREMENT}",
                        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                    )
                    for s in _CURATION["postgresql"]
                ),
            ),
        ),
        key=lambda m: m.version,
    )
)


def apply_migrations(cur: Any, dialect: str, sql: Callable[[str], str], url: str) -> None:
    """Apply the migrations ``cur``'s database lacks (the caller holds the migration lock).

    Raises
    ------
    CatalogError
        When the database was written by a newer radcurate.
    """
    cur.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    cur.execute("SELECT version FROM schema_migrations")
    applied = {int(row[0]) for row in cur.fetchall()}
    current = max(applied, default=0)
    if current > LATEST_VERSION:
        raise CatalogError(
            f"catalog {url} has schema version {current}, newer than this radcurate understands "
            f"({LATEST_VERSION}); upgrade radcurate"
        )
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version in applied:
            continue
        for statement in migration.statements(dialect):
            cur.execute(statement)
        cur.execute(
            sql(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)"
            ),
            (migration.version, migration.description, time.time()),
        )


# Results with provenance (catalog/result_store.py): one row per (series, producer) holding the
# producer's whole result set as one JSON payload ({"ai": {...}, "qc": {...}}), so a producer's
# results for a series are replaced atomically by one row write and a million-series write is a
# million rows, not ten million key rows. Replaced payloads move to result_history. ``seq`` is the
# change number the search index follows (same counter as series.seq).
_RESULT_SETS = _both(
    """
    CREATE TABLE result_sets (
        series_uid TEXT NOT NULL,
        producer TEXT NOT NULL,
        version TEXT NOT NULL,
        params {JSON} NOT NULL,
        params_hash TEXT NOT NULL,
        job_id TEXT,
        input_hash TEXT,
        actor TEXT NOT NULL,
        written_at {REAL} NOT NULL,
        payload {JSON} NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (series_uid, producer)
    );
    CREATE INDEX result_sets_seq ON result_sets (seq);
    CREATE INDEX result_sets_job ON result_sets (job_id);
    CREATE TABLE result_history (
        id INTEGER PRIMARY KEY {AUTOINCREMENT},
        series_uid TEXT NOT NULL,
        producer TEXT NOT NULL,
        version TEXT NOT NULL,
        params {JSON} NOT NULL,
        params_hash TEXT NOT NULL,
        job_id TEXT,
        input_hash TEXT,
        actor TEXT NOT NULL,
        written_at {REAL} NOT NULL,
        payload {JSON} NOT NULL,
        replaced_at {REAL} NOT NULL
    );
    CREATE INDEX result_history_series ON result_history (series_uid, producer, id);
    CREATE TABLE result_deletions (
        series_uid TEXT NOT NULL,
        seq BIGINT NOT NULL
    );
    CREATE INDEX result_deletions_seq ON result_deletions (seq)
    """
)

_LEGACY_RESULTS = {
    "sqlite": (
        "INSERT INTO result_sets (series_uid, producer, version, params, params_hash, job_id, "
        "input_hash, actor, written_at, payload, seq) "
        "SELECT series_uid, 'manual', '', '{}', '', NULL, NULL, 'unknown', MAX(updated_at), "
        "json_group_object(namespace, json(obj)), 0 FROM ("
        "SELECT series_uid, namespace, json_group_object(key, json(value)) AS obj, "
        "MAX(updated_at) AS updated_at FROM series_results GROUP BY series_uid, namespace"
        ") GROUP BY series_uid",
        "DROP TABLE series_results",
    ),
    "postgresql": (
        "INSERT INTO result_sets (series_uid, producer, version, params, params_hash, job_id, "
        "input_hash, actor, written_at, payload, seq) "
        "SELECT series_uid, 'manual', '', '{}'::jsonb, '', NULL, NULL, 'unknown', "
        "MAX(updated_at), jsonb_object_agg(namespace, obj), 0 FROM ("
        "SELECT series_uid, namespace, jsonb_object_agg(key, value) AS obj, "
        "MAX(updated_at) AS updated_at FROM series_results GROUP BY series_uid, namespace"
        ") AS grouped GROUP BY series_uid",
        "DROP TABLE series_results",
    ),
}

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        version=6,
        description="results with provenance: one payload per series and producer, history",
        sqlite=(
            *(s.replace("{AUTOINCREMENT}", "AUTOINCREMENT") for s in _RESULT_SETS["sqlite"]),
            *_LEGACY_RESULTS["sqlite"],
        ),
        postgresql=(
            *(
                s.replace(
                    "INTEGER PRIMARY KEY {AUTOINCREMENT}",
                    "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                )
                for s in _RESULT_SETS["postgresql"]
            ),
            *_LEGACY_RESULTS["postgresql"],
        ),
    ),
)

# Per-series errors of a job (a workflow records the series it could not process and goes on).
_JOB_ERRORS = _both(
    """
    CREATE TABLE job_errors (
        job_id TEXT NOT NULL,
        series_uid TEXT NOT NULL,
        error TEXT NOT NULL,
        at {REAL} NOT NULL,
        PRIMARY KEY (job_id, series_uid)
    )
    """
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        version=7,
        description="per-series errors of jobs",
        sqlite=_JOB_ERRORS["sqlite"],
        postgresql=_JOB_ERRORS["postgresql"],
    ),
)
# Review status per series (catalog/review_store.py), keyed by SeriesInstanceUID without a
# foreign key: a review outlives its series being deleted and holds again when it returns.
# ``seq`` is the change number the search index follows (as result_sets.seq). Every change is
# an audit_log entry targeting the series: the index on target reads one series' history.
_REVIEWS = _both(
    """
    CREATE TABLE reviews (
        series_uid TEXT PRIMARY KEY,
        status TEXT NOT NULL
            CHECK (status IN ('accepted', 'rejected', 'questionable', 'pending')),
        reviewer TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        reviewed_at {REAL} NOT NULL,
        seq BIGINT NOT NULL
    );
    CREATE INDEX reviews_seq ON reviews (seq);
    CREATE INDEX reviews_status ON reviews (status, series_uid);
    CREATE INDEX audit_log_target ON audit_log (target, id)
    """
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        version=8,
        description="review status of series (accepted, rejected, questionable, pending)",
        sqlite=_REVIEWS["sqlite"],
        postgresql=_REVIEWS["postgresql"],
    ),
)
_AUTH = _both(AUTH_TABLES)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        version=9,
        description="users, API tokens and login sessions",
        sqlite=_AUTH["sqlite"],
        postgresql=_AUTH["postgresql"],
    ),
)
_PROJECTS = _both(PROJECT_TABLES)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        version=10,
        description="projects (members, series, AE titles) and the image access log",
        sqlite=tuple(s.replace("{AUTOINCREMENT}", "AUTOINCREMENT") for s in _PROJECTS["sqlite"]),
        postgresql=tuple(
            s.replace(
                "INTEGER PRIMARY KEY {AUTOINCREMENT}",
                "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            )
            for s in _PROJECTS["postgresql"]
        ),
    ),
)
_LAYOUTS = _both(LAYOUT_TABLES)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        version=11,
        description="shared dashboard layouts",
        sqlite=_LAYOUTS["sqlite"],
        postgresql=_LAYOUTS["postgresql"],
    ),
)
LATEST_VERSION = max(m.version for m in MIGRATIONS)
