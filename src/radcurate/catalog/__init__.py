"""The catalog: index of series, instances and fields, chosen by URL."""

from __future__ import annotations

from pathlib import Path

from radcurate.catalog.base import CatalogBackend, CatalogError, SearchPage

__all__ = ["CatalogBackend", "CatalogError", "SearchPage", "normalize_catalog_url", "open_catalog"]


def normalize_catalog_url(url: str) -> str:
    """Accept a plain file path as the embedded catalog at that path.

    Examples
    --------
    >>> normalize_catalog_url("/tmp/x.sqlite")
    'sqlite:////tmp/x.sqlite'
    >>> normalize_catalog_url("postgresql://u@h/db")
    'postgresql://u@h/db'
    """
    if "://" in url:
        return url
    return f"sqlite:///{Path(url).expanduser().resolve()}"


def open_catalog(url: str) -> CatalogBackend:
    """Open (creating and migrating if needed) the catalog at ``url``.

    ``sqlite:///path`` is the embedded default; ``postgresql://...`` (or
    ``postgres://``) a PostgreSQL database that must already exist.
    """
    url = normalize_catalog_url(url)
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        from radcurate.catalog.sqlite import SQLiteCatalog

        return SQLiteCatalog(url)
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        from radcurate.catalog.postgres import PostgresCatalog

        return PostgresCatalog(url)
    raise CatalogError(
        f"unknown catalog URL scheme {scheme!r} in {url!r}: use sqlite:///path or postgresql://..."
    )
