"""Random secrets for API tokens and login sessions, and the hash they are kept under.

A secret is 32 random bytes (256 bits) behind a prefix that says what it is (``rct_``: an
API token, ``rcs_``: a session), so a leaked one is recognisable by secret scanners. Only
its SHA-256 is stored: with that much entropy a fast hash is enough, and a lookup is an
indexed equality.

Examples
--------
>>> token = new_secret(TOKEN_PREFIX)
>>> token.startswith("rct_"), len(secret_hash(token))
(True, 64)
"""

from __future__ import annotations

import hashlib
import secrets as _random

TOKEN_PREFIX = "rct_"
SESSION_PREFIX = "rcs_"


def new_secret(prefix: str) -> str:
    """A fresh secret: ``prefix`` and 43 URL-safe characters."""
    return prefix + _random.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """The hex SHA-256 a secret is stored and looked up by."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_password() -> str:
    """A random one-time password (20 URL-safe characters)."""
    return _random.token_urlsafe(15)
