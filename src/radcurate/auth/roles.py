"""Roles, token scopes and the permissions routes declare.

A route declares one :class:`Permission`. A user's :class:`Role` grants permissions in
order (viewer: read; curator: + curate; admin: + admin), and an API token's :class:`Scope`
caps what its user's role grants (a ``read`` token of an admin only reads).

Examples
--------
>>> allows(Role.CURATOR, Scope.ADMIN, Permission.CURATE)
True
>>> allows(Role.ADMIN, Scope.READ, Permission.CURATE)
False
>>> allows(Role.VIEWER, None, Permission.PUBLIC)
True
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """What a route needs."""

    #: anyone, signed in or not (the login page, the app's static files)
    PUBLIC = "public"
    #: read the catalog: search, images, results, datasets
    READ = "read"
    #: change curation: tags, datasets, reviews, workflows, STOW, de-identified export
    CURATE = "curate"
    #: users, tokens of others, deletion of data, identified export, settings
    ADMIN = "admin"


class Role(StrEnum):
    """What a user may do."""

    VIEWER = "viewer"
    CURATOR = "curator"
    ADMIN = "admin"


class Scope(StrEnum):
    """What an API token may do (at most its user's role)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_RANK = {Permission.PUBLIC: 0, Permission.READ: 1, Permission.CURATE: 2, Permission.ADMIN: 3}
_ROLE_RANK = {Role.VIEWER: 1, Role.CURATOR: 2, Role.ADMIN: 3}
_SCOPE_RANK = {Scope.READ: 1, Scope.WRITE: 2, Scope.ADMIN: 3}


def allows(role: Role, scope: Scope | None, permission: Permission) -> bool:
    """Whether a user of ``role`` acting through ``scope`` (None: a session) has ``permission``."""
    granted = _ROLE_RANK[role] if scope is None else min(_ROLE_RANK[role], _SCOPE_RANK[scope])
    return granted >= _RANK[permission]


def max_scope(role: Role) -> Scope:
    """The widest token scope a user of ``role`` can make."""
    return {Role.VIEWER: Scope.READ, Role.CURATOR: Scope.WRITE, Role.ADMIN: Scope.ADMIN}[role]


def scope_within(scope: Scope, cap: Scope) -> bool:
    """Whether ``scope`` is no wider than ``cap``."""
    return _SCOPE_RANK[scope] <= _SCOPE_RANK[cap]
