"""DICOM PS3.15 Annex E de-identification: the Basic Application Level Confidentiality Profile.

Every attribute of Table E.1-1 (:mod:`radcurate.export.deid_table`) gets its action, recursively
inside every sequence item; private elements are removed (unless *Retain Safe Private* keeps an
allow-listed numeric one); UIDs are replaced by a keyed hash so that every reference inside an
export stays consistent and the same key gives the same UIDs in every run. Pixel data is never
decoded or rewritten. The meaning of each action and option is in docs/deidentification.md.

API for the export: :class:`DeidOptions`, :func:`deidentify` (in place),
:func:`deidentify_file` and :func:`burned_in_risk`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from os import PathLike
from typing import TYPE_CHECKING, Any, BinaryIO

from pydicom import dcmread
from pydicom._dicom_dict import DicomDictionary
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from radcurate.export.deid_copy import deidentify_header
from radcurate.export.deid_dates import shift_da, shift_dt
from radcurate.export.deid_residual import RESIDUAL_KEYWORDS, RESIDUAL_VRS, residual_tokens
from radcurate.export.deid_stream import deidentify_bytes
from radcurate.export.deid_table import BASIC, MASKED, OPTIONS
from radcurate.export.deid_uids import date_shift_days, is_well_known, pseudonym, replace_uid
from radcurate.export.file_writer import write_file

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

__all__ = [
    "CODES",
    "SAFE_PRIVATE",
    "DeidOptions",
    "burned_in_risk",
    "deidentify",
    "deidentify_file",
]

#: CID 7050 codes (DCM) for the profile and each option used.
CODES: dict[str, tuple[str, str]] = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "retain_long_modified_dates": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_safe_private": ("113111", "Retain Safe Private Option"),
}

#: Retain Safe Private allow-list: (private creator, element byte) of numeric acquisition
#: parameters that carry no identity (diffusion b-values and gradient directions). An element
#: is kept only if its VR is numeric, too.
SAFE_PRIVATE: frozenset[tuple[str, int]] = frozenset(
    {
        ("SIEMENS MR HEADER", 0x0C),  # (0019,xx0C) B_value
        ("SIEMENS MR HEADER", 0x0E),  # (0019,xx0E) DiffusionGradientDirection
        ("GEMS_PARM_01", 0x39),  # (0043,xx39) slop_int_6..9 (b-value)
        ("PHILIPS IMAGING DD 001", 0x03),  # (2001,xx03) Diffusion B-Factor
    }
)
_NUMERIC_VRS = frozenset({"IS", "DS", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "PN", "CS", "AE", "UR"})

#: Dummy values for action D (and Z on Patient's Name), by VR.
DUMMY: dict[str, Any] = {
    "PN": "ANONYMOUS",
    "LO": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "UT": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "CS": "ANONYMIZED",
    "AE": "ANONYMIZED",
    "UR": "urn:anonymized",
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000Y",
    "IS": "0",
    "DS": "0",
}
#: Sequences whose action D keeps the items (cleaned by the table) instead of emptying them.
_D_SEQUENCES_KEPT = frozenset({0x0040A730, 0x0040A073, 0x00700001})
_PATIENT_ID = 0x00100020
_PATIENT_NAME = 0x00100010
_DEVICE_SERIAL = 0x00181000

# Final actions: X remove, Z empty, D dummy, K keep, U new UID, C clean text, S shift date,
# R keep a sequence and process its items, P Patient ID pseudonym.


@dataclass(frozen=True)
class DeidOptions:
    """What to de-identify; the Basic Profile always applies, each flag is a PS3.15 option.

    Attributes
    ----------
    key : bytes
        Secret of this export (a str is encoded as UTF-8); UIDs, the Patient ID pseudonym and
        the date shift derive from it. Keep it to re-export consistently; never publish it.
    retain_long_modified_dates : bool
        Shift DA and the date part of DT values by one per-patient number of days (TM kept)
        instead of removing them.
    retain_patient_characteristics : bool
        Keep sex, age, size, weight and the other characteristics the option lists.
    retain_device_identity : bool
        Keep device serial numbers, station names and the like.
    retain_uids : bool
        Keep every UID as it is (no replacement).
    clean_descriptors : bool
        Keep descriptions (study, series, protocol, ...) with identifying text cleaned out,
        instead of removing them.
    retain_safe_private : bool
        Keep the private elements of :data:`SAFE_PRIVATE` (all other private elements go).
    """

    key: bytes = field(repr=False)
    retain_long_modified_dates: bool = False
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_uids: bool = False
    clean_descriptors: bool = False
    retain_safe_private: bool = False

    def __post_init__(self) -> None:
        key = self.key.encode("utf-8") if isinstance(self.key, str) else self.key
        if not isinstance(key, bytes) or len(key) < 8:
            raise ValueError("DeidOptions.key must be at least 8 bytes")
        object.__setattr__(self, "key", key)

    def flags(self) -> tuple[bool, ...]:
        """The option flags, in the order :func:`_plan` takes them."""
        return (
            self.retain_long_modified_dates,
            self.retain_patient_characteristics,
            self.retain_device_identity,
            self.retain_uids,
            self.clean_descriptors,
            self.retain_safe_private,
        )

    def used(self) -> list[str]:
        """Names (keys of :data:`CODES`) of the profile and options applied."""
        names = (
            "retain_long_modified_dates",
            "retain_patient_characteristics",
            "retain_device_identity",
            "retain_uids",
            "clean_descriptors",
            "retain_safe_private",
        )
        return ["basic"] + [n for n, on in zip(names, self.flags(), strict=True) if on]


@lru_cache(maxsize=1 << 12)
def _vr_of(tag: int) -> str:
    """The dictionary VR of a standard tag (``UN`` when unknown, first of a choice)."""
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return "UN"


def _resolve(tag: int, code: str) -> str:
    """Turn a Basic Profile code (combined ones included) into one final action."""
    is_sq = _vr_of(tag) == "SQ"
    if code == "X/Z/U*":
        return "R"
    if code == "D":
        if is_sq:
            return "R" if tag in _D_SEQUENCES_KEPT else "Z"
        return "U" if _vr_of(tag) == "UI" else "D"
    if code == "X/D":
        return "X" if is_sq else "D"
    if code in ("Z/D", "X/Z/D"):
        # dummy where the attribute is Type 1 in some IOD (dates and times of SR and enhanced
        # objects, Device Serial Number of Enhanced General Equipment), else empty
        dummy = _vr_of(tag) in ("DA", "TM", "DT") or tag == _DEVICE_SERIAL
        return "D" if dummy and not is_sq else "Z"
    if code == "X/Z":
        return "Z"
    return code  # X, Z, U


@lru_cache(maxsize=64)
def _plan(flags: tuple[bool, ...]) -> dict[int, str]:
    """tag → final action for one combination of options (computed once per combination)."""
    modified_dates, characteristics, device, uids, clean, _safe_private = flags
    columns: list[tuple[dict[int, str], str]] = []
    if uids:
        columns.append((OPTIONS["retain_uids"], "uids"))
    if device:
        columns.append((OPTIONS["retain_device_identity"], "device"))
    if characteristics:
        columns.append((OPTIONS["retain_patient_characteristics"], "characteristics"))
    if modified_dates:
        columns.append((OPTIONS["retain_long_modified_dates"], "dates"))
    if clean:
        columns.append((OPTIONS["clean_descriptors"], "clean"))
    plan: dict[int, str] = {}
    for tag, code in BASIC.items():
        action = _resolve(tag, code)
        for column, kind in columns:
            option_code = column.get(tag)
            if option_code is None:
                continue
            if option_code == "K":
                action = "K"
            elif option_code == "C":
                vr = _vr_of(tag)
                if kind == "dates":
                    action = "S" if vr in ("DA", "DT") else "K"
                elif vr in _TEXT_VRS:
                    action = "C"
                else:
                    action = "R" if vr == "SQ" else "K"
            else:
                action = _resolve(tag, option_code)
            break
        plan[tag] = action
    if modified_dates:
        # Dates added to Table E.1-1 after the option columns' edition: shift them too.
        for tag, action in plan.items():
            if action in ("X", "Z", "D") and _vr_of(tag) in ("DA", "DT"):
                plan[tag] = "S"
    plan[_PATIENT_ID] = "P"
    plan[_PATIENT_NAME] = "D"
    for tag in _class_uid_tags():
        plan.setdefault(tag, "K")
    return plan


@lru_cache(maxsize=1)
def _class_uid_tags() -> frozenset[int]:
    """UI attributes naming a class, syntax or scheme, not an instance: never replaced.

    They identify no patient; a vendor's private SOP class must stay the same in the dataset
    and in the file meta.
    """
    kinds = ("ClassUID", "TransferSyntaxUID", "CodingSchemeUID", "TemplateUID")
    return frozenset(
        tag
        for tag, entry in DicomDictionary.items()
        if entry[0] == "UI" and entry[4].endswith(kinds) and tag not in BASIC
    )


def _masked_action(tag: int) -> str | None:
    """Action of the wildcard rows (curves 50xx, overlays 60xx), or None."""
    group, element = tag >> 16, tag & 0xFFFF
    if group & 0xFF00 == 0x6000 and not group & 1:
        return "X"  # the whole overlay plane: its Overlay Data is removed (X)
    for g, e, gm, em, code in MASKED:
        if group & gm == g and element & em == e:
            return _resolve(tag, code)
    return None


class _Context:
    """State of one dataset's de-identification."""

    __slots__ = ("days", "identifiers", "key", "options", "plan", "residual")

    def __init__(self, options: DeidOptions, plan: dict[int, str], days: int) -> None:
        self.options = options
        self.key: bytes = options.key
        self.plan = plan
        self.days = days
        self.identifiers: re.Pattern[str] | None = None
        #: the patient's own identifiers, removed wherever a kept text element repeats them
        self.residual: re.Pattern[str] | None = None


