"""Worker processes that end with the process that started them (issue 13, finding 9).

A worker forked by multiprocessing's forkserver inherits the write end of the forkserver's
"alive" pipe, and the forkserver leaves only when that end is closed everywhere: a worker
keeps it (and so the forkserver, and so itself) alive after its parent is killed with
``kill -9``. :func:`die_with_parent`, run first in each worker, closes its copy and asks
Linux to SIGKILL the worker when its own parent (the forkserver) ends. Used by ingest's
workers and by the de-identified copy's pool; it depends on no layer.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Close this worker's copy of the forkserver's "alive" pipe, ask Linux to SIGKILL it
    when its parent ends, and leave at once if ``parent_pid`` (the process that started the
    work) is gone already. Workers that call it must start no processes of their own."""
    try:
        from multiprocessing import forkserver
    except ImportError:  # no fd passing here (Windows): no forkserver either
        forkserver = None  # type: ignore[assignment]
    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive, int):
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]
    name = ctypes.util.find_library("c")
    if name is not None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        os._exit(0)
    except PermissionError:
        pass
