"""One phantom workspace per test session (about 5 s to build)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.render.cases import Workspace, golden_renderings


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The phantom archive and its catalog."""
    yield Workspace(tmp_path_factory.mktemp("render"))


@pytest.fixture(scope="session")
def renderings(workspace: Workspace) -> dict[str, Any]:
    """The renderings the goldens show."""
    return golden_renderings(workspace)
