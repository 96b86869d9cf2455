"""radcurate: curate DICOM collections into ML-ready datasets.

Examples
--------
>>> import radcurate
>>> cat = radcurate.open("sqlite:///:memory:")   # doctest: +SKIP
>>> cat.info().series                               # doctest: +SKIP
0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from radcurate.catalog.base import CatalogBackend

__version__ = "0.1.0"


def open(catalog_url: str | None = None) -> CatalogBackend:
    """Open a catalog by URL (``sqlite:///path``, ``postgresql://...``); None opens the default.

    The default location is ``$RADCURATE_CATALOG`` if set, else
    ``sqlite:///$RADCURATE_HOME/catalog.sqlite`` (``~/.radcurate`` by default).
    """
    from radcurate.catalog import open_catalog
    from radcurate.settings import Settings

    settings = Settings.from_env()
    return open_catalog(catalog_url or settings.catalog_url, index_dir=settings.home / "index")
