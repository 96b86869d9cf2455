"""Identities and permissions: password hashing, API token secrets, roles and scopes.

Pure functions and types with no I/O; the catalog stores users, tokens and sessions
(``catalog/auth_store.py``) and the server decides who is asking (``server/auth.py``).
"""

from radcurate.auth.passwords import PasswordError, hash_password, verify_password
from radcurate.auth.roles import Permission, Role, Scope, allows, max_scope, scope_within
from radcurate.auth.secrets import SESSION_PREFIX, TOKEN_PREFIX, new_secret, secret_hash

__all__ = [
    "SESSION_PREFIX",
    "TOKEN_PREFIX",
    "PasswordError",
    "Permission",
    "Role",
    "Scope",
    "allows",
    "hash_password",
    "max_scope",
    "new_secret",
    "scope_within",
    "secret_hash",
    "verify_password",
]
