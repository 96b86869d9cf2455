"""``/api/clinical/tables``: import (upload), list, show and remove clinical tables.

An upload is ``multipart/form-data`` with the parts ``file`` (the CSV, TSV or
Parquet file, its file name giving the format), ``key`` and optionally ``name``,
``key_column``, ``duplicates``, ``format`` and ``show_unmatched``; or the file's bytes
as the whole body with those as query parameters (``filename`` naming it). The
multipart body is read with the standard library (python-multipart is not a
dependency). Bad input is a 4xx whose message says what is wrong (docs/clinical.md).
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesHeaderParser
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from radcurate.catalog.clinical_read import KEY_KINDS, ClinicalError
from radcurate.catalog.clinical_tables import (
    DUPLICATE_POLICIES,
    ClinicalTable,
    get_table,
    import_table,
    list_tables,
    remove_table,
)
from radcurate.server.auth import ADMIN, CURATE, READ
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_curation import DeletedResponse, request_user

router = APIRouter(prefix="/clinical", tags=["clinical"], responses=ERROR_RESPONSES)

#: the largest upload accepted (bytes)
MAX_UPLOAD = 200 * 1024 * 1024
_TEXT_PARTS = ("key", "name", "key_column", "duplicates", "format", "show_unmatched", "filename")


class ClinicalTablePublic(BaseModel):
    """An imported table, how many series hold its fields now, and its last join report."""

    name: str
    producer: str = Field(description="The result-store producer of its fields")
    fields: str = Field(description="Its fields, as a pattern: clin.<name>.*")
    series_count: int
    imported_at: str
    actor: str
    report: dict[str, Any] = Field(description="The join report of its last import")


class ClinicalTablesResponse(BaseModel):
    """Every imported table, by name."""

    items: list[ClinicalTablePublic]


class ClinicalImportResponse(BaseModel):
    """The imported table with its join report; the keys no series has when asked for."""

    table: ClinicalTablePublic
    unmatched_keys: list[str] | None = Field(
        default=None, description="Only with show_unmatched (identifiers: never stored)"
    )


def _public(table: ClinicalTable) -> ClinicalTablePublic:
    return ClinicalTablePublic(**table.to_dict())


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "key"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "key": {"type": "string", "enum": list(KEY_KINDS)},
                        "name": {"type": "string"},
                        "key_column": {"type": "string"},
                        "duplicates": {"type": "string", "enum": list(DUPLICATE_POLICIES)},
                        "format": {"type": "string", "enum": ["csv", "tsv", "parquet"]},
                        "show_unmatched": {"type": "boolean"},
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post(
    "/tables",
    operation_id="import_clinical_table",
    name="import_clinical_table",
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
    responses={
        413: {"description": "The file is too large"},
        415: {"description": "Not CSV/TSV/Parquet"},
    },
    dependencies=[CURATE],
)
async def import_clinical_table(
    request: Request,
    catalog: CatalogDep,
    key: Annotated[str | None, Query(description="Key kind (or a form part)")] = None,
    name: Annotated[str | None, Query()] = None,
    key_column: Annotated[str | None, Query()] = None,
    duplicates: Annotated[str | None, Query()] = None,
    fmt: Annotated[str | None, Query(alias="format")] = None,
    show_unmatched: Annotated[bool, Query()] = False,
    filename: Annotated[str | None, Query(description="The file's name (raw body)")] = None,
) -> ClinicalImportResponse:
    """Import an uploaded clinical table as ``clin.<name>.<column>`` fields (an earlier
    table of the same name is replaced); the answer carries the join report."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_UPLOAD:
        raise _too_large()
    body = await request.body()
    if len(body) > MAX_UPLOAD:
        raise _too_large()
    params: dict[str, str] = {
        k: v
        for k, v in {
            "key": key,
            "name": name,
            "key_column": key_column,
            "duplicates": duplicates,
            "format": fmt,
            "filename": filename,
        }.items()
        if v is not None
    }
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        parts, upload = parse_form(content_type, body)
        params.update(parts)
        if upload is None:
            raise ClinicalError("the form has no 'file' part", code="missing_file", status=400)
        upload_name, data = upload
        upload_name = params.get("filename") or upload_name
    else:
        data, upload_name = body, params.get("filename", "")
    if "key" not in params:
        raise ClinicalError(
            f"say what the key column holds: key = one of {', '.join(KEY_KINDS)}",
            code="missing_key",
        )
    if not upload_name and "format" not in params:
        raise ClinicalError(
            "name the file (filename) or its format (csv, tsv, parquet)",
            code="unsupported_format",
            status=415,
        )
    show = show_unmatched or params.get("show_unmatched", "").lower() in ("1", "true", "yes")
    result = await run_in_threadpool(
        import_table,
        catalog,
        data,
        upload_name or f"upload.{params['format']}",
        key=params["key"],
        name=params.get("name"),
        key_column=params.get("key_column"),
        duplicates=params.get("duplicates", "refuse"),
        fmt=params.get("format"),
        actor=request_user(request),
    )
    table = await run_in_threadpool(get_table, catalog, result.report["table"])
    return ClinicalImportResponse(
        table=_public(table), unmatched_keys=result.unmatched_keys if show else None
    )


def _too_large() -> ClinicalError:
    return ClinicalError(
        f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MiB",
        code="too_large",
        status=413,
    )


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """The text parts and the ``file`` part (its file name and bytes) of a multipart body.

    Examples
    --------
    >>> body = (b'--b\\r\\nContent-Disposition: form-data; name="key"\\r\\n\\r\\nPatientID\\r\\n'
    ...         b'--b\\r\\nContent-Disposition: form-data; name="file"; filename="t.csv"\\r\\n'
    ...         b'Content-Type: text/csv\\r\\n\\r\\na,b\\r\\n1,2\\r\\n--b--\\r\\n')
    >>> parse_form("multipart/form-data; boundary=b", body)
    ({'key': 'PatientID'}, ('t.csv', b'a,b\\r\\n1,2'))
    """
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ClinicalError("the multipart body has no boundary", code="bad_form", status=400)
    fields: dict[str, str] = {}
    upload: tuple[str, bytes] | None = None
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
        part_name = headers.get_param("name", header="content-disposition")
        if not isinstance(part_name, str):
            continue
        if part_name == "file":
            upload = (headers.get_filename() or "", content)
        elif part_name in _TEXT_PARTS:
            fields[part_name] = content.decode("utf-8", errors="replace").strip()
    return fields, upload


@router.get(
    "/tables", operation_id="list_clinical_tables", name="list_clinical_tables", dependencies=[READ]
)
def list_clinical_tables(catalog: CatalogDep) -> ClinicalTablesResponse:
    """Every imported clinical table with the join report of its last import."""
    return ClinicalTablesResponse(items=[_public(t) for t in list_tables(catalog)])


@router.get(
    "/tables/{name}",
    operation_id="get_clinical_table",
    name="get_clinical_table",
    dependencies=[READ],
)
def get_clinical_table(name: str, catalog: CatalogDep) -> ClinicalTablePublic:
    """One clinical table with its last join report (404 when unknown)."""
    return _public(get_table(catalog, name))


@router.delete(
    "/tables/{name}",
    operation_id="delete_clinical_table",
    name="delete_clinical_table",
    dependencies=[ADMIN],
)
def delete_clinical_table(name: str, request: Request, catalog: CatalogDep) -> DeletedResponse:
    """Remove a clinical table: its ``clin.<name>.*`` fields leave every series."""
    removed = remove_table(catalog, name, actor=request_user(request))
    return DeletedResponse(name=name, series_count=removed)
