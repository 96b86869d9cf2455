"""The viewer's data: a rendered slice in any plane, the series (or a SEG) as a NIfTI volume."""

from __future__ import annotations

import io
import itertools
import json
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.nifti import nifti_gzip
from radcurate.imaging.seg import seg_label_stream
from radcurate.imaging.series import load_series
from radcurate.imaging.volume import series_volume_stream
from radcurate.render.api import render_slice
from radcurate.render.canvas import pil
from radcurate.render.measure import measure, plane_values
from radcurate.render.overlay import render_overlay
from radcurate.render.views import series_views
from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES, SeriesNotFoundError, error_response
from radcurate.server.schemas import ErrorDetail, ErrorResponse
from radcurate.server.scope import VIEW_SERIES_IMAGES

router = APIRouter(prefix="/series", tags=["viewer"], responses=ERROR_RESPONSES)

Plane = Literal["native", "axial", "coronal", "sagittal"]
Shape = Literal["line", "rectangle", "ellipse"]
#: zlib level of the viewer's slices: 1 encodes a 512² CT slice (grey) in ~3 ms instead of
#: ~16 ms (RGB, level 6), 32 kB instead of 29 kB: what keeps scrolling fast (docs/viewer.md)
SLICE_PNG_LEVEL = 1
#: a slice's URL names all it depends on but the files: browsers may reuse it this long
SLICE_MAX_AGE_S = 300


class PlaneViewModel(BaseModel):
    """One plane of the viewer (radcurate.render.views.PlaneView)."""

    available: bool
    count: int = Field(0, description="Slices in the plane")
    index: int = Field(0, description="The slice shown first")
    markers: dict[str, str] | None = Field(
        None, description="top/bottom/left/right -> patient direction letters (L, PA, ...)"
    )
    reason: str | None = None
    native_order: bool = Field(
        False, description="Slice k of this plane is slice k of the acquired plane"
    )
    slice_markers: list[dict[str, str] | None] | None = Field(
        None, description="Each slice's markers when the slices lie in several orientations"
    )


class SeriesViewsModel(BaseModel):
    """How the viewer shows a series (radcurate.render.views.SeriesViews)."""

    kind: str = Field(description="image, text (an SR), or the renderer drawing a picture")
    greyscale: bool = Field(False, description="Window/level applies")
    undecodable: bool = False
    reason: str | None = None
    planes: dict[str, PlaneViewModel] = Field(default_factory=dict)
    text: list[str] = Field(default_factory=list, description="An SR's lines")


@router.get(
    "/{series_uid}/views",
    operation_id="get_views",
    response_model=SeriesViewsModel,
    dependencies=[READ, VIEW_SERIES_IMAGES],
)
def get_views(series_uid: str, catalog: CatalogDep) -> SeriesViewsModel:
    """What the viewer can show: the kind of object, whether window/level applies, each
    plane's slice count, first slice and orientation markers, an SR's text."""
    if catalog.series_document(series_uid) is None:
        raise SeriesNotFoundError(series_uid)
    try:
        views = series_views(catalog, series_uid)
    except KeyError:
        raise SeriesNotFoundError(series_uid) from None
    return SeriesViewsModel.model_validate(views.as_dict())


