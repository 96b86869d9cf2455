"""docs/plugins.md covers every plugin group, every built-in plugin and the worked example."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from radcurate.plugins import GROUPS
from tests.plugins.conftest import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "plugins.md").read_text()


def published(pyproject: Path) -> dict[str, dict[str, str]]:
    """The ``radcurate.*`` entry-point groups of a pyproject: group -> name -> target."""
    groups = tomllib.loads(pyproject.read_text())["project"].get("entry-points", {})
    return {group: points for group, points in groups.items() if group.startswith("radcurate.")}


BUILTINS = [(group, name) for group, points in published(ROOT / "pyproject.toml").items()
            for name in points]  # fmt: skip


def test_radcurate_publishes_built_ins() -> None:
    assert ("radcurate.renderers", "image") in BUILTINS


@pytest.mark.parametrize(("group", "name"), BUILTINS)
def test_every_built_in_is_documented(group: str, name: str) -> None:
    assert group in GROUPS.values(), f"{group} is not in radcurate.plugins.GROUPS"
    assert f"`{name}`" in DOC, f"built-in {group} plugin `{name}` is not in docs/plugins.md"


@pytest.mark.parametrize(("key", "group"), sorted(GROUPS.items()))
def test_every_group_is_in_the_table(key: str, group: str) -> None:
    assert f"| `{key}` | `{group}` |" in DOC


def test_the_worked_example_is_the_tested_package() -> None:
    pyproject = (EXAMPLE / "pyproject.toml").read_text()
    assert pyproject[pyproject.index("[build-system]") :].rstrip() in DOC
    for source in sorted((EXAMPLE / "src").rglob("*.py")):
        assert source.read_text().rstrip() in DOC, f"{source.name} differs from docs/plugins.md"
