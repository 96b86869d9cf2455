"""Exports over HTTP: start one as a job, list the finished ones, download one as a zip.

``POST /api/datasets/{name}/exports`` takes the options of ``radcurate export`` as JSON,
checks them as the command does (a bad one: 400 with the command's message), freezes an
unfrozen dataset first (the answer says so) and answers 202 with the queued job. The
export is written under the server's export root (``RADCURATE_EXPORT_DIR``, default
``$RADCURATE_HOME/exports``), in a folder named by the job id: no client names a server path.

Who may export what (docs/auth.md, docs/export.md):

* a **de-identified** export needs the curator role: ``dicom`` with ``deidentify``, or
  ``nnunet``/``monai``/``nifti`` (NIfTI files carry no header) whose manifest fields and
  stratification fields identify nobody (:func:`identifying`);
* any other (**identified**) export needs an admin, and so does downloading one;
* a user restricted to projects may export a version only when every series of it lies in
  their projects (403 otherwise), and sees, downloads and deletes only their own exports.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from radcurate.catalog import CatalogBackend
from radcurate.catalog.jobs import JobRecord
from radcurate.export.channels import parse_channel
from radcurate.export.job import DEID_SAFE_FIELDS, ExportOptions, check_options
from radcurate.export.labels import parse_labels
from radcurate.export.manifest import DEFAULT_FIELDS
from radcurate.export.plan import LABEL_MODALITIES, ExportError, resolve_version
from radcurate.export.splits import SplitError, parse_split
from radcurate.jobs.export import (
    EXPORT_KIND,
    export_folder,
    export_job,
    remove_export,
    server_deid_key,
    zip_stream,
)
from radcurate.query.ast import Dataset as DatasetTerm
from radcurate.query.ast import FieldIn, conjoin
from radcurate.server.auth import CURATE, READ, AuthError, CuratorDep, Principal, ReaderDep
from radcurate.server.deps import CatalogDep, SettingsDep
from radcurate.server.errors import ERROR_RESPONSES, error_response
from radcurate.server.routes.jobs import ExecutorDep, Job
from radcurate.server.schemas import ErrorDetail, ErrorResponse
from radcurate.server.scope import Projects, ProjectsDep, visible_uids

router = APIRouter(tags=["exports"], responses=ERROR_RESPONSES)

#: PS3.15 profile options, as ``radcurate export --deid-option`` names them
DEID_OPTIONS = (
    "retain-long-modified-dates", "retain-patient-characteristics", "retain-device-identity",
    "retain-uids", "clean-descriptors", "retain-safe-private",
)  # fmt: skip
#: manifest fields when a request names none: the command's defaults that identify nobody
SAFE_DEFAULT_FIELDS = tuple(f for f in DEFAULT_FIELDS if f in DEID_SAFE_FIELDS)
#: fields a de-identified export may stratify by: split counts per value, never per patient
SAFE_STRATIFY = DEID_SAFE_FIELDS | {"PatientSex", "age_years"}
#: result namespaces that describe images, not people (``clin.*`` may hold anything)
SAFE_PREFIXES = ("ai.", "qc.")
_TRIGGER = "api"
#: the largest whole number a catalog column holds (larger ones: 422, not a database error)
_MAX_INT = 2**63 - 1
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class ExportRequest(BaseModel):
    """The options of ``radcurate export`` (docs/export.md), as JSON."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        default=None, ge=1, le=_MAX_INT, description="A frozen version; none: frozen first"
    )
    format: str = Field(description="nnunet, monai, nifti or dicom")
    split: str | None = Field(default=None, description="train=0.7,val=0.1,test=0.2")
    folds: int | None = Field(
        default=None, ge=0, le=10_000, description="Cross-validation folds (outside test)"
    )
    stratify: list[str] = Field(default_factory=list, description="Fields to stratify by")
    seed: int = Field(default=0, ge=-_MAX_INT, le=_MAX_INT)
    labels: str | None = Field(default=None, description="NAME[=A+B],... in order")
    channels: list[str] = Field(default_factory=list, description="NAME=QUERY, channel order")
    include_rejected: bool = False
    fields: list[str] | None = Field(
        default=None, description="Manifest fields; none: the de-identification-safe defaults"
    )
    layout: str = Field(default="patient/study/series", description="Folders of dicom")
    dataset_id: int = Field(default=1, ge=-_MAX_INT, le=_MAX_INT, description="nnU-Net's NNN")
    deidentify: bool = Field(default=False, description="De-identify a dicom export (PS3.15)")
    deid_options: list[str] = Field(default_factory=list, description="PS3.15 options")
    deid_key: str | None = Field(
        default=None,
        description="Key of the replaced UIDs and dates (never stored); none: the server's",
    )
    include_burned_in: bool = False


