"""Password hashing with scrypt (RFC 7914, memory-hard; in the standard library).

A hash is stored as ``scrypt$N$r$p$salt$key`` (salt and key in unpadded base64), so the
cost can be raised later and old hashes still verify. ``N=2**15, r=8`` takes 32 MiB and
about 0.1 s a check on the project's 2-core machines, OWASP's minimum for scrypt being
``N=2**17`` at 128 MiB; a server answering many logins at once on small machines is the
reason for the lower figure (docs/auth.md).

Examples
--------
>>> stored = hash_password("correct horse battery", cost=2**10)
>>> verify_password("correct horse battery", stored), verify_password("wrong", stored)
(True, False)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

#: the scrypt cost parameter of new hashes
DEFAULT_COST = 2**15
#: block size and parallelism of new hashes
BLOCK_SIZE = 8
PARALLELISM = 1
#: shortest password accepted
MIN_LENGTH = 10
#: longest password accepted (a bound on the work one request can ask for)
MAX_LENGTH = 1024
_KEY_BYTES = 32


class PasswordError(ValueError):
    """A password the policy refuses (too short, too long)."""


def check_policy(password: str) -> None:
    """Refuse passwords shorter than :data:`MIN_LENGTH` or longer than :data:`MAX_LENGTH`.

    Raises
    ------
    PasswordError
        Saying what the password needs.
    """
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password has at most {MAX_LENGTH} characters")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=_KEY_BYTES
    )


def hash_password(password: str, *, cost: int = DEFAULT_COST) -> str:
    """The stored form of ``password`` (a fresh random salt each call).

    Raises
    ------
    PasswordError
        When the password breaks the policy (:func:`check_policy`).
    """
    check_policy(password)
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, cost, BLOCK_SIZE, PARALLELISM)
    return f"scrypt${cost}${BLOCK_SIZE}${PARALLELISM}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (constant-time compare).

    A malformed stored hash or an over-long password is never a match.
    """
    if len(password) > MAX_LENGTH:
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, _unb64(key))
    except (ValueError, TypeError):
        return False


def dummy_verify() -> None:
    """Spend a check's time on no user, so a login for an unknown name takes as long."""
    verify_password("x" * MIN_LENGTH, _DUMMY)


_DUMMY = f"scrypt${DEFAULT_COST}${BLOCK_SIZE}${PARALLELISM}${_b64(b'0' * 16)}${_b64(b'0' * 32)}"
