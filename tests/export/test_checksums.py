"""``SHA256SUMS``: every file of an export but itself, ordered as paths, checkable by
``sha256sum -c``; the count of files it returns is the export report's."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from radcurate.export.manifest import checksums

#: names whose order as strings differs from their order as paths ('-' sorts before '/')
_FILES = ("a/b.dcm", "a-c/d.dcm", "a.txt", "b/c/e.nii.gz", "B.json", "manifest.csv")


def _tree(root: Path) -> None:
    for n, name in enumerate(_FILES):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"file {n}".encode())


def test_every_file_but_itself_in_path_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    known = {"a/b.dcm": "0" * 64}  # taken while copying: not hashed again
    count = checksums(tmp_path, known)
    lines = (tmp_path / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    listed = [line.split("  ", 1)[1] for line in lines]
    expected = sorted(
        p for p in tmp_path.rglob("*") if p.is_file() and p.name != "SHA256SUMS"
    )  # pathlib's order, by components
    assert listed == [p.relative_to(tmp_path).as_posix() for p in expected]
    assert listed.index("a/b.dcm") < listed.index("a-c/d.dcm")  # not the strings' order
    digests = dict(reversed(line.split("  ", 1)) for line in lines)
    assert digests["a/b.dcm"] == "0" * 64
    assert digests["b/c/e.nii.gz"] == hashlib.sha256(b"file 3").hexdigest()
    assert count == len(_FILES) + 1  # the list itself counted


def test_sha256sum_checks_it(tmp_path: Path) -> None:
    _tree(tmp_path)
    checksums(tmp_path)
    done = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "a-c" / "d.dcm").write_bytes(b"changed")
    assert (
        subprocess.run(
            ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, check=False
        ).returncode
        != 0
    )