class ExportItem(BaseModel):
    """A finished export lying under the export root."""

    job_id: str
    dataset: str
    version: int | None
    format: str
    deidentified: bool
    identified: bool
    created: str | None = Field(description="When it finished (ISO 8601 UTC)")
    files: int
    bytes: int
    exported: int
    failed: int
    started_by: str | None
    downloadable: bool = Field(description="Whether this caller may download it")
    download: str


class ExportList(BaseModel):
    """Finished exports, newest first."""

    items: list[ExportItem]


def _bad(message: str) -> JSONResponse:
    return error_response(400, ErrorDetail(code="invalid_export", message=message))


def _not_found(job_id: str) -> JSONResponse:
    return error_response(404, ErrorDetail(code="export_not_found", message=f"no export {job_id}"))


def _safe_field(name: str, *, stratify: bool = False) -> bool:
    if name.startswith(SAFE_PREFIXES):
        return True
    if "*" in name or "?" in name or "[" in name:
        return False  # a pattern may match clin.* or an identifying keyword
    return name in (SAFE_STRATIFY if stratify else DEID_SAFE_FIELDS) or name == "datasets"


def identifying(options: ExportOptions) -> list[str]:
    """Why an export is identified (empty: de-identified, a curator may start it)."""
    why = []
    if options.format == "dicom" and options.deid is None:
        why.append("a dicom export without deidentify copies the original headers")
    fields = options.fields or ()
    if options.deid is not None:  # the export drops identifying DICOM keywords itself
        fields = tuple(f for f in fields if "." in f or any(c in f for c in "*?["))
    unsafe = [f for f in fields if not _safe_field(f)]
    if unsafe:
        why.append(f"the manifest fields {', '.join(unsafe)} may identify a patient")
    strata = [f for f in options.stratify if not _safe_field(f, stratify=True)]
    if strata:
        why.append(f"stratifying by {', '.join(strata)} writes its values per split")
    return why


def _deid(body: ExportRequest, root: Path) -> Any:
    if not body.deidentify:
        if body.deid_options or body.deid_key:
            raise ExportError("deid_options and deid_key need deidentify: true")
        return None
    from radcurate.export.deid import DeidOptions

    flags = {}
    for name in body.deid_options:
        if name.replace("_", "-") not in DEID_OPTIONS:
            raise ExportError(
                f"unknown de-identification option {name!r} (use {', '.join(DEID_OPTIONS)})"
            )
        flags[name.replace("-", "_")] = True
    key = body.deid_key if body.deid_key is not None else server_deid_key(root)
    if len(key.encode("utf-8")) < 8:
        raise ExportError("deid_key must be at least 8 bytes (or leave it out: the server's)")
    return DeidOptions(key=key.encode("utf-8"), **flags)


def _options(name: str, body: ExportRequest, root: Path) -> ExportOptions:
    """The request as :class:`ExportOptions`, checked as the command checks them."""
    try:
        fields = tuple(f.strip() for f in body.fields if f.strip()) if body.fields else None
        deid = _deid(body, root)
        if fields is None and body.format != "dicom":
            fields = SAFE_DEFAULT_FIELDS
        options = ExportOptions(
            name, body.format, root / ".pending", parse_split(body.split, body.folds),
            stratify=tuple(f.strip() for f in body.stratify if f.strip()), seed=body.seed,
            labels=parse_labels(body.labels), include_rejected=body.include_rejected,
            fields=fields, dataset_id=body.dataset_id, layout=body.layout, deid=deid,
            include_burned_in=body.include_burned_in,
            channels=tuple(parse_channel(t) for t in body.channels),
        )  # fmt: skip
        check_options(options)
    except (SplitError, ValueError) as exc:
        raise ExportError(str(exc)) from exc
    return options


