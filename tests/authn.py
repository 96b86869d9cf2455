"""Users and API tokens for tests that act as several people (real tokens, real checks)."""

from __future__ import annotations

from radcurate.auth import Role, max_scope
from radcurate.catalog import CatalogBackend


def password_of(name: str) -> str:
    """The password tests give user ``name`` (long enough for the policy)."""
    return f"{name}-correct-horse"


def bearer(catalog: CatalogBackend, name: str, role: str = "curator") -> dict[str, str]:
    """Create user ``name`` with ``role`` and a token of the widest scope the role allows;
    the request headers that present it."""
    if catalog.auth.user(name) is None:
        catalog.auth.add_user(name, role, password_of(name), actor="test")
    secret, _ = catalog.auth.create_token(
        name, "test", max_scope(Role(role)), None, actor="test"
    )
    return {"Authorization": f"Bearer {secret}"}