def _residual_pattern(ds: Dataset) -> re.Pattern[str] | None:
    values: list[str] = []
    for keyword in RESIDUAL_KEYWORDS:
        value = ds.get(keyword)
        if value:
            values.extend(str(v) for v in (value if isinstance(value, MultiValue) else [value]))
    tokens = residual_tokens(values)
    if not tokens:
        return None
    return re.compile(
        "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)), re.IGNORECASE
    )


def _elem_vr(elem: DataElement | RawDataElement, tag: int) -> str:
    vr = elem.VR
    return str(vr) if vr and vr != "UN" else _vr_of(tag)


def _new_uids(value: Any, key: bytes) -> Any:
    if isinstance(value, MultiValue | list):
        return [replace_uid(key, str(v)) for v in value]
    return replace_uid(key, str(value)) if value else value


def _map(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, MultiValue | list):
        return [fn(str(v)) for v in value]
    return fn(str(value)) if value else value


def _clean_text(value: str, ctx: _Context) -> str:
    """Clean Descriptors: identifying words of this dataset and long digit runs removed."""
    if ctx.identifiers is not None:
        value = ctx.identifiers.sub("", value)
    if ctx.residual is not None:
        value = ctx.residual.sub("", value)
    value = value.replace("^", " ")
    value = re.sub(r"\d{5,}", "", value)
    return re.sub(r"\s{2,}", " ", value).strip()


