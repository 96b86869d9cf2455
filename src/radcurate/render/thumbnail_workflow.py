"""Thumbnails as a workflow: render each series' thumbnail into the cache and record whether
its pixels decode (``qc.undecodable``, ``qc.undecodable_reason``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from radcurate.render.cache import THUMBNAILS_VERSION, ThumbnailCache, content_key
from radcurate.workflow.step import SeriesItem, Workflow


class ThumbnailParams(BaseModel):
    """Parameters of the thumbnails workflow."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(256, ge=32, le=1024, description="Longest side of a thumbnail, pixels")
    rerender: bool = Field(False, description="Render again even when a thumbnail is cached")


class ThumbnailsWorkflow(Workflow):
    """Render thumbnails into ``$RADCURATE_HOME/thumbnails`` (the cache the server reads)."""

    name = "thumbnails"
    title = "Thumbnails"
    description = (
        "Renders each series' thumbnail into the cache and records qc.undecodable "
        "(and qc.undecodable_reason) when its pixels cannot be decoded."
    )
    version = THUMBNAILS_VERSION
    Params = ThumbnailParams

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        assert isinstance(params, ThumbnailParams)
        cache = ThumbnailCache(item.settings.home / "thumbnails", params.size)
        # the workflow records qc.undecodable itself (its results below)
        path, meta = cache.generate(
            item.catalog, item.series_uid, force=params.rerender, record=False
        )
        if meta is None:  # cached: its metadata sits beside it
            meta = cache.metadata(path)
        if meta.get("undecodable"):
            reason = str(meta.get("reason") or "pixel data could not be decoded")
            return {"qc": {"undecodable": True, "undecodable_reason": reason}}
        return {"qc": {"undecodable": False}}

    def input_hash(self, item: SeriesItem) -> str:
        return content_key(item.instances, 0)