@router.get(
    "/{series_uid}/slice",
    operation_id="get_slice",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The slice (PNG)"}},
    dependencies=[READ, VIEW_SERIES_IMAGES],
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
    headers = {
        "X-Slice-Index": str(rendering.slice_index if rendering.slice_index is not None else ""),
        "X-Orientation": json.dumps(rendering.details.get("markers") or {}),
        "Cache-Control": f"private, max-age={SLICE_MAX_AGE_S}",
    }
    return Response(_slice_png(rendering.image), media_type="image/png", headers=headers)


def _slice_png(image: Any) -> bytes:
    """The viewer's PNG: one grey channel when the picture is grey (a third of the bytes,
    half the encoding time), zlib level :data:`SLICE_PNG_LEVEL`."""
    if image.mode == "RGB":
        pixels = np.asarray(image)
        red = pixels[..., 0]
        if np.array_equal(red, pixels[..., 1]) and np.array_equal(red, pixels[..., 2]):
            image = pil().fromarray(np.ascontiguousarray(red), "L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=SLICE_PNG_LEVEL)
    return buffer.getvalue()


class MeasurementModel(BaseModel):
    """A length, or a region's statistics of the modality values (radcurate.render.measure)."""

    shape: Shape
    plane_index: int = Field(description="The slice of the plane measured on")
    spacing_mm: list[float] | None = Field(
        None, description="(row, column) mm between the plane's pixels; None when unknown"
    )
    unit: str = Field(description="HU for CT, else 'value' (the rescaled stored values)")
    length_px: float | None = Field(None, description="line: length in picture pixels")
    length_mm: float | None = Field(None, description="line: length in mm")
    pixels: int | None = Field(None, description="region: pixels whose centres lie inside")
    mean: float | None = None
    sd: float | None = Field(None, description="region: population standard deviation")
    min: float | None = None
    max: float | None = None
    area_mm2: float | None = Field(None, description="region: pixels x pixel area")


@router.get(
    "/{series_uid}/measure",
    operation_id="get_measurement",
    response_model=MeasurementModel,
    dependencies=[READ, VIEW_SERIES_IMAGES],
)
def get_measurement(
    series_uid: str,
    catalog: CatalogDep,
    shape: Shape,
    points: Annotated[
        str,
        Query(
            description="x1,y1,x2,y2 in the pixels of the /slice picture of the same plane "
            "and index: a line's ends, or the corners of a rectangle (the ellipse inscribed)"
        ),
    ],
    index: Annotated[int | None, Query(ge=0, description="Slice index (default: middle)")] = None,
    plane: Plane = "native",
) -> MeasurementModel | Response:
    """A length in mm, or the mean, SD, min, max and area of a region, computed from the
    plane's real pixel values (HU for CT), not from the displayed grey levels."""
    if catalog.series_document(series_uid) is None:
        raise SeriesNotFoundError(series_uid)
    try:
        numbers = [float(v) for v in points.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 4:
        message = f"points must be four numbers x1,y1,x2,y2 (got {points[:40]!r})"
        return error_response(400, ErrorDetail(code="invalid_points", message=message))
    try:
        series = load_series(catalog, series_uid)
        view = plane_values(series, plane, index)
        found = measure(view, shape, [numbers[:2], numbers[2:]])
    except IndexError as exc:
        return error_response(400, ErrorDetail(code="index_out_of_range", message=str(exc)))
    except UndecodableError as exc:
        return error_response(422, ErrorDetail(code="undecodable", message=str(exc)))
    except ValueError as exc:
        return error_response(400, ErrorDetail(code="invalid_measurement", message=str(exc)))
    unit = "HU" if str(series.modality or "") == "CT" else "value"
    return MeasurementModel.model_validate({**found, "unit": unit})


@router.get(
    "/{series_uid}/overlay",
    operation_id="get_overlay",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {}},
            "description": "RGBA PNG the size of the referenced slice, transparent off the "
            "segments or contours. Headers: X-Referenced-Series, X-Slice-Index, "
            "X-Slice-Count, X-Overlay-Legend (JSON [[number, name, '#rrggbb'], ...]), "
            "X-Overlay-Drawn (JSON numbers on this slice)",
        },
        400: {"model": ErrorResponse, "description": "Not a SEG/RTSTRUCT, or a bad index"},
        404: {"model": ErrorResponse, "description": "No such series, or its reference"},
        422: {"model": ErrorResponse, "description": "The pixel data cannot be decoded"},
    },
    dependencies=[READ, VIEW_SERIES_IMAGES],
)
def get_overlay(
    series_uid: str,
    catalog: CatalogDep,
    index: Annotated[
        int | None, Query(ge=0, description="Slice of the referenced series (default: middle)")
    ] = None,
    plane: Plane = "native",
) -> Response:
    """A SEG's segments or an RTSTRUCT's contours on one slice of the series it references.

    ``index`` and ``plane`` count the referenced series' slices as ``/slice`` does,
    so the viewer stacks this picture over that slice (reformats: SEG only).
    """
    if catalog.series_document(series_uid) is None:
        raise SeriesNotFoundError(series_uid)
    try:
        overlay = render_overlay(catalog, series_uid, index, plane)
    except TypeError as exc:
        return error_response(400, ErrorDetail(code="not_an_overlay", message=str(exc)))
    except IndexError as exc:
        return error_response(400, ErrorDetail(code="index_out_of_range", message=str(exc)))
    except KeyError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        return error_response(404, ErrorDetail(code="reference_not_found", message=message))
    except UndecodableError as exc:
        return error_response(422, ErrorDetail(code="undecodable", message=str(exc)))
    except ValueError as exc:
        return error_response(400, ErrorDetail(code="not_placeable", message=str(exc)))
    buffer = io.BytesIO()
    overlay.image.save(buffer, format="PNG")
    legend = [[n, name, "#{:02x}{:02x}{:02x}".format(*rgb)] for n, name, rgb in overlay.legend]
    headers = {
        "X-Referenced-Series": overlay.referenced_series,
        "X-Slice-Index": str(overlay.index),
        "X-Slice-Count": str(overlay.count),
        "X-Overlay-Legend": json.dumps(legend, separators=(",", ":")),
        "X-Overlay-Drawn": json.dumps(overlay.drawn),
    }
    return Response(buffer.getvalue(), media_type="image/png", headers=headers)


@router.get(
    "/{series_uid}/volume.nii.gz",
    operation_id="get_volume",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/gzip": {}}, "description": "NIfTI-1 volume"},
        400: {"model": ErrorResponse, "description": "Not a volume (inconsistent geometry)"},
        404: {"model": ErrorResponse, "description": "No such series, or a SEG's reference"},
        422: {"model": ErrorResponse, "description": "The pixel data cannot be decoded"},
    },
    dependencies=[READ, VIEW_SERIES_IMAGES],
)
def get_volume(series_uid: str, catalog: CatalogDep) -> Response:
    """The series as a NIfTI volume in RAS; for a SEG, its label volume on the referenced grid.

    The geometry is checked first (errors are JSON); then the file is streamed, each
    slice decoded and compressed in turn, so neither the volume nor its compressed
    copy is ever held whole. A slice that fails to decode mid-stream ends the
    response early (the gzip stream is then incomplete, which every reader detects).
    """
    document = catalog.series_document(series_uid)
    if document is None:
        raise SeriesNotFoundError(series_uid)
    try:
        if document.get("Modality") == "SEG":
            stream = seg_label_stream(catalog, series_uid)
        else:
            stream = series_volume_stream(catalog, series_uid)
        chunks = nifti_gzip(stream)
        first = next(chunks)  # the header and the first slice: most decoding errors show here
    except KeyError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        return error_response(404, ErrorDetail(code="reference_not_found", message=message))
    except UndecodableError as exc:
        return error_response(422, ErrorDetail(code="undecodable", message=str(exc)))
    except ValueError as exc:
        return error_response(400, ErrorDetail(code="not_a_volume", message=str(exc)))
    return StreamingResponse(
        itertools.chain([first], chunks),
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{series_uid}.nii.gz"'},
    )