def _collect_identifiers(ds: Dataset, plan: dict[int, str]) -> re.Pattern[str] | None:
    """Words (3+ characters) of the values this dataset's table removes or replaces."""
    words: set[str] = set()
    for elem in ds:
        if plan.get(elem.tag) not in ("X", "Z", "D", "P", "S"):
            continue
        if elem.VR == "SQ" or elem.VR not in _TEXT_VRS | {"DA", "DT"} or elem.value is None:
            continue
        values = elem.value if isinstance(elem.value, MultiValue) else [elem.value]
        for value in values:
            words.update(w for w in re.split(r"[\s^=,;/\\]+", str(value)) if len(w) >= 3)
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(alternatives, re.IGNORECASE)


def _default_action(ds: Dataset, tag: int, ctx: _Context) -> str:
    """Action of an element Table E.1-1 does not list."""
    group = tag >> 16
    if group & 1:
        return _private_action(ds, tag, ctx)
    if tag & 0xFFFF == 0:
        return "X"  # group length: stale after the changes
    masked = _masked_action(tag)
    if masked is not None:
        return masked
    elem = ds.get_item(BaseTag(tag))
    vr = _elem_vr(elem, tag) if elem is not None else "UN"
    if vr == "SQ":
        return "R"
    if vr in RESIDUAL_VRS and ctx.residual is not None:
        value = ds[tag].value
        values = value if isinstance(value, MultiValue) else [value]
        if any(v and ctx.residual.search(str(v)) for v in values):
            return "C"  # kept text repeating the patient's identifiers: cleaned
    if vr == "UI" and not ctx.options.retain_uids:
        value = ds[tag].value
        values = value if isinstance(value, MultiValue) else [value]
        if any(v and not is_well_known(str(v)) for v in values):
            return "U"
    return "K"


