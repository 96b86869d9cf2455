"""``/dicomweb``: QIDO-RS, WADO-RS and STOW-RS over the catalog (what OHIF v3 needs;
STOW-RS is in ``dicomweb_stow.py``).

Errors are the API's JSON bodies: a bad query 400, unknown UIDs 404, an
``Accept`` the server cannot satisfy 406, a body that is not
``multipart/related; type="application/dicom"`` 415.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from radcurate.catalog import CatalogBackend
from radcurate.dicom.instance import InstanceRecord
from radcurate.dicom.reading import syntax_of_bytes
from radcurate.dicomweb import multipart, qido, wado
from radcurate.dicomweb.sources import NotFoundError, locate, series_of_study
from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep, SettingsDep
from radcurate.server.paths import SAFE, PathView, PathViewDep, path_view
from radcurate.server.routes import dicomweb_common as web
from radcurate.server.routes.dicomweb_common import DICOM_JSON, PREFIX
from radcurate.server.scope import record_view, request_projects, visible_uids
from radcurate.storage.locations import is_remote, local_path

router = APIRouter(prefix=PREFIX, tags=["dicomweb"])

AcceptHeader = Annotated[str | None, Header()]


def _json_ok(accept: str | None) -> bool:
    items = multipart.parse_accept(accept)
    return not items or any(
        i.media_type in (DICOM_JSON, "application/json", "*/*", "application/*") for i in items
    )


# -- QIDO-RS -------------------------------------------------------------------------------------


def _qido(
    request: Request,
    catalog: CatalogBackend,
    level: qido.Level,
    accept: str | None,
    study_uid: str | None = None,
    series_uid: str | None = None,
) -> Response:
    if not _json_ok(accept):
        return web.error(
            406, "not_acceptable", f"QIDO-RS answers {DICOM_JSON} only, not {accept!r}"
        )
    try:
        query = qido.parse_query(
            level,
            list(request.query_params.multi_items()),
            study_uid=study_uid,
            series_uid=series_uid,
        )
        projects = request_projects(request)
        if projects is not None:
            query.visible = lambda uids: visible_uids(catalog, uids, projects)
    except qido.QidoError as exc:
        return web.error(400, "invalid_qido_query", str(exc))
    answer = qido.search(catalog, query, web.base_url(request))
    headers = {}
    if answer.truncated:
        headers["Warning"] = (
            '299 radcurate "The number of results exceeded the limit; request more with offset"'
        )
    return JSONResponse(answer.items, media_type=DICOM_JSON, headers=headers)


@router.get("/studies", operation_id="qido_studies", dependencies=[READ])
def search_studies(request: Request, catalog: CatalogDep, accept: AcceptHeader = None) -> Response:
    """QIDO-RS: search for studies."""
    return _qido(request, catalog, "study", accept)


@router.get("/series", operation_id="qido_series", dependencies=[READ])
def search_all_series(
    request: Request, catalog: CatalogDep, accept: AcceptHeader = None
) -> Response:
    """QIDO-RS: search for series in all studies."""
    return _qido(request, catalog, "series", accept)


@router.get("/instances", operation_id="qido_instances", dependencies=[READ])
def search_all_instances(
    request: Request, catalog: CatalogDep, accept: AcceptHeader = None
) -> Response:
    """QIDO-RS: search for instances in all studies."""
    return _qido(request, catalog, "instance", accept)


@router.get("/studies/{study}/series", operation_id="qido_study_series", dependencies=[READ])
def search_series(
    study: str, request: Request, catalog: CatalogDep, accept: AcceptHeader = None
) -> Response:
    """QIDO-RS: search for series of a study."""
    return _qido(request, catalog, "series", accept, study_uid=study)


@router.get("/studies/{study}/instances", operation_id="qido_study_instances", dependencies=[READ])
def search_study_instances(
    study: str, request: Request, catalog: CatalogDep, accept: AcceptHeader = None
) -> Response:
    """QIDO-RS: search for instances of a study."""
    return _qido(request, catalog, "instance", accept, study_uid=study)


@router.get(
    "/studies/{study}/series/{series}/instances",
    operation_id="qido_series_instances",
    dependencies=[READ],
)
def search_instances(
    study: str, series: str, request: Request, catalog: CatalogDep, accept: AcceptHeader = None
) -> Response:
    """QIDO-RS: search for instances of a series."""
    return _qido(request, catalog, "instance", accept, study_uid=study, series_uid=series)


# -- WADO-RS: instances, metadata ---------------------------------------------------------------


def _records(
    request: Request,
    catalog: CatalogBackend,
    study: str,
    series: str | None = None,
    sop: str | None = None,
) -> list[InstanceRecord] | JSONResponse:
    """The instances asked for, those of series outside the request's projects left out
    (none left: 404, as for UIDs that do not exist); each series' view is access-logged."""
    try:
        records = locate(catalog, study, series, sop)
    except NotFoundError as exc:
        return web.error(404, "not_found", str(exc))
    projects = request_projects(request)
    if projects is not None:
        seen = visible_uids(catalog, sorted({r.series_uid for r in records}), projects)
        records = [r for r in records if r.series_uid in seen]
        if not records:
            return web.error(404, "not_found", f"no study {study} in the catalog")
    for uid in sorted({r.series_uid for r in records})[:20]:
        record_view(request, "dicomweb", series_uid=uid)
    return records


