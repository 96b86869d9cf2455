"""A third-party package installed with pip plugs in; its broken part is reported, not raised."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from radcurate.plugins import GROUPS, PluginLoadError, Registry
from radcurate.render import RendererRegistry, RenderOptions, SeriesInput
from tests.plugins.conftest import PACKAGE

BROKEN_REASON = "ModuleNotFoundError: No module named 'radcurate_example_missing_dependency'"


def series(modality: str, instances: int) -> SeriesInput:
    # the stripes renderer reads the document and counts instances; no catalog needed
    return SeriesInput(
        cast(Any, None), "1.2.3", {"Modality": modality}, [cast(Any, None)] * instances
    )


def test_it_was_installed_by_pip(example_plugin: Path) -> None:
    [info] = example_plugin.glob("radcurate_example_plugin-1.0.0.dist-info")
    assert (info / "INSTALLER").read_text().strip() == "pip"
    assert (example_plugin / PACKAGE / "__init__.py").is_file()


def test_its_renderer_is_discovered_lazily_and_renders(example_plugin: Path) -> None:
    registry = RendererRegistry()
    plugins = Registry(GROUPS["renderers"])
    assert {"stripes", "image", "card"} <= set(plugins.names())
    assert PACKAGE not in sys.modules  # listing names imported nothing
    assert "stripes" in registry.names()
    ot = series("OT", 4)
    assert registry.select(ot).name == "stripes"
    assert registry.get("stripes").score(series("CT", 4)) == 0
    rendering = registry.get("stripes").render(ot, RenderOptions(size=32))
    assert (rendering.renderer, rendering.caption) == ("stripes", "OT - 4 instance(s)")
    pixels = np.asarray(rendering.image)
    assert pixels.shape == (32, 32, 3)
    assert pixels[0, 0].tolist() == [230, 160, 40] and pixels[31, 0].tolist() == [20, 20, 20]
    assert registry.errors() == []


def test_its_broken_plugin_is_reported_and_the_good_ones_still_load(
    example_plugin: Path, caplog: pytest.LogCaptureFixture
) -> None:
    annotators: Registry[object] = Registry(GROUPS["annotators"])
    assert "broken" in annotators.names()
    annotators.register("in_process", len)  # a good one beside it
    with caplog.at_level("WARNING", logger="radcurate.plugins"):
        loaded = annotators.load_all()
    assert "broken" not in loaded and loaded["in_process"] is len
    [error] = [e for e in annotators.errors() if e.name == "broken"]
    assert (error.group, error.target) == ("radcurate.annotators", f"{PACKAGE}.broken:annotate")
    assert error.error == BROKEN_REASON
    assert BROKEN_REASON in caplog.text
    # every group loads what it can and never raises
    everything = {key: Registry(group).load_all() for key, group in GROUPS.items()}
    assert "stripes" in everything["renderers"] and "broken" not in everything["annotators"]


def test_get_of_the_broken_plugin_says_which_and_why(example_plugin: Path) -> None:
    annotators: Registry[object] = Registry(GROUPS["annotators"])
    with pytest.raises(PluginLoadError) as caught:
        annotators.get("broken")
    assert str(caught.value) == (
        f"cannot load radcurate.annotators plugin 'broken' ({PACKAGE}.broken:annotate): "
        + BROKEN_REASON
    )
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


def test_refresh_finds_it_once_its_folder_is_on_the_path(
    example_plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry: Registry[object] = Registry(GROUPS["renderers"])
    assert "stripes" not in registry.names()
    monkeypatch.syspath_prepend(str(example_plugin_site))
    registry.refresh()
    assert "stripes" in registry.names()
    assert PACKAGE not in sys.modules
