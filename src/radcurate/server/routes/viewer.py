"""The viewer's data: a rendered slice in any plane, the series (or a SEG) as a NIfTI volume."""

from __future__ import annotations

import io
import os
import tempfile
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from radcurate.render.api import render_slice
from radcurate.render.volume import seg_label_volume, series_volume, write_nifti
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES, SeriesNotFoundError, error_response
from radcurate.server.schemas import ErrorDetail

router = APIRouter(prefix="/series", tags=["viewer"], responses=ERROR_RESPONSES)

Plane = Literal["native", "axial", "coronal", "sagittal"]


@router.get(
    "/{series_uid}/slice",
    operation_id="get_slice",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The slice (PNG)"}},
)
def get_slice(
    series_uid: str,
    catalog: CatalogDep,
    index: Annotated[int | None, Query(ge=0, description="Slice index (default: middle)")] = None,
    plane: Plane = "native",
    window: Annotated[float | None, Query(gt=0, description="Window width")] = None,
    level: Annotated[float | None, Query(description="Window centre")] = None,
    size: Annotated[int | None, Query(ge=16, le=4096, description="Longest side in px")] = None,
) -> Response:
    """One slice as a PNG: any index, the acquired plane or a reformat, window/level given."""
    if catalog.series_document(series_uid) is None:
        raise SeriesNotFoundError(series_uid)
    try:
        rendering = render_slice(
            catalog, series_uid, index, plane=plane, window=window, level=level, size=size
        )
    except IndexError as exc:
        return error_response(400, ErrorDetail(code="index_out_of_range", message=str(exc)))
    except ValueError as exc:
        return error_response(400, ErrorDetail(code="invalid_slice", message=str(exc)))
    buffer = io.BytesIO()
    rendering.image.save(buffer, format="PNG")
    headers = {
        "X-Slice-Index": str(rendering.slice_index if rendering.slice_index is not None else "")
    }
    return Response(buffer.getvalue(), media_type="image/png", headers=headers)


@router.get(
    "/{series_uid}/volume.nii.gz",
    operation_id="get_volume",
    response_class=FileResponse,
    responses={200: {"content": {"application/gzip": {}}, "description": "NIfTI-1 volume"}},
)
def get_volume(series_uid: str, catalog: CatalogDep) -> Response:
    """The series as a NIfTI volume in RAS; for a SEG, its label volume on the referenced grid."""
    document = catalog.series_document(series_uid)
    if document is None:
        raise SeriesNotFoundError(series_uid)
    try:
        if document.get("Modality") == "SEG":
            volume = seg_label_volume(catalog, series_uid)
        else:
            volume = series_volume(catalog, series_uid)
    except ValueError as exc:
        return error_response(400, ErrorDetail(code="not_a_volume", message=str(exc)))
    handle, name = tempfile.mkstemp(suffix=".nii.gz", prefix="radcurate-")
    os.close(handle)
    write_nifti(volume, name)
    return FileResponse(
        name,
        media_type="application/gzip",
        filename=f"{series_uid}.nii.gz",
        background=BackgroundTask(os.remove, name),
    )