def _label_series(catalog: CatalogBackend, members: list[str]) -> list[str]:
    """The SEG/RTSTRUCT series of the catalog that reference a member (as the export finds
    its label sources); none when the catalog has no ``referenced_series`` field."""
    if not members or "referenced_series" not in {f.name for f in catalog.fields()}:
        return []
    tree = conjoin(
        [FieldIn("Modality", LABEL_MODALITIES), FieldIn("referenced_series", tuple(members))]
    )
    return catalog.series_uids(tree)


def _check_visible(catalog: CatalogBackend, uids: list[str], projects: Projects) -> None:
    if projects is not None and len(visible_uids(catalog, uids, projects)) < len(uids):
        raise AuthError(
            403,
            "forbidden",
            "this version holds series outside your projects; an admin can export it",
        )


@router.post(
    "/datasets/{name}/exports",
    operation_id="start_export",
    response_model=Job,
    status_code=202,
    responses={
        400: {"model": ErrorResponse, "description": "Options the export cannot start with"},
        403: {"model": ErrorResponse, "description": "An identified export, or unseen series"},
        404: {"model": ErrorResponse, "description": "No such dataset or version"},
    },
    dependencies=[CURATE],
)
def start_export(
    name: str,
    body: ExportRequest,
    catalog: CatalogDep,
    settings: SettingsDep,
    executor: ExecutorDep,
    principal: CuratorDep,
    projects: ProjectsDep,
) -> Any:
    """Export a dataset version (frozen first when none is given) as a job; answers at once
    with the queued job (follow it with ``GET /api/jobs/{id}``; the files with
    ``GET /api/exports/{id}/download`` once it is done)."""
    root = settings.export_root
    catalog.dataset(name)  # an unknown dataset: 404
    if body.version is not None:
        catalog.dataset_version(name, body.version)  # an unknown version: 404
    try:
        options = _options(name, body, root)
    except ExportError as exc:
        return _bad(str(exc))
    why = identifying(options)
    if why and not principal.is_admin:
        raise AuthError(
            403,
            "forbidden",
            f"an identified export needs an admin ({'; '.join(why)}); a curator may export "
            "de-identified: dicom with deidentify, or nnunet/monai/nifti with "
            "de-identification-safe fields",
        )
    if projects is not None and body.version is None:
        # the membership to be frozen (a pattern in the name only widens it: stricter)
        _check_visible(catalog, catalog.series_uids(DatasetTerm(name)), projects)
    spec = name if body.version is None else f"{name}@{body.version}"
    try:
        dataset, version, digest, froze = resolve_version(catalog, spec)
    except ExportError as exc:
        return _bad(str(exc))
    members = list(catalog.version_members(dataset, version))
    _check_visible(catalog, members, projects)
    if projects is not None:  # the label maps come from SEG/RTSTRUCT series outside it too
        labels = [u for u in _label_series(catalog, members) if u not in set(members)]
        if len(visible_uids(catalog, labels, projects)) < len(labels):
            raise AuthError(
                403,
                "forbidden",
                "labels of this version's series (SEG/RTSTRUCT) lie outside your projects; "
                "an admin can export it",
            )
    options = dataclasses.replace(options, dataset=f"{dataset}@{version}")
    message = f"froze {dataset} as version {version}; " if froze else ""
    params = {
        "dataset": dataset, "version": version, "content_hash": digest, "froze": froze,
        **options.to_dict(),
        "identified": bool(why), "deidentified": not why,
        "trigger": _TRIGGER, "started_by": principal.name,
        "note": f"{message}export {options.format} of {dataset}@{version}",
    }  # fmt: skip
    return executor.submit(EXPORT_KIND, export_job(options, root, froze=froze), params).to_dict()


