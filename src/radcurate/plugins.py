"""One plugin mechanism: entry-point groups, loaded lazily, for built-ins and third parties alike.

Renderers, annotators, QC checks, exporters and workflows are published as
entry points (``[project.entry-points."radcurate.renderers"]`` in a package's
``pyproject.toml``); radcurate's own built-ins are registered the same way.
A :class:`Registry` lists a group's names from the installed metadata without
importing anything, imports a plugin the first time it is asked for, and keeps
a plugin that fails to load out of the way: :meth:`Registry.load_all` logs and
records it (:meth:`Registry.errors`) and returns the others, while
:meth:`Registry.get` of that one plugin raises :class:`PluginLoadError` saying
which plugin failed and why.

There are no process-wide registries here: callers own their ``Registry``.
This module is a leaf: it imports the standard library only.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar, cast

__all__ = [
    "GROUPS",
    "PluginError",
    "PluginLoadError",
    "PluginNotFound",
    "Registry",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: group key -> entry-point group name
GROUPS: dict[str, str] = {
    "renderers": "radcurate.renderers",
    "annotators": "radcurate.annotators",
    "qc_checks": "radcurate.qc_checks",
    "exporters": "radcurate.exporters",
    "workflows": "radcurate.workflows",
}


@dataclass(frozen=True)
class PluginError:
    """A plugin that could not be loaded.

    Attributes
    ----------
    group
        Entry-point group, e.g. ``"radcurate.renderers"``.
    name
        The plugin's name in that group.
    target
        What it points at (``"module:attr"``), or the object registered in-process.
    error
        One line: the exception's type and message, e.g.
        ``"ModuleNotFoundError: No module named 'x'"``.
    """

    group: str
    name: str
    target: str
    error: str

    def __str__(self) -> str:
        return f"{self.group} plugin {self.name!r} ({self.target}): {self.error}"


class PluginNotFound(KeyError):
    """No plugin of that name in the group; the message lists the available names."""

    def __init__(self, group: str, name: str, available: list[str]) -> None:
        listed = ", ".join(available) if available else "none"
        super().__init__(f"no {group} plugin named {name!r} (available: {listed})")
        self.group = group
        self.name = name
        self.available = available

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0])


class PluginLoadError(RuntimeError):
    """A plugin exists but cannot be loaded (import failed, or not a valid plugin)."""

    def __init__(self, error: PluginError) -> None:
        super().__init__(f"cannot load {error}")
        self.error = error


@dataclass(frozen=True)
class _Source:
    """Where a plugin comes from, before it is loaded."""

    target: str  # "module:attr", or a description of an in-process object
    point: EntryPoint | None = None  # entry point or built-in fallback; None: in-process
    obj: object = None  # the in-process object


def _one_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def _distribution(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    name = getattr(dist, "name", None)
    return str(name) if name else "an unknown distribution"


def _identity(name: str, target: object) -> object:
    return target


class Registry(Generic[T]):
    """The plugins of one entry-point group, loaded lazily and at most once each.

    Parameters
    ----------
    group
        Entry-point group name, e.g. ``GROUPS["renderers"]``; ``None`` reads no
        entry points (built-ins and in-process registrations only).
    check
        ``check(name, loaded_target) -> plugin``: instantiates and validates what an
        entry point points at (e.g. a class -> an instance); raises ``TypeError``
        when it is not a valid plugin. Default: the target itself.
    builtins
        ``name -> "module:attr"`` used for built-ins whose entry point metadata is
        missing (an editable checkout installed before they were added).

    Examples
    --------
    >>> registry: Registry[object] = Registry("radcurate.doctest")
    >>> registry.register("answer", 42)
    >>> registry.names(), registry.get("answer")
    (['answer'], 42)
    >>> try:
    ...     registry.get("question")
    ... except PluginNotFound as exc:
    ...     print(exc)
    no radcurate.doctest plugin named 'question' (available: answer)
    """

    def __init__(
        self,
        group: str | None,
        *,
        check: Callable[[str, object], T] | None = None,
        builtins: Mapping[str, str] | None = None,
    ) -> None:
        self.group = group
        self._label = group or "(no group)"
        self._check = check if check is not None else cast(Callable[[str, object], T], _identity)
        self._builtins = dict(builtins or {})
        self._registered: dict[str, _Source] = {}
        self._sources: dict[str, _Source] | None = None  # None: metadata not read yet
        self._clashes: list[PluginError] = []
        self._loaded: dict[str, T] = {}
        self._failed: dict[str, PluginError] = {}
        # re-entrant: a plugin's module may itself look up plugins while it is imported
        self._lock = threading.RLock()

    def names(self) -> list[str]:
        """Names of every plugin of the group, sorted, broken ones included; imports nothing."""
        with self._lock:
            return sorted(self._discover())

    def get(self, name: str) -> T:
        """The plugin called ``name``, imported and checked on first use.

        Raises
        ------
        PluginNotFound
            When the group has no plugin of that name.
        PluginLoadError
            When it cannot be imported or is not a valid plugin.
        """
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            if name in self._failed:
                raise PluginLoadError(self._failed[name])
            sources = self._discover()
            source = sources.get(name)
            if source is None:
                raise PluginNotFound(self._label, name, sorted(sources))
            try:
                target = source.point.load() if source.point is not None else source.obj
                plugin = self._check(name, target)
            except Exception as exc:  # any failure of third-party code is that plugin's
                error = PluginError(self._label, name, source.target, _one_line(exc))
                self._failed[name] = error
                log.warning("cannot load %s", error)
                raise PluginLoadError(error) from exc
            self._loaded[name] = plugin
            return plugin

    def load_all(self) -> dict[str, T]:
        """Every plugin that loads, by name; broken ones are logged and recorded, not raised."""
        with self._lock:
            plugins: dict[str, T] = {}
            for name in sorted(self._discover()):
                try:
                    plugins[name] = self.get(name)
                except PluginLoadError:
                    continue
            return plugins

    def errors(self) -> list[PluginError]:
        """Plugins that failed to load so far, and names published twice in the group."""
        with self._lock:
            self._discover()
            return [*self._clashes, *self._failed.values()]

    def register(self, name: str, target: object, *, replace: bool = False) -> None:
        """Add a plugin in-process (tests, notebooks); ``target`` goes through ``check`` on use.

        Raises
        ------
        ValueError
            When ``name`` is already taken and ``replace`` is false.
        """
        with self._lock:
            if not replace and name in self._discover():
                raise ValueError(f"a {self._label} plugin named {name!r} is already registered")
            self._registered[name] = _Source(target=repr(target), obj=target)
            self._forget(name)

    def unregister(self, name: str) -> None:
        """Remove an in-process registration (no error if there is none)."""
        with self._lock:
            if self._registered.pop(name, None) is not None:
                self._forget(name)

    def refresh(self) -> None:
        """Forget the entry points read so far (and what was loaded from them); re-read on use.

        Call it after installing or removing a distribution, or changing ``sys.path``.
        In-process registrations stay.
        """
        with self._lock:
            importlib.invalidate_caches()
            self._sources = None
            self._clashes = []
            self._loaded = {k: v for k, v in self._loaded.items() if k in self._registered}
            self._failed = {k: v for k, v in self._failed.items() if k in self._registered}

    def _forget(self, name: str) -> None:
        self._loaded.pop(name, None)
        self._failed.pop(name, None)

    def _discover(self) -> dict[str, _Source]:
        """Name -> source: in-process registrations, then entry points, then built-ins."""
        if self._sources is None:
            found: dict[str, _Source] = {}
            clashes: list[PluginError] = []
            points = entry_points(group=self.group) if self.group is not None else ()
            for point in points:
                first = found.get(point.name)
                if first is None:
                    found[point.name] = _Source(target=point.value, point=point)
                    continue
                assert first.point is not None
                clashes.append(
                    PluginError(
                        self._label,
                        point.name,
                        point.value,
                        f"DuplicatePlugin: {_distribution(point)} publishes {point.name!r} too; "
                        f"the one from {_distribution(first.point)} ({first.target}) is used",
                    )
                )
            for name, value in self._builtins.items():
                if name not in found:
                    point = EntryPoint(name=name, value=value, group=self._label)
                    found[name] = _Source(target=value, point=point)
            for clash in clashes:
                log.warning("%s", clash)
            self._sources, self._clashes = found, clashes
        return {**self._sources, **self._registered}
