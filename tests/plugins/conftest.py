"""The example plugin, installed for real (a wheel, then ``pip install --target``), once."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent / "example_plugin"
PACKAGE = "radcurate_example_plugin"

# a package to install, not tests: importing broken.py fails on purpose (--doctest-modules too)
collect_ignore = ["example_plugin"]


def build_wheel(project: Path, dest: Path) -> Path:
    """A pure-Python wheel of ``project`` (``src/`` layout), from its pyproject ``[project]`` table.

    setuptools here cannot build wheels without the ``wheel`` package (not a dependency of
    radcurate), so the test makes the archive itself; pip then installs it like any other.
    """
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    dist = re.sub(r"[-_.]+", "_", meta["name"]).lower()
    info = f"{dist}-{meta['version']}.dist-info"
    files: dict[str, bytes] = {}
    for path in sorted((project / "src").rglob("*.py")):
        files[path.relative_to(project / "src").as_posix()] = path.read_bytes()
    metadata = ["Metadata-Version: 2.1", f"Name: {meta['name']}", f"Version: {meta['version']}"]
    metadata += [f"Requires-Dist: {req}" for req in meta.get("dependencies", [])]
    files[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests/plugins/conftest.py\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    points = ""
    for group, entries in meta.get("entry-points", {}).items():
        points += f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) + "\n"
    files[f"{info}/entry_points.txt"] = points.encode()
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = dest / f"{dist}-{meta['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@pytest.fixture(scope="session")
def example_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where pip installed the example plugin (not on ``sys.path``)."""
    wheel = build_wheel(EXAMPLE, tmp_path_factory.mktemp("wheel"))
    site = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index"]
    command += ["--disable-pip-version-check", "--target", str(site), str(wheel)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return site


@pytest.fixture
def example_plugin(example_plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example plugin on ``sys.path`` for one test; its modules are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(example_plugin_site))
    yield example_plugin_site
    for module in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[module]