def _unreadable(record: InstanceRecord, exc: OSError, paths: PathView) -> JSONResponse:
    """A 502: the instance's file (or the PACS that keeps it) cannot be read; the message
    shows its path as ``paths`` allows (in full to an admin only), and says what to do when
    the file is gone from disk."""
    shown = paths.path(record.location)
    if isinstance(exc, FileNotFoundError):
        message = (
            f"the file {shown} of instance {record.sop_uid} is no longer on disk; ingest its "
            "folder again to update the catalog"
        )
    else:
        message = f"cannot read {shown} ({record.sop_uid}): {exc.strerror or type(exc).__name__}"
    return web.error(502, "unreadable_instance", message)


def _sniffed_syntax(record: InstanceRecord) -> str:
    """The syntax of an instance the catalog has none for (pulled before syntaxes were
    recorded): read from its file."""
    return syntax_of_bytes(wado.instance_file(record)) or wado.EXPLICIT_LE


def _missing_files(records: list[InstanceRecord], paths: PathView) -> JSONResponse | None:
    """Checked before a multi-instance answer streams: a gone file would cut the stream."""
    for record in records:
        if not is_remote(record.location) and not os.path.isfile(local_path(record.location)):
            return _unreadable(record, FileNotFoundError(2, "No such file or directory"), paths)
    return None


def _retrieve(records: list[InstanceRecord], accept: str | None, paths: PathView) -> Response:
    items = multipart.parse_accept(accept)
    if len(records) == 1 and items and items[0].media_type == "application/dicom":
        syntax = records[0].transfer_syntax
        if not wado.retrieve_syntax_ok(accept, syntax):
            return web.error(406, "not_acceptable", f"the instance is stored as {syntax}")
        try:
            return Response(wado.instance_file(records[0]), media_type="application/dicom")
        except OSError as exc:
            return _unreadable(records[0], exc, paths)
    if len(records) == 1:
        # one instance: read it before answering, so a missing file is a 502, not a cut stream
        try:
            data = wado.instance_file(records[0])
        except OSError as exc:
            return _unreadable(records[0], exc, paths)
        boundary = multipart.new_boundary()
        syntax = records[0].transfer_syntax or syntax_of_bytes(data) or wado.EXPLICIT_LE
        if not wado.retrieve_syntax_ok(accept, syntax):
            return web.error(406, "not_acceptable", f"the instance is stored as {syntax}")
        part = multipart.Part(data, f"application/dicom; transfer-syntax={syntax}")
        return Response(
            b"".join(multipart.encode([part], boundary)),
            media_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
        )
    for record in records:
        if not wado.retrieve_syntax_ok(accept, record.transfer_syntax):
            return web.error(
                406,
                "not_acceptable",
                f"instance {record.sop_uid} is stored as {record.transfer_syntax}; ask for "
                "transfer-syntax=* (as stored)",
            )
    missing = _missing_files(records, paths)
    if missing is not None:
        return missing
    boundary = multipart.new_boundary()

    def parts() -> Iterator[multipart.Part]:
        for record in records:
            data = wado.instance_file(record)
            # a catalog pulled from a PACS that does not report syntaxes: the file says it
            syntax = record.transfer_syntax or syntax_of_bytes(data) or wado.EXPLICIT_LE
            yield multipart.Part(data, f"application/dicom; transfer-syntax={syntax}")

    return StreamingResponse(
        multipart.encode(parts(), boundary),
        media_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
    )


