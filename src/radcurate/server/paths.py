"""What a file path looks like in an API answer: full for an admin, never absolute for others.

An absolute path tells who runs the server and how its disks are laid out
(``/home/jdoe/studies/...``), and a folder name can be a patient's. Answers
for a non-admin show a path relative to the root it came from when the server
knows that root (the store STOW-RS and the receiver write into), else the file
name only; an admin sees the path as stored, to find and fix the file.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from radcurate.server.auth import authenticate
from radcurate.server.settings import ServerSettings
from radcurate.settings import ENV_STORE, Settings

#: an absolute path (or ``file://`` URL) inside free text such as an OS error message
_ABSOLUTE = re.compile(r"(?:file://)?(?:/|[A-Za-z]:\\)[^\s'\"<>,;()\[\]]*")


def _plain(path: str) -> str:
    """A local path without its ``file://`` scheme; a remote URL's path part."""
    if path.startswith("file://"):
        return path[len("file://") :]
    if path.startswith(("http://", "https://")):
        return urlsplit(path).path
    return path


def _relative(path: str, root: str) -> str | None:
    """``path`` below ``root`` (forward slashes), or None when it is not below it."""
    module = ntpath if "\\" in path or "\\" in root else posixpath
    root = module.normpath(_plain(root))
    path = module.normpath(path)
    try:
        if module.commonpath([path, root]) != root:
            return None
    except ValueError:  # different drives, or one relative and one absolute
        return None
    relative = module.relpath(path, root)
    return None if relative == "." else relative.replace("\\", "/")


def public_path(path: str, *, full: bool, roots: Iterable[str] = ()) -> str:
    """The path of a file as an answer shows it.

    Parameters
    ----------
    path
        As stored: an absolute path, a ``file://`` URL, or a PACS URL.
    full
        The caller is an admin: the path as stored.
    roots
        Folders (or ``file://`` URLs) the server knows files come from; a path
        below one of them is shown relative to the deepest.

    Examples
    --------
    >>> public_path("/srv/in/ct/1.dcm", full=True)
    '/srv/in/ct/1.dcm'
    >>> public_path("/srv/in/ct/1.dcm", full=False)
    '1.dcm'
    >>> public_path("file:///home/r/store/1.2/3.dcm", full=False, roots=["file:///home/r/store"])
    '1.2/3.dcm'
    >>> public_path("C:\\\\data\\\\ct\\\\1.dcm", full=False)
    '1.dcm'
    """
    if full:
        return path
    plain = _plain(path)
    below = [r for r in (_relative(plain, root) for root in roots if root) if r is not None]
    if below:
        return min(below, key=len)
    return ntpath.basename(plain.rstrip("/\\"))  # ntpath splits on both separators


def public_text(text: str, *, full: bool, roots: Iterable[str] = ()) -> str:
    """A message (an OS or pydicom error) with every absolute path in it made public.

    Examples
    --------
    >>> public_text("[Errno 13] Permission denied: '/srv/store/.stow/x.part'", full=False,
    ...             roots=["/srv/store"])
    "[Errno 13] Permission denied: '.stow/x.part'"
    >>> public_text("no such file: /srv/in/ct/1.dcm", full=False, roots=["/srv/store"])
    'no such file: 1.dcm'
    """
    if full:
        return text
    kept = list(roots)
    return _ABSOLUTE.sub(lambda m: public_path(m.group(0), full=False, roots=kept), text)


@dataclass(frozen=True)
class PathView:
    """How paths are shown to one request's principal.

    Parameters
    ----------
    full
        An admin (or auth off: the server's own user): paths as stored.
    roots
        Folders the server writes instances into (its store), shown relative to.
    """

    full: bool
    roots: tuple[str, ...] = ()

    def path(self, path: str) -> str:
        """``path`` as this principal sees it (:func:`public_path`)."""
        return public_path(path, full=self.full, roots=self.roots)

    def text(self, text: str) -> str:
        """A message with its paths as this principal sees them (:func:`public_text`)."""
        return public_text(text, full=self.full, roots=self.roots)


#: the view of a non-admin that knows no roots: file names only (where no request is at hand)
SAFE = PathView(full=False)


def store_root(request: Request) -> str:
    """The store's URL: the app's ``store_url`` (tests), ``$RADCURATE_STORE``, or the home's."""
    configured = getattr(request.app.state, "store_url", None)
    if configured:
        return str(configured)
    settings: ServerSettings = request.app.state.settings
    return os.environ.get(ENV_STORE) or Settings(home=settings.home).store_url


def path_view(request: Request) -> PathView:
    """The :class:`PathView` of ``request``: full paths for an admin only."""
    principal = authenticate(request)
    full = principal is not None and principal.is_admin
    return PathView(full=full, roots=() if full else (store_root(request),))


PathViewDep = Annotated[PathView, Depends(path_view)]
