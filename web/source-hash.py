"""Prints the SHA-256 of the web UI's sources (what scripts/build-web.sh builds from).

The generated API types (web/src/api/schema.d.ts) are left out: they follow the API,
and a change there needs no rebuild unless the app's own code changes with it.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent
TOP_FILES = ("index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts")
GENERATED = {"src/api/schema.d.ts"}


def source_hash(web: Path = WEB) -> str:
    """SHA-256 over the relative path and bytes of every source file, in path order."""
    files = [web / name for name in TOP_FILES if (web / name).is_file()]
    files += [p for p in (web / "src").rglob("*") if p.is_file()]
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(web).as_posix()):
        relative = path.relative_to(web).as_posix()
        if relative in GENERATED:
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


if __name__ == "__main__":
    sys.stdout.write(source_hash() + "\n")