def _mine(record: JobRecord, principal: Principal, projects: Projects) -> bool:
    return projects is None or record.params.get("started_by") == principal.name


def _export_record(catalog: CatalogBackend, job_id: str) -> JobRecord | None:
    record = catalog.job(job_id)
    if record is None or record.kind != EXPORT_KIND or record.params.get("trigger") != _TRIGGER:
        return None
    return record


def _item(record: JobRecord, principal: Principal) -> dict[str, Any]:
    params, result = record.params, record.result or {}
    identified = bool(params.get("identified"))
    return {
        "job_id": record.id,
        "dataset": str(params.get("dataset", "")),
        "version": params.get("version"),
        "format": str(params.get("format", "")),
        "deidentified": not identified,
        "identified": identified,
        "created": record.to_dict()["finished_at"],
        "files": int(result.get("files", 0)),
        "bytes": int(result.get("bytes", 0)),
        "exported": int(result.get("exported", 0)),
        "failed": int(result.get("failed", 0)),
        "started_by": params.get("started_by"),
        "downloadable": principal.is_admin or not identified,
        "download": f"/api/exports/{record.id}/download",
    }


@router.get("/exports", operation_id="list_exports", response_model=ExportList,
            dependencies=[READ])  # fmt: skip
def list_exports(
    catalog: CatalogDep,
    settings: SettingsDep,
    principal: ReaderDep,
    projects: ProjectsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """The finished exports still on the server, newest first (a user restricted to
    projects sees their own)."""
    items = []
    for record in catalog.jobs(limit=limit, state="done", kind=EXPORT_KIND):
        if record.params.get("trigger") != _TRIGGER or not _mine(record, principal, projects):
            continue
        if export_folder(settings.export_root, record.id).is_dir():
            items.append(_item(record, principal))
    return {"items": items}


@router.get(
    "/exports/{job_id}/download",
    operation_id="download_export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}, 409: {"model": ErrorResponse}},
    dependencies=[READ],
)
def download_export(
    job_id: str,
    catalog: CatalogDep,
    settings: SettingsDep,
    principal: ReaderDep,
    projects: ProjectsDep,
) -> Any:
    """The export's folder as a zip, streamed (``<dataset>-v<version>-<format>.zip``)."""
    record = _export_record(catalog, job_id)
    if record is None or not _mine(record, principal, projects):
        return _not_found(job_id)
    if record.params.get("identified") and not principal.is_admin:
        raise AuthError(403, "forbidden", "an identified export is downloaded by an admin")
    if record.state != "done":
        return error_response(
            409,
            ErrorDetail(code="export_not_done", message=f"the export is {record.state}, not done"),
        )
    folder = export_folder(settings.export_root, record.id)
    if not folder.is_dir():
        return _not_found(job_id)
    params = record.params
    stem = f"{params.get('dataset')}-v{params.get('version')}-{params.get('format')}"
    plain = _UNSAFE_NAME.sub("_", stem)
    disposition = f"attachment; filename=\"{plain}.zip\"; filename*=UTF-8''{quote(stem)}.zip"
    return StreamingResponse(
        zip_stream(folder, plain),
        media_type="application/zip",
        headers={"Content-Disposition": disposition},
    )


@router.delete(
    "/exports/{job_id}",
    operation_id="delete_export",
    response_model=ExportItem,
    dependencies=[CURATE],
)
def delete_export(
    job_id: str,
    catalog: CatalogDep,
    settings: SettingsDep,
    principal: CuratorDep,
    projects: ProjectsDep,
) -> Any:
    """Delete an export's files (its job stays in the list of jobs). Its starter or an admin."""
    record = _export_record(catalog, job_id)
    if record is None or not _mine(record, principal, projects):
        return _not_found(job_id)
    if not principal.is_admin and record.params.get("started_by") != principal.name:
        raise AuthError(403, "forbidden", "only its starter or an admin deletes an export")
    if record.state in ("queued", "running"):
        return error_response(
            409, ErrorDetail(code="export_running", message="cancel the export job first")
        )
    if not remove_export(settings.export_root, record.id):
        return _not_found(job_id)
    return _item(record, principal)
