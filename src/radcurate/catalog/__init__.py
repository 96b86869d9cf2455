"""The catalog: index of series, instances and fields, chosen by URL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from radcurate.catalog.base import (
    CatalogBackend,
    CatalogError,
    CurationBackend,
    JobsBackend,
    ResultsBackend,
    SearchBackend,
    SearchPage,
    SeriesBackend,
    SettingsBackend,
)

if TYPE_CHECKING:
    from radcurate.catalog.sql import SQLCatalog

__all__ = [
    "CatalogBackend",
    "CatalogError",
    "CurationBackend",
    "JobsBackend",
    "ResultsBackend",
    "SearchBackend",
    "SearchPage",
    "SeriesBackend",
    "SettingsBackend",
    "normalize_catalog_url",
    "open_catalog",
]


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


def open_catalog(url: str, *, index_dir: Path | None = None) -> CatalogBackend:
    """Open (creating and migrating if needed) the catalog at ``url``.

    ``sqlite:///path`` is the embedded default; ``postgresql://...`` (or
    ``postgres://``) a PostgreSQL database that must already exist.
    ``index_dir``: where the search index keeps its snapshot, so a large
    catalog's index loads in seconds instead of being rebuilt (docs/search.md).
    """
    url = normalize_catalog_url(url)
    scheme = url.split("://", 1)[0].lower()
    catalog: SQLCatalog
    if scheme == "sqlite":
        from radcurate.catalog.sqlite import SQLiteCatalog

        catalog = SQLiteCatalog(url)
    elif scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        from radcurate.catalog.postgres import PostgresCatalog

        catalog = PostgresCatalog(url)
    else:
        raise CatalogError(
            f"unknown catalog URL scheme {scheme!r} in {url!r}: "
            "use sqlite:///path or postgresql://..."
        )
    catalog.index_snapshot_dir = index_dir
    return catalog
