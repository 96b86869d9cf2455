"""Body regions named by a series' headers, in one controlled vocabulary.

``BodyPartExamined`` uses the DICOM defined terms (PS3.16 Annex L) when it is set at all;
sites also write the region only into descriptions and protocol names, in English and
German abbreviations. This annotator reads those attributes and maps them onto the
regions the image-based annotators use (head, neck, chest, abdomen, pelvis, legs, arms),
so headers can be compared with what the pixels show and filtered on consistently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from radcurate.workflow.step import SeriesItem, Workflow

#: regions from head to feet (results are listed in this order)
REGIONS = ("head", "neck", "chest", "abdomen", "pelvis", "legs", "arms")

#: DICOM BodyPartExamined defined terms (and common variants) -> regions
_BODY_PART_TERMS: dict[str, tuple[str, ...]] = {
    "HEAD": ("head",), "BRAIN": ("head",), "SKULL": ("head",), "FACE": ("head",),
    "ORBIT": ("head",), "SINUS": ("head",), "IAC": ("head",), "JAW": ("head",),
    "TMJ": ("head",), "HEADNECK": ("head", "neck"), "NECK": ("neck",), "CSPINE": ("neck",),
    "LARYNX": ("neck",), "THYROID": ("neck",), "CHEST": ("chest",), "THORAX": ("chest",),
    "LUNG": ("chest",), "HEART": ("chest",), "BREAST": ("chest",), "TSPINE": ("chest",),
    "RIB": ("chest",), "STERNUM": ("chest",), "MEDIASTINUM": ("chest",),
    "ABDOMEN": ("abdomen",), "LIVER": ("abdomen",), "KIDNEY": ("abdomen",),
    "PANCREAS": ("abdomen",), "STOMACH": ("abdomen",), "LSPINE": ("abdomen",),
    "PELVIS": ("pelvis",), "HIP": ("pelvis",), "PROSTATE": ("pelvis",), "BLADDER": ("pelvis",),
    "UTERUS": ("pelvis",), "RECTUM": ("pelvis",), "SSPINE": ("pelvis",), "COCCYX": ("pelvis",),
    "CHESTABDOMEN": ("chest", "abdomen"), "ABDOMENPELVIS": ("abdomen", "pelvis"),
    "ABDPELVIS": ("abdomen", "pelvis"), "CHESTABDPELVIS": ("chest", "abdomen", "pelvis"),
    "LEG": ("legs",), "LOWERLIMB": ("legs",), "THIGH": ("legs",), "KNEE": ("legs",),
    "ANKLE": ("legs",), "FOOT": ("legs",), "FEMUR": ("legs",), "TIBIA": ("legs",),
    "ARM": ("arms",), "UPPERLIMB": ("arms",), "SHOULDER": ("arms",), "ELBOW": ("arms",),
    "WRIST": ("arms",), "HAND": ("arms",), "HUMERUS": ("arms",), "FOREARM": ("arms",),
    "WHOLEBODY": ("head", "neck", "chest", "abdomen", "pelvis", "legs"),
}  # fmt: skip

#: words in free-text descriptions -> regions (whole words, case-insensitive)
_WORDS: dict[str, tuple[str, ...]] = {
    "head": ("head",), "brain": ("head",), "cranial": ("head",), "cerebral": ("head",),
    "kopf": ("head",), "schädel": ("head",), "schaedel": ("head",), "cct": ("head",),
    "neck": ("neck",), "hals": ("neck",), "cervical": ("neck",),
    "chest": ("chest",), "thorax": ("chest",), "thx": ("chest",), "lung": ("chest",),
    "lungs": ("chest",), "lunge": ("chest",), "cardiac": ("chest",), "heart": ("chest",),
    "pulmonary": ("chest",), "cta chest": ("chest",), "breast": ("chest",), "mamma": ("chest",),
    "abdomen": ("abdomen",), "abd": ("abdomen",), "liver": ("abdomen",), "leber": ("abdomen",),
    "renal": ("abdomen",), "kidney": ("abdomen",), "pancreas": ("abdomen",),
    "pelvis": ("pelvis",), "becken": ("pelvis",), "prostate": ("pelvis",), "hip": ("pelvis",),
    "cap": ("chest", "abdomen", "pelvis"), "tap": ("chest", "abdomen", "pelvis"),
    "leg": ("legs",), "legs": ("legs",), "knee": ("legs",), "knie": ("legs",),
    "ankle": ("legs",), "foot": ("legs",), "femur": ("legs",),
    "arm": ("arms",), "shoulder": ("arms",), "schulter": ("arms",), "wrist": ("arms",),
    "hand": ("arms",), "elbow": ("arms",),
    "whole body": ("head", "neck", "chest", "abdomen", "pelvis", "legs"),
    "wholebody": ("head", "neck", "chest", "abdomen", "pelvis", "legs"),
}  # fmt: skip

_WORD_PATTERN = re.compile(
    r"(?<![a-zäöü])("
    + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True))
    + r")(?![a-zäöü])"
)

#: attributes read, most trusted first
SOURCES = ("BodyPartExamined", "SeriesDescription", "ProtocolName", "StudyDescription")


def regions_of_body_part(value: str) -> tuple[str, ...]:
    """Regions of a BodyPartExamined value (spaces, dashes and case ignored).

    Examples
    --------
    >>> regions_of_body_part("Chest-Abdomen")
    ('chest', 'abdomen')
    >>> regions_of_body_part("unknown")
    ()
    """
    key = re.sub(r"[^A-Z]", "", value.upper())
    return _BODY_PART_TERMS.get(key, ())


def regions_of_text(value: str) -> tuple[str, ...]:
    """Regions named by words of a description.

    Examples
    --------
    >>> regions_of_text("CT Thorax/Abd nativ")
    ('chest', 'abdomen')
    >>> regions_of_text("localizer")
    ()
    """
    found: list[str] = []
    for match in _WORD_PATTERN.finditer(value.lower()):
        found += _WORDS[match.group(1)]
    return tuple(dict.fromkeys(found))


class HeaderBodyPartParams(BaseModel):
    """Parameters of the header body-part annotator."""

    model_config = ConfigDict(extra="forbid")

    use_descriptions: bool = Field(
        True,
        description="Also read SeriesDescription, ProtocolName and StudyDescription "
        "when BodyPartExamined names no region",
    )


class HeaderBodyPart(Workflow):
    """``ai.bodypart_header``: the regions the headers name; ``ai.bodypart_header_source``."""

    name = "header-bodypart"
    title = "Body part from headers"
    description = (
        "Maps BodyPartExamined (DICOM defined terms) and, failing that, description and "
        "protocol words onto head/neck/chest/abdomen/pelvis/legs/arms: "
        "ai.bodypart_header (list) and ai.bodypart_header_source (the attribute used)."
    )
    version = "1"
    Params = HeaderBodyPartParams

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        assert isinstance(params, HeaderBodyPartParams)
        document = item.document
        sources = SOURCES if params.use_descriptions else SOURCES[:1]
        for source in sources:
            value = document.get(source)
            if not isinstance(value, str) or not value.strip():
                continue
            found = (
                regions_of_body_part(value)
                if source == "BodyPartExamined"
                else regions_of_text(value)
            )
            if found:
                ordered = [r for r in REGIONS if r in found]
                return {"ai": {"bodypart_header": ordered, "bodypart_header_source": source}}
        return {"ai": {"bodypart_header": [], "bodypart_header_source": None}}

    def input_hash(self, item: SeriesItem) -> str:
        """The header attributes read (the pixels play no part)."""
        return "|".join(str(item.document.get(s) or "") for s in SOURCES)
