"""Finding files: recursive, any layout, DICOMDIRs honoured, deterministic order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from radcurate.dicom.reading import UnreadableDicomError, dicomdir_references
from radcurate.storage.originals import REPLACED_FOLDER


@dataclass
class Folder:
    """Files directly inside one folder (absolute, sorted) and problems met looking for them."""

    path: str
    files: list[str]
    missing: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    #: ``files`` is every regular file of the folder (a walk), not a chosen few (a DICOMDIR)
    complete: bool = False


def _is_dicomdir_name(path: str) -> bool:
    return os.path.basename(path).upper() == "DICOMDIR"


def scan(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Folder]:
    """Yield folders with their files, walking directories recursively in sorted order.

    A path naming a DICOMDIR yields the files it references (and reports those
    it lists but which do not exist). A path that does not exist is reported
    as missing rather than stopping the scan.
    """
    for raw in paths:
        path = os.path.abspath(os.fspath(raw))
        if os.path.isdir(path):
            yield from _walk(path)
        elif os.path.isfile(path):
            if _is_dicomdir_name(path):
                yield from _from_dicomdir(path)
            else:
                yield Folder(os.path.dirname(path), [path])
        else:
            yield Folder(os.path.dirname(path), [], [(path, "no such file or folder")])


#: folders a file store keeps for itself, never ingested (storage/originals.py, the receiver)
STORE_BOOKKEEPING = frozenset({REPLACED_FOLDER, ".incoming"})


#: the reason given for a folder that cannot be listed (its files are not taken as gone)
UNLISTABLE = "cannot list folder"


def _walk(root: str) -> Iterator[Folder]:
    def on_error(exc: OSError) -> None:
        errors.append((str(exc.filename), f"{UNLISTABLE}: {exc.strerror}"))

    errors: list[tuple[str, str]] = []
    for current, dirs, files in os.walk(root, onerror=on_error, followlinks=False):
        # a store's own bookkeeping: replaced originals and files still arriving
        dirs[:] = sorted(d for d in dirs if d not in STORE_BOOKKEEPING)
        found = [os.path.join(current, f) for f in sorted(files)]
        regular = [f for f in found if os.path.isfile(f)]
        problems, errors[:] = list(errors), []
        if regular or problems:
            yield Folder(current, regular, problems, complete=True)
    if errors:
        yield Folder(root, [], list(errors))


def _from_dicomdir(path: str) -> Iterator[Folder]:
    try:
        referenced, missing = dicomdir_references(Path(path))
    except UnreadableDicomError as exc:
        yield Folder(os.path.dirname(path), [], [(path, f"unreadable DICOMDIR: {exc}")])
        return
    by_folder: dict[str, list[str]] = {}
    for file in referenced:
        absolute = os.path.abspath(file)
        by_folder.setdefault(os.path.dirname(absolute), []).append(absolute)
    problems = [(m, f"listed in DICOMDIR {path} but missing") for m in missing]
    for folder in sorted(by_folder):
        yield Folder(folder, sorted(set(by_folder[folder])))
    if problems:
        yield Folder(os.path.dirname(path), [], problems)
