"""Rendering: thumbnails and viewer slices of every kind of DICOM object.

``render_series`` picks a renderer from the :class:`RendererRegistry`
(plug-ins under the entry-point group ``radcurate.renderers``), and
:class:`ThumbnailCache` keeps the results on disk keyed by series content.
Pillow is needed (the ``render`` extra); it is imported on first use.
"""

from __future__ import annotations

from radcurate.imaging.series import load_series
from radcurate.render.api import render, render_series, render_slice
from radcurate.render.cache import RENDERER_VERSION, GenerateReport, ThumbnailCache, generate_all
from radcurate.render.registry import (
    ENTRY_POINT_GROUP,
    Renderer,
    RendererRegistry,
    default_registry,
)
from radcurate.render.result import Rendering, RenderOptions, SeriesInput, UndecodableError

__all__ = [
    "ENTRY_POINT_GROUP",
    "RENDERER_VERSION",
    "GenerateReport",
    "RenderOptions",
    "Renderer",
    "RendererRegistry",
    "Rendering",
    "SeriesInput",
    "ThumbnailCache",
    "UndecodableError",
    "default_registry",
    "generate_all",
    "load_series",
    "render",
    "render_series",
    "render_slice",
]
