"""The tables of who may do what (schema 9 and 10): users, tokens, sessions, projects, the
access log. SQL text only; ``schema.py`` turns it into migrations for both engines."""

# Users, API tokens and login sessions (catalog/auth_store.py). Names are unique ignoring case
# (``name_lower``); tokens and sessions are kept only as the SHA-256 of their secret. A user
# is never deleted while rows name them: deleting one removes their tokens and sessions in
# the same transaction, and the audit log keeps their name as text.
AUTH_TABLES = """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        name_lower TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'curator', 'admin')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at {REAL} NOT NULL,
        last_login_at {REAL}
    );
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users (name),
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
        created_at {REAL} NOT NULL,
        expires_at {REAL},
        revoked_at {REAL},
        last_used_at {REAL}
    );
    CREATE INDEX api_tokens_user ON api_tokens (user_name);
    CREATE TABLE login_sessions (
        secret_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users (name),
        created_at {REAL} NOT NULL,
        expires_at {REAL} NOT NULL
    );
    CREATE INDEX login_sessions_user ON login_sessions (user_name)
    """

# Projects (catalog/project_store.py, docs/auth.md): series belong to one or more projects,
# users are members of projects; a signed-in non-admin sees only their projects' series.
# Series membership has no foreign key (as reviews): it outlives a re-ingest. A project may
# own a DICOM AE title: a C-STORE to it lands in the project.
# The access log (catalog/access_log.py) records who viewed which series' images, for a
# privacy officer; its rows name the patient so they can be filtered by patient.
PROJECT_TABLES = """
    CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        name_lower TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        ae_title TEXT UNIQUE,
        created_at {REAL} NOT NULL
    );
    CREATE TABLE project_members (
        project TEXT NOT NULL REFERENCES projects (name),
        user_name TEXT NOT NULL REFERENCES users (name),
        PRIMARY KEY (project, user_name)
    );
    CREATE INDEX project_members_user ON project_members (user_name);
    CREATE TABLE project_series (
        project TEXT NOT NULL REFERENCES projects (name),
        series_uid TEXT NOT NULL,
        PRIMARY KEY (project, series_uid)
    );
    CREATE INDEX project_series_uid ON project_series (series_uid);
    CREATE TABLE access_log (
        id INTEGER PRIMARY KEY {AUTOINCREMENT},
        at {REAL} NOT NULL,
        user_name TEXT NOT NULL,
        action TEXT NOT NULL,
        patient_id TEXT,
        study_uid TEXT,
        series_uid TEXT
    );
    CREATE INDEX access_log_at ON access_log (at);
    CREATE INDEX access_log_patient ON access_log (patient_id, at);
    CREATE INDEX access_log_user ON access_log (user_name, at)
    """