def _private_action(ds: Dataset, tag: int, ctx: _Context) -> str:
    """Private elements: removed, unless Retain Safe Private allows this one."""
    if not ctx.options.retain_safe_private:
        return "X"
    group, element = tag >> 16, tag & 0xFFFF
    if element < 0x0010:
        return "X"
    if element <= 0x00FF:  # a private creator: kept when it reserves an allow-listed block
        creator = str(ds[tag].value).strip().upper()
        return "K" if any(c == creator for c, _ in SAFE_PRIVATE) else "X"
    creator_elem = ds.get_item(BaseTag((group << 16) | (element >> 8)))
    if creator_elem is None:
        return "X"
    creator = str(ds[(group << 16) | (element >> 8)].value).strip().upper()
    if (creator, element & 0xFF) not in SAFE_PRIVATE:
        return "X"
    return "K" if ds[tag].VR in _NUMERIC_VRS else "X"


def _apply(ds: Dataset, ctx: _Context) -> None:
    """Apply the plan to every element of ``ds`` and, recursively, of its sequence items."""
    plan = ctx.plan
    for tag in list(ds.keys()):
        action = plan.get(tag)
        if action is None:
            action = _default_action(ds, tag, ctx)
        if action == "K":
            continue
        if action == "X":
            del ds[tag]
            continue
        elem = ds[tag]
        vr = elem.VR
        if action == "R" or (vr == "SQ" and action in ("C", "S", "U")):
            for item in elem.value or ():
                _apply(item, ctx)
        elif action == "Z":
            elem.value = Sequence() if vr == "SQ" else None
        elif action == "U":
            elem.value = _new_uids(elem.value, ctx.key)
        elif action == "D":
            _dummy(elem, ctx)
        elif action == "S":
            if vr == "DA":
                elem.value = _map(elem.value, lambda v: shift_da(v, ctx.days))
            elif vr == "DT":
                elem.value = _map(elem.value, lambda v: shift_dt(v, ctx.days))
        elif action == "C":
            elem.value = _map(elem.value, lambda v: _clean_text(v, ctx))
        elif action == "P":
            elem.value = pseudonym(ctx.key, str(elem.value or ""))


def _dummy(elem: DataElement, ctx: _Context) -> None:
    vr = elem.VR
    if vr == "UI":
        elem.value = _new_uids(elem.value, ctx.key) or replace_uid(ctx.key, "dummy")
    elif vr in DUMMY:
        elem.value = DUMMY[vr]
    elif vr in _NUMERIC_VRS or vr == "AT":
        elem.value = 0
    elif vr == "SQ":
        elem.value = Sequence()
    else:  # OB, OW, OF, OD, OL, OV, UN
        elem.value = b"\0\0"


def _method_items(options: DeidOptions) -> Sequence:
    items = []
    for name in options.used():
        item = Dataset()
        item.CodeValue, item.CodeMeaning = CODES[name]
        item.CodingSchemeDesignator = "DCM"
        items.append(item)
    return Sequence(items)


def deidentify(ds: Dataset, options: DeidOptions) -> Dataset:
    """De-identify ``ds`` **in place** and return it (copy it first to keep the original).

    Parameters
    ----------
    ds : Dataset
        A dataset, with or without file meta; its pixel data is neither decoded nor changed.
    options : DeidOptions
        The key and the PS3.15 options.

    Returns
    -------
    Dataset
        ``ds`` itself, with Patient Identity Removed, the De-identification Method (Code
        Sequence) and Longitudinal Temporal Information Modified set.
    """
    plan = _plan(options.flags())
    patient_id = str(ds.get("PatientID", "") or "")
    ctx = _Context(options, plan, date_shift_days(options.key, patient_id))
    if options.clean_descriptors or options.retain_patient_characteristics:
        ctx.identifiers = _collect_identifiers(ds, plan)
    ctx.residual = _residual_pattern(ds)
    _apply(ds, ctx)
    if _PATIENT_ID not in ds:
        ds.PatientID = pseudonym(ctx.key, "")
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = (
        "MODIFIED" if options.retain_long_modified_dates else "REMOVED"
    )
    ds.DeidentificationMethod = "radcurate E.1 " + " ".join(CODES[n][0] for n in options.used())
    ds.DeidentificationMethodCodeSequence = _method_items(options)
    if getattr(ds, "preamble", None):
        ds.preamble = b"\0" * 128  # the 128-byte preamble may hold any text (TIFF headers)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:  # a real File Meta header
        for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                        "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID",
                        "PrivateInformation"):  # fmt: skip
            if keyword in meta:
                delattr(meta, keyword)
        # this file is written by pydicom now (the original writer's UID is the instance's)
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = "RADCURATE_DEID"
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if "SOPClassUID" in ds:
            meta.MediaStorageSOPClassUID = ds.SOPClassUID
    return ds


