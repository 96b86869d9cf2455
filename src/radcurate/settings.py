"""Settings: one typed object, read from the environment once and passed explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_HOME = "RADCURATE_HOME"
ENV_CATALOG = "RADCURATE_CATALOG"
ENV_STORE = "RADCURATE_STORE"


def _default_home() -> Path:
    return Path(os.environ.get(ENV_HOME) or Path.home() / ".radcurate")


@dataclass(frozen=True)
class Settings:
    """Where radcurate keeps its catalog and (when copying) its files.

    ``catalog_url`` defaults to ``sqlite:///<home>/catalog.sqlite`` and
    ``store_url`` to ``file://<home>/store``; ``RADCURATE_CATALOG``,
    ``RADCURATE_STORE`` and ``RADCURATE_HOME`` override them.
    """

    home: Path = field(default_factory=_default_home)
    catalog_url: str = ""
    store_url: str = ""

    def __post_init__(self) -> None:
        if not self.catalog_url:
            object.__setattr__(self, "catalog_url", f"sqlite:///{self.home / 'catalog.sqlite'}")
        if not self.store_url:
            object.__setattr__(self, "store_url", f"file://{self.home / 'store'}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from environment variables (``os.environ`` unless given)."""
        env = dict(os.environ) if environ is None else environ
        home = Path(env[ENV_HOME]) if env.get(ENV_HOME) else Path.home() / ".radcurate"
        return cls(
            home=home,
            catalog_url=env.get(ENV_CATALOG, ""),
            store_url=env.get(ENV_STORE, ""),
        )