@router.get("/studies/{study}", operation_id="wado_study", dependencies=[READ])
def retrieve_study(
    request: Request,
    study: str,
    catalog: CatalogDep,
    paths: PathViewDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: every instance of a study (multipart/related; type="application/dicom")."""
    records = _records(request, catalog, study)
    return records if isinstance(records, Response) else _retrieve(records, accept, paths)


@router.get("/studies/{study}/series/{series}", operation_id="wado_series", dependencies=[READ])
def retrieve_series(
    request: Request,
    study: str,
    series: str,
    catalog: CatalogDep,
    paths: PathViewDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: every instance of a series."""
    records = _records(request, catalog, study, series)
    return records if isinstance(records, Response) else _retrieve(records, accept, paths)


@router.get(
    "/studies/{study}/series/{series}/instances/{sop}",
    operation_id="wado_instance",
    dependencies=[READ],
)
def retrieve_instance(
    request: Request,
    study: str,
    series: str,
    sop: str,
    catalog: CatalogDep,
    paths: PathViewDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: one instance."""
    records = _records(request, catalog, study, series, sop)
    return records if isinstance(records, Response) else _retrieve(records, accept, paths)


def _metadata(request: Request, records: list[InstanceRecord]) -> Response:
    base, paths = web.base_url(request), path_view(request)
    out = []
    for record in records:
        url = (
            f"{base}/studies/{record.study_uid}/series/{record.series_uid}"
            f"/instances/{record.sop_uid}"
        )
        try:
            out.append(wado.instance_metadata(record, url))
        except OSError as exc:
            return _unreadable(record, exc, paths)
        except ValueError as exc:
            message = f"cannot read {record.sop_uid}: {paths.text(str(exc))}"
            return web.error(502, "unreadable_instance", message)
    return JSONResponse(out, media_type=DICOM_JSON)


@router.get("/studies/{study}/metadata", operation_id="wado_study_metadata", dependencies=[READ])
def study_metadata(study: str, request: Request, catalog: CatalogDep) -> Response:
    """WADO-RS: DICOM JSON of every instance of a study."""
    records = _records(request, catalog, study)
    return records if isinstance(records, Response) else _metadata(request, records)


@router.get(
    "/studies/{study}/series/{series}/metadata",
    operation_id="wado_series_metadata",
    dependencies=[READ],
)
def series_metadata(study: str, series: str, request: Request, catalog: CatalogDep) -> Response:
    """WADO-RS: DICOM JSON of every instance of a series."""
    records = _records(request, catalog, study, series)
    return records if isinstance(records, Response) else _metadata(request, records)


@router.get(
    "/studies/{study}/series/{series}/instances/{sop}/metadata",
    operation_id="wado_instance_metadata",
    dependencies=[READ],
)
def instance_metadata(
    study: str, series: str, sop: str, request: Request, catalog: CatalogDep
) -> Response:
    """WADO-RS: DICOM JSON of one instance."""
    records = _records(request, catalog, study, series, sop)
    return records if isinstance(records, Response) else _metadata(request, records)


# -- WADO-RS: frames, bulk data ----------------------------------------------------------------


def _frame_numbers(text: str) -> list[int] | None:
    try:
        numbers = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        return None
    return numbers or None


@router.get(
    "/studies/{study}/series/{series}/instances/{sop}/frames/{frame_list}",
    operation_id="wado_frames",
    dependencies=[READ],
)
def retrieve_frames(
    request: Request,
    study: str,
    series: str,
    sop: str,
    frame_list: str,
    catalog: CatalogDep,
    settings: SettingsDep,
    paths: PathViewDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: frames (1-based, comma-separated), as stored or decoded as the client accepts.

    A frame listed more than once is answered once; a list longer than the server's cap
    (and than the instance's frame count) is refused with 400, an answer over the byte cap
    with 413 (docs/api.md, "Size limits").
    """
    numbers = _frame_numbers(frame_list)
    if numbers is None:
        return web.error(
            400, "invalid_frame_list", f"{frame_list!r} is not a list of frame numbers"
        )
    records = _records(request, catalog, study, series, sop)
    if isinstance(records, Response):
        return records
    record = records[0]
    limit = max(settings.max_frame_list, record.frames or 1)
    if len(numbers) > limit:
        return web.error(
            400,
            "too_many_frames",
            f"the frame list has {len(numbers)} entries; at most {limit} are answered at once",
        )
    numbers = list(dict.fromkeys(numbers))  # each frame once, in the order first asked
    try:
        stored = record.transfer_syntax or _sniffed_syntax(record)
        choice = wado.choose_frame_syntax(accept, stored)
        data = wado.frames(record.location, numbers, choice, settings.max_frames_bytes)
    except wado.NotAcceptableError as exc:
        return web.error(406, "not_acceptable", str(exc))
    except wado.FramesTooLargeError as exc:
        return web.error(413, "answer_too_large", str(exc))
    except IndexError as exc:
        return web.error(404, "frame_not_found", str(exc))
    except ValueError as exc:
        return web.error(400, "no_frames", str(exc))
    except OSError as exc:
        return _unreadable(record, exc, paths)
    content_type = wado.frame_media_type(choice.syntax, choice.media_type)
    boundary = multipart.new_boundary()
    parts = [multipart.Part(d, content_type) for d in data]
    del data
    return StreamingResponse(  # part by part: the frames are not copied into one body
        multipart.encode(parts, boundary),
        media_type=f'multipart/related; type="{choice.media_type}"; boundary={boundary}',
    )


@router.get(
    "/studies/{study}/series/{series}/instances/{sop}/bulkdata/{path:path}",
    operation_id="wado_bulkdata",
    dependencies=[READ],
)
def retrieve_bulkdata(
    request: Request,
    study: str,
    series: str,
    sop: str,
    path: str,
    catalog: CatalogDep,
    paths: PathViewDep,
) -> Response:
    """WADO-RS: the value of one binary element (a ``BulkDataURI`` of the metadata)."""
    records = _records(request, catalog, study, series, sop)
    if isinstance(records, Response):
        return records
    try:
        data, syntax = wado.bulkdata(records[0].location, path)
    except KeyError as exc:
        return web.error(404, "bulkdata_not_found", str(exc.args[0]))
    except OSError as exc:
        return _unreadable(records[0], exc, paths)
    boundary = multipart.new_boundary()
    part = multipart.Part(data, f"application/octet-stream; transfer-syntax={syntax}")
    return Response(
        b"".join(multipart.encode([part], boundary)),
        media_type=f'multipart/related; type="application/octet-stream"; boundary={boundary}',
    )


# -- rendered and thumbnails ----------------------------------------------------------------------


def _render(
    records: list[InstanceRecord] | JSONResponse,
    accept: str | None,
    frame: int | None = None,
    size: int | None = None,
    paths: PathView = SAFE,  # rendered pictures and thumbnails: the file name, even to admins
) -> Response:
    if isinstance(records, Response):
        return records
    record = records[len(records) // 2]
    try:
        data, media = wado.rendered(record.location, frame, accept, size)
    except IndexError as exc:
        return web.error(404, "frame_not_found", str(exc))
    except OSError as exc:
        return _unreadable(record, exc, paths)
    except Exception as exc:  # noqa: BLE001  # an undecodable picture is a clear 400
        return web.error(400, "not_renderable", f"cannot render {record.sop_uid}: {exc}")
    return Response(data, media_type=media)


@router.get(
    "/studies/{study}/series/{series}/rendered",
    operation_id="wado_series_rendered",
    dependencies=[READ],
)
def series_rendered(
    request: Request, study: str, series: str, catalog: CatalogDep, accept: AcceptHeader = None
) -> Response:
    """WADO-RS: the middle instance of a series as JPEG or PNG."""
    return _render(_records(request, catalog, study, series), accept)


@router.get(
    "/studies/{study}/series/{series}/instances/{sop}/rendered",
    operation_id="wado_instance_rendered",
    dependencies=[READ],
)
def instance_rendered(
    request: Request,
    study: str,
    series: str,
    sop: str,
    catalog: CatalogDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: an instance (its middle frame) as JPEG or PNG."""
    return _render(_records(request, catalog, study, series, sop), accept)


@router.get(
    "/studies/{study}/series/{series}/instances/{sop}/frames/{frame}/rendered",
    operation_id="wado_frame_rendered",
    dependencies=[READ],
)
def frame_rendered(
    request: Request,
    study: str,
    series: str,
    sop: str,
    frame: int,
    catalog: CatalogDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: one frame as JPEG or PNG."""
    return _render(_records(request, catalog, study, series, sop), accept, frame)


def _series_thumbnail(
    catalog: CatalogBackend, series_uid: str, settings: SettingsDep, accept: str | None
) -> Response:
    from radcurate.render.cache import ThumbnailCache
    from radcurate.render.canvas import pil

    cache = ThumbnailCache(settings.thumbnail_root, settings.thumbnail_size)
    path = cache.thumbnail_path(catalog, series_uid)
    wants_png = any(i.media_type == "image/png" for i in multipart.parse_accept(accept))
    if wants_png:
        return Response(path.read_bytes(), media_type="image/png")
    buffer = io.BytesIO()
    pil().open(path).convert("RGB").save(buffer, format="JPEG", quality=90)
    return Response(buffer.getvalue(), media_type="image/jpeg")


@router.get("/studies/{study}/thumbnail", operation_id="wado_study_thumbnail", dependencies=[READ])
def study_thumbnail(
    request: Request,
    study: str,
    catalog: CatalogDep,
    settings: SettingsDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: the thumbnail of a study's first series."""
    series = sorted(
        series_of_study(catalog, study),
        key=lambda d: (not isinstance(d.get("SeriesNumber"), int), d.get("SeriesNumber") or 0),
    )
    if not series:
        return web.error(404, "not_found", f"no study {study}")
    first = str(series[0]["SeriesInstanceUID"])
    records = _records(request, catalog, study, first)
    if isinstance(records, Response) or _remote(records):
        return _render(records, accept, size=settings.thumbnail_size)
    return _series_thumbnail(catalog, first, settings, accept)


@router.get(
    "/studies/{study}/series/{series}/thumbnail",
    operation_id="wado_series_thumbnail",
    dependencies=[READ],
)
def series_thumbnail(
    request: Request,
    study: str,
    series: str,
    catalog: CatalogDep,
    settings: SettingsDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: the thumbnail of a series (the same picture as the gallery's)."""
    records = _records(request, catalog, study, series)
    if isinstance(records, Response):
        return records
    if _remote(records):
        return _render(records, accept, size=settings.thumbnail_size)
    return _series_thumbnail(catalog, series, settings, accept)


def _remote(records: list[InstanceRecord]) -> bool:
    """Instances kept in a PACS (pull-ingest, DICOMweb store): rendered from WADO-RS."""
    return records[0].location.startswith(("http://", "https://"))


@router.get(
    "/studies/{study}/series/{series}/instances/{sop}/thumbnail",
    operation_id="wado_instance_thumbnail",
    dependencies=[READ],
)
def instance_thumbnail(
    request: Request,
    study: str,
    series: str,
    sop: str,
    catalog: CatalogDep,
    accept: AcceptHeader = None,
) -> Response:
    """WADO-RS: a small rendering of an instance."""
    return _render(_records(request, catalog, study, series, sop), accept, size=128)
