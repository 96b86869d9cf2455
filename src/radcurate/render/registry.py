"""The renderer registry: one plug-in mechanism for built-in and third-party renderers.

A renderer is any object with a ``name``, a ``score(series) -> int`` (0: cannot
render it; the highest score wins) and a ``render(series, options) -> Rendering``.
Renderers are published under the entry-point group ``radcurate.renderers``;
each entry point names either a renderer object or a zero-argument callable
(e.g. a class) returning one.  Entry points are loaded lazily, on first use.
Built-ins are registered the same way; :data:`BUILTIN_RENDERERS` is the
fallback used for any built-in whose entry point is not installed (an editable
checkout whose metadata predates them).
"""

from __future__ import annotations

import importlib
import logging
import threading
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from radcurate.render.result import Rendering, RenderOptions, SeriesInput

__all__ = [
    "BUILTIN_RENDERERS",
    "ENTRY_POINT_GROUP",
    "Renderer",
    "RendererRegistry",
    "default_registry",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "radcurate.renderers"

#: built-in renderer name -> "module:attribute" (same targets as the entry points)
BUILTIN_RENDERERS: dict[str, str] = {
    "image": "radcurate.render.image:ImageRenderer",
    "seg": "radcurate.render.seg:SegRenderer",
    "rtstruct": "radcurate.render.rtstruct:RTStructRenderer",
    "sr": "radcurate.render.sr:SRRenderer",
    "waveform": "radcurate.render.waveform:WaveformRenderer",
    "card": "radcurate.render.card:CardRenderer",
}


@runtime_checkable
class Renderer(Protocol):
    """What a renderer plug-in provides."""

    name: str

    def score(self, series: SeriesInput) -> int:
        """How well this renderer fits ``series``: 0 = not at all, higher wins."""

    def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
        """Render ``series``; raise :class:`~radcurate.render.result.UndecodableError`
        when its pixels cannot be decoded."""


def _instantiate(target: object, name: str) -> Renderer:
    """A renderer object from an entry point's target (an instance, or a factory/class)."""
    obj = target
    if isinstance(target, type) or (callable(target) and not isinstance(target, Renderer)):
        obj = target()
    if not isinstance(obj, Renderer):
        raise TypeError(f"renderer {name!r} ({target!r}) has no name/score/render")
    return obj


def _load_dotted(path: str) -> object:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class RendererRegistry:
    """Renderers by name, loaded from entry points on first use.

    Parameters
    ----------
    group
        Entry-point group to load (``None``: none).
    fallback
        ``name -> "module:attr"`` loaded for names the entry points do not provide.

    Examples
    --------
    >>> registry = RendererRegistry(group=None, fallback={})
    >>> registry.names()
    []
    """

    def __init__(
        self,
        group: str | None = ENTRY_POINT_GROUP,
        fallback: dict[str, str] | None = None,
    ) -> None:
        self._group = group
        self._fallback = dict(BUILTIN_RENDERERS if fallback is None else fallback)
        self._renderers: dict[str, Renderer] = {}
        self._loaded = False
        self._lock = threading.Lock()

    def register(self, renderer: Renderer, *, replace: bool = False) -> None:
        """Add a renderer (third parties may also call this at run time)."""
        self._ensure_loaded()
        if renderer.name in self._renderers and not replace:
            raise ValueError(f"a renderer named {renderer.name!r} is already registered")
        self._renderers[renderer.name] = renderer

    def unregister(self, name: str) -> None:
        """Remove a renderer by name (no error if absent)."""
        self._ensure_loaded()
        self._renderers.pop(name, None)

    def get(self, name: str) -> Renderer:
        """The renderer called ``name``."""
        self._ensure_loaded()
        return self._renderers[name]

    def names(self) -> list[str]:
        """Names of the registered renderers, sorted."""
        self._ensure_loaded()
        return sorted(self._renderers)

    def select(self, series: SeriesInput) -> Renderer:
        """The renderer with the highest positive score for ``series`` (ties: by name).

        Raises
        ------
        LookupError
            When no renderer accepts the series.
        """
        self._ensure_loaded()
        best: tuple[int, str] | None = None
        for name, renderer in self._renderers.items():
            try:
                score = int(renderer.score(series))
            except Exception:  # a broken plug-in must not break the gallery
                log.exception("renderer %s failed to score series %s", name, series.series_uid)
                continue
            if score > 0 and (best is None or (score, name) > best):
                best = (score, name)
        if best is None:
            raise LookupError(f"no renderer accepts series {series.series_uid}")
        return self._renderers[best[1]]

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            found: dict[str, Renderer] = {}
            if self._group is not None:
                for point in entry_points(group=self._group):
                    try:
                        found[point.name] = _instantiate(point.load(), point.name)
                    except Exception:  # skip a broken plug-in, keep the rest
                        log.exception("cannot load renderer entry point %s", point.value)
            for name, target in self._fallback.items():
                if name not in found:
                    found[name] = _instantiate(_load_dotted(target), name)
            self._renderers = {r.name: r for r in found.values()}
            self._loaded = True


_DEFAULT: RendererRegistry | None = None


def default_registry() -> RendererRegistry:
    """The process-wide registry (entry points + built-in fallback)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = RendererRegistry()
    return _DEFAULT
