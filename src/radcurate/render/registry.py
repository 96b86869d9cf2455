"""The renderer registry: renderers are plugins of the group ``radcurate.renderers``.

A renderer is any object with a ``name``, a ``score(series) -> int`` (0: cannot
render it; the highest score wins) and a ``render(series, options) -> Rendering``.
Renderers are published under the entry-point group ``radcurate.renderers``;
each entry point names either a renderer object or a zero-argument callable
(e.g. a class) returning one.  Loading goes through the one plugin mechanism,
:class:`radcurate.plugins.Registry`: lazily, on first use, and a renderer that
fails to load is logged and listed by :meth:`RendererRegistry.errors` while the
others keep working.  Built-ins are registered the same way (pyproject entry
points); :data:`BUILTIN_RENDERERS` is the fallback used for any built-in whose
entry point is not installed (an editable checkout whose metadata predates them).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, runtime_checkable

from radcurate.plugins import GROUPS, PluginError, Registry
from radcurate.render.result import Rendering, RenderOptions, SeriesInput

__all__ = [
    "BUILTIN_RENDERERS",
    "ENTRY_POINT_GROUP",
    "Renderer",
    "RendererRegistry",
    "default_registry",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = GROUPS["renderers"]

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


def _instantiate(name: str, target: object) -> Renderer:
    """A renderer object from an entry point's target (an instance, or a factory/class)."""
    obj = target
    if isinstance(target, type) or (callable(target) and not isinstance(target, Renderer)):
        obj = target()
    if not isinstance(obj, Renderer):
        raise TypeError(f"renderer {name!r} ({target!r}) has no name/score/render")
    return obj


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
        self._plugins: Registry[Renderer] = Registry(
            group,
            check=_instantiate,
            builtins=BUILTIN_RENDERERS if fallback is None else fallback,
        )
        self._renderers: dict[str, Renderer] = {}
        self._loaded = False
        self._lock = threading.Lock()

    def register(self, renderer: Renderer, *, replace: bool = False) -> None:
        """Add a renderer (third parties may also call this at run time)."""
        self._ensure_loaded()
        with self._lock:
            if renderer.name in self._renderers and not replace:
                raise ValueError(f"a renderer named {renderer.name!r} is already registered")
            self._renderers[renderer.name] = renderer

    def unregister(self, name: str) -> None:
        """Remove a renderer by name (no error if absent)."""
        self._ensure_loaded()
        with self._lock:
            self._renderers.pop(name, None)

    def get(self, name: str) -> Renderer:
        """The renderer called ``name`` (``KeyError`` if none loads under that name)."""
        self._ensure_loaded()
        return self._renderers[name]

    def names(self) -> list[str]:
        """Names of the renderers that loaded, sorted."""
        self._ensure_loaded()
        return sorted(self._renderers)

    def errors(self) -> list[PluginError]:
        """Renderer plugins that could not be loaded (each also logged as a warning)."""
        self._ensure_loaded()
        return self._plugins.errors()

    def select(self, series: SeriesInput) -> Renderer:
        """The renderer with the highest positive score for ``series`` (ties: by name).

        Raises
        ------
        LookupError
            When no renderer accepts the series.
        """
        self._ensure_loaded()
        best: tuple[int, str] | None = None
        for name, renderer in list(self._renderers.items()):
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
            # keyed by the renderer's own name, which is what a Rendering reports
            loaded = self._plugins.load_all()
            self._renderers = {r.name: r for r in loaded.values()}
            self._loaded = True


_DEFAULT: RendererRegistry | None = None
_DEFAULT_LOCK = threading.Lock()


def default_registry() -> RendererRegistry:
    """The process-wide registry (entry points + built-in fallback), created on first use."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = RendererRegistry()
        return _DEFAULT
