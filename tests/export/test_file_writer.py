"""An export's files written past the page cache (``O_DIRECT``) hold the same bytes and
digest as the ones written through it, whatever their length; where a file system refuses
``O_DIRECT`` the writer falls back; larger files stream; a short source is an error."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from radcurate.export import file_writer
from radcurate.export.file_writer import SourceRange, write_file

#: lengths around the 4 kB block: under one block, exactly whole blocks, a partial last one
LENGTHS = [1, 4095, 4096, 8192, 524_288 + 2_980, 3 * 4096 + 1]


def _source(tmp_path: Path, length: int, seed: int = 1) -> Path:
    path = tmp_path / f"source-{length}.bin"
    path.write_bytes(hashlib.shake_256(str(seed).encode()).digest(length))
    return path


def _write(target: Path, head: bytes, source: Path, tail: bytes) -> str:
    digest = hashlib.sha256()
    fd = os.open(source, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        write_file(target, [head, SourceRange(fd, 0, size), tail], digest)
    finally:
        os.close(fd)
    return digest.hexdigest()


def _cached_pages(path: Path) -> int:
    """Pages of ``path`` in the page cache (util-linux ``fincore``)."""
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "PAGES", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.split()[0])


@pytest.mark.parametrize("length", LENGTHS)
def test_direct_and_buffered_write_the_same_bytes(
    tmp_path: Path, length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path, length)
    head, tail = b"HEAD" * 37, b"tail!"
    expected = head + source.read_bytes() + tail
    monkeypatch.setenv("RADCURATE_EXPORT_DIRECT_IO", "1")
    direct = _write(tmp_path / "direct.bin", head, source, tail)
    monkeypatch.setenv("RADCURATE_EXPORT_DIRECT_IO", "0")
    buffered = _write(tmp_path / "buffered.bin", head, source, tail)
    assert (tmp_path / "direct.bin").read_bytes() == expected
    assert (tmp_path / "buffered.bin").read_bytes() == expected
    assert direct == buffered == hashlib.sha256(expected).hexdigest()


def test_a_direct_write_leaves_at_most_its_last_block_in_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checks the write really went past the cache (its point), not only that it is right."""
    source = _source(tmp_path, 524_288 + 2_980)
    monkeypatch.setenv("RADCURATE_EXPORT_DIRECT_IO", "1")
    _write(tmp_path / "direct.bin", b"", source, b"")
    monkeypatch.setenv("RADCURATE_EXPORT_DIRECT_IO", "0")
    _write(tmp_path / "buffered.bin", b"", source, b"")
    assert _cached_pages(tmp_path / "direct.bin") <= 1  # the partial last block
    assert _cached_pages(tmp_path / "buffered.bin") >= 128


def test_a_file_system_refusing_direct_io_gets_the_bytes_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def refusing(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", refusing)
    source = _source(tmp_path, 70_001)
    digest = _write(tmp_path / "out.bin", b"h", source, b"t")
    expected = b"h" + source.read_bytes() + b"t"
    assert (tmp_path / "out.bin").read_bytes() == expected
    assert digest == hashlib.sha256(expected).hexdigest()


def test_a_large_file_streams_with_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_writer, "ASSEMBLE_MAX_BYTES", 10_000)
    source = _source(tmp_path, 3_000_017)
    digest = _write(tmp_path / "out.bin", b"head", source, b"tail")
    expected = b"head" + source.read_bytes() + b"tail"
    assert (tmp_path / "out.bin").read_bytes() == expected
    assert digest == hashlib.sha256(expected).hexdigest()


def test_a_source_shorter_than_its_range_is_an_error(tmp_path: Path) -> None:
    source = _source(tmp_path, 5_000)
    fd = os.open(source, os.O_RDONLY)
    try:
        with pytest.raises(OSError, match="source ended 1000 bytes early"):
            write_file(tmp_path / "out.bin", [SourceRange(fd, 0, 6_000)])
    finally:
        os.close(fd)
