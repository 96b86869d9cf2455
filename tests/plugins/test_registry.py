"""radcurate.plugins.Registry: lazy, thread-safe, first-wins on clashes, broken plugins reported."""

from __future__ import annotations

import ast
import doctest
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from pathlib import Path

import pytest

import radcurate.plugins
from radcurate.plugins import (
    GROUPS,
    PluginError,
    PluginLoadError,
    PluginNotFound,
    Registry,
)
from radcurate.render.registry import BUILTIN_RENDERERS, RendererRegistry


def install_distribution(
    root: Path, name: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]
) -> Path:
    """An installed distribution as importlib.metadata sees one: modules plus a dist-info folder."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"  # as installers name it
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
            for group, points in entry_points.items()
        )
    )
    return root


@pytest.fixture
def group() -> str:
    """A group no other test (or installed package) publishes in."""
    return f"radcurate.test_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def module_prefix() -> str:
    return f"radcurate_test_plugin_{uuid.uuid4().hex[:8]}"


def test_names_import_nothing_and_get_imports_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str, module_prefix: str
) -> None:
    first, second = f"{module_prefix}_a", f"{module_prefix}_b"
    root = install_distribution(
        tmp_path / "site",
        "lazy-plugins",
        {group: {"a": f"{first}:PLUGIN", "b": f"{second}:PLUGIN"}},
        {first: "PLUGIN = 'a'\n", second: "PLUGIN = 'b'\n"},
    )
    monkeypatch.syspath_prepend(str(root))
    registry: Registry[object] = Registry(group)
    assert registry.names() == ["a", "b"]
    assert first not in sys.modules and second not in sys.modules
    assert registry.get("a") == "a"
    assert first in sys.modules and second not in sys.modules
    assert registry.load_all() == {"a": "a", "b": "b"}
    assert registry.errors() == []


def test_importing_the_module_imports_no_plugin_and_no_layer() -> None:
    code = (
        "import sys, radcurate.plugins\n"
        "print(sorted(m for m in sys.modules if m.startswith('radcurate')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['radcurate', 'radcurate.plugins']"


def test_the_module_is_a_leaf_importing_the_standard_library_only() -> None:
    tree = ast.parse(Path(radcurate.plugins.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= sys.stdlib_module_names


def test_unknown_name_lists_the_available_ones(group: str) -> None:
    registry: Registry[object] = Registry(group)
    registry.register("alpha", 1)
    registry.register("beta", 2)
    with pytest.raises(PluginNotFound) as caught:
        registry.get("gamma")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == f"no {group} plugin named 'gamma' (available: alpha, beta)"
    assert caught.value.available == ["alpha", "beta"]


def test_register_replace_and_unregister(group: str) -> None:
    registry: Registry[str] = Registry(group, check=lambda name, target: f"{name}={target}")
    registry.register("x", 1)
    assert registry.get("x") == "x=1"
    with pytest.raises(ValueError, match="already registered"):
        registry.register("x", 2)
    registry.register("x", 2, replace=True)
    assert registry.get("x") == "x=2"
    registry.refresh()  # in-process registrations survive a re-read of the metadata
    assert registry.names() == ["x"] and registry.get("x") == "x=2"
    registry.unregister("x")
    assert registry.names() == []


def test_check_rejects_an_invalid_plugin(group: str) -> None:
    def only_callables(name: str, target: object) -> object:
        if not callable(target):
            raise TypeError(f"{name!r} is not callable")
        return target

    registry: Registry[object] = Registry(group, check=only_callables)
    registry.register("good", len)
    registry.register("bad", 42)
    assert registry.load_all() == {"good": len}
    [error] = registry.errors()
    assert error == PluginError(group, "bad", "42", "TypeError: 'bad' is not callable")
    with pytest.raises(PluginLoadError, match="TypeError: 'bad' is not callable"):
        registry.get("bad")


def test_same_name_from_two_distributions_first_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str, module_prefix: str
) -> None:
    one, two = f"{module_prefix}_one", f"{module_prefix}_two"
    for dist, module in (("dist-two", two), ("dist-one", one)):  # dist-one ends up first
        root = install_distribution(
            tmp_path / dist, dist, {group: {"twin": f"{module}:X"}}, {module: f"X = {module!r}\n"}
        )
        monkeypatch.syspath_prepend(str(root))
    registry: Registry[object] = Registry(group)
    assert registry.names() == ["twin"]
    assert registry.get("twin") == one
    [clash] = registry.errors()
    assert (clash.group, clash.name, clash.target) == (group, "twin", f"{two}:X")
    assert "dist-two" in clash.error and "dist-one" in clash.error
    assert two not in sys.modules


def test_refresh_sees_a_newly_installed_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str, module_prefix: str
) -> None:
    registry: Registry[object] = Registry(group)
    assert registry.names() == []
    root = install_distribution(
        tmp_path / "site", "late", {group: {"late": f"{module_prefix}:X"}}, {module_prefix: "X=1"}
    )
    monkeypatch.syspath_prepend(str(root))
    assert registry.names() == []  # cached until refreshed
    registry.refresh()
    assert registry.names() == ["late"] and registry.get("late") == 1


def test_builtins_fill_in_for_missing_metadata_and_entry_points_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str, module_prefix: str
) -> None:
    root = install_distribution(
        tmp_path / "site", "pub", {group: {"shared": f"{module_prefix}:FROM_METADATA"}},
        {module_prefix: "FROM_METADATA = 'metadata'\nFROM_BUILTIN = 'builtin'\n"},
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(root))
    builtins = {"shared": f"{module_prefix}:FROM_BUILTIN", "only": f"{module_prefix}:FROM_BUILTIN"}
    registry: Registry[object] = Registry(group, builtins=builtins)
    assert registry.load_all() == {"only": "builtin", "shared": "metadata"}
    assert registry.errors() == []  # a built-in fallback is not a clash


def test_a_broken_plugin_is_logged_once_and_reported(
    group: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry: Registry[object] = Registry(group, builtins={"gone": "radcurate_no_such_module:X"})
    registry.register("fine", "ok")
    with caplog.at_level("WARNING", logger="radcurate.plugins"):
        assert registry.load_all() == {"fine": "ok"}
        assert registry.load_all() == {"fine": "ok"}
    [record] = caplog.records
    assert "radcurate_no_such_module" in record.getMessage()
    [error] = registry.errors()
    assert error.error == "ModuleNotFoundError: No module named 'radcurate_no_such_module'"
    with pytest.raises(PluginLoadError) as caught:
        registry.get("gone")
    assert caught.value.error is error
    assert str(caught.value) == (
        f"cannot load {group} plugin 'gone' (radcurate_no_such_module:X): "
        "ModuleNotFoundError: No module named 'radcurate_no_such_module'"
    )


def test_concurrent_first_use_loads_once(group: str) -> None:
    calls: list[str] = []

    def slow_check(name: str, target: object) -> object:
        calls.append(name)
        time.sleep(0.05)
        return object()

    registry: Registry[object] = Registry(group, check=slow_check)
    registry.register("p", None)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(registry.get("p"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["p"] and len(results) == 8 and len({id(r) for r in results}) == 1


def test_groups_are_namespaced() -> None:
    assert set(GROUPS) == {"renderers", "annotators", "qc_checks", "exporters", "workflows"}
    assert all(value == f"radcurate.{key}" for key, value in GROUPS.items())


def test_renderer_registry_reports_broken_renderers_and_keeps_the_rest() -> None:
    fallback = {"card": BUILTIN_RENDERERS["card"], "bad": "radcurate_no_such_module:R"}
    registry = RendererRegistry(group=None, fallback=fallback)
    assert registry.names() == ["card"]
    [error] = registry.errors()
    assert (error.name, error.target) == ("bad", "radcurate_no_such_module:R")
    not_a_renderer = RendererRegistry(group=None, fallback={"odd": "math:pi"})
    assert not_a_renderer.names() == []
    assert "has no name/score/render" in not_a_renderer.errors()[0].error


def test_builtins_load_and_the_renderer_fallback_matches_the_entry_points() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    published = tomllib.loads(pyproject.read_text())["project"]["entry-points"]
    assert published[GROUPS["renderers"]] == BUILTIN_RENDERERS
    for group, points in published.items():
        if group.startswith("radcurate."):
            registry: Registry[object] = Registry(group, builtins=points)
            assert set(registry.load_all()) >= set(points), registry.errors()


def test_docstring_examples() -> None:
    result = doctest.testmod(radcurate.plugins)
    assert result.attempted > 0 and result.failed == 0