def deidentify_file(
    src: str | PathLike[str] | BinaryIO,
    dst: str | PathLike[str] | BinaryIO,
    options: DeidOptions,
    *,
    force: bool = False,
    digest: Hash | None = None,
) -> None:
    """Read ``src``, de-identify it and write ``dst`` in the same transfer syntax; ``digest``
    (a :mod:`hashlib` object) is updated with the bytes written.

    Little-endian Part 10 files go through the byte-level fast path
    (:mod:`radcurate.export.deid_stream`: kept elements and pixel data copied as bytes, never
    decoded; a large file's pixel data is copied file to file by
    :func:`radcurate.export.deid_copy.deidentify_header`); anything else through pydicom
    (:func:`deidentify`), which gives the same dataset. ``force`` reads files without the
    DICOM File Meta header (as pydicom's ``force``); they are written without one.
    """
    plan, method = _plan(options.flags()), _method(options)
    if (
        isinstance(src, str | PathLike)
        and isinstance(dst, str | PathLike)
        and deidentify_header(src, dst, options, plan, method, _vr_of, digest)
    ):
        return
    if isinstance(src, str | PathLike):
        with open(src, "rb") as fh:
            data = fh.read()
    else:
        data = src.read()
    fast = deidentify_bytes(data, options, plan, method, _vr_of)
    if fast is None:
        ds = dcmread(io.BytesIO(data), force=force)
        deidentify(ds, options)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=False)
        fast = buffer.getvalue()
    if isinstance(dst, str | PathLike):
        write_file(dst, [fast], digest)
        return
    if digest is not None:
        digest.update(fast)
    dst.write(fast)


def _method(options: DeidOptions) -> list[tuple[str, str]]:
    return [CODES[name] for name in options.used()]


#: SOP classes whose pixels are captured screens or scanned pages (may show any text).
_RISKY_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.1": "Multi-frame Single Bit Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.2": "Multi-frame Grayscale Byte Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.3": "Multi-frame Grayscale Word Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF",
    "1.2.840.10008.5.1.4.1.1.104.2": "Encapsulated CDA",
}
_RISKY_MODALITIES = {"US": "ultrasound", "XC": "external camera photograph", "DOC": "document"}
_RISKY_CONVERSIONS = {"SD": "scanned document", "SI": "scanned image", "DF": "digitized film"}


def burned_in_risk(ds: Dataset) -> str | None:
    """Why the pixels of ``ds`` may show identifying text or features, or None.

    Checked: Burned In Annotation YES, Recognizable Visual Features YES, ultrasound (and
    external camera, document) modality, Secondary Capture and encapsulated document SOP
    classes, scanned-document conversion types. The reason names the attribute, never a value
    of the patient.
    """
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return "BurnedInAnnotation is YES"
    if str(ds.get("RecognizableVisualFeatures", "")).strip().upper() == "YES":
        return "RecognizableVisualFeatures is YES"
    modality = str(ds.get("Modality", "")).strip().upper()
    if modality in _RISKY_MODALITIES:
        return f"Modality {modality} ({_RISKY_MODALITIES[modality]})"
    sop_class = str(ds.get("SOPClassUID", "")).strip()
    if sop_class in _RISKY_CLASSES:
        return f"SOP class {_RISKY_CLASSES[sop_class]}"
    conversion = str(ds.get("ConversionType", "")).strip().upper()
    if conversion in _RISKY_CONVERSIONS:
        return f"ConversionType {conversion} ({_RISKY_CONVERSIONS[conversion]})"
    return None
