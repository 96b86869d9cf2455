"""The patient's own identifiers, looked for in the free text the profile keeps.

PS3.15's table removes the attributes that identify the patient, but a kept text element
may repeat them (the demo's SEG writes ``TrackingID`` "Liver <PatientID>"; scanners put names
into descriptions and private free text the profile does not list). Both de-identification
paths remove these tokens from any kept text element: the pydicom path cleans them, the
byte-level path hands such a file to the pydicom path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: attributes whose values identify the patient directly: their tokens (4+ characters) are
#: removed from any kept text element that repeats them (e.g. a SEG's TrackingID "Liver
#: <PatientID>"), a guard for free text the profile keeps
RESIDUAL_KEYWORDS: tuple[str, ...] = (
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "PatientBirthName",
    "PatientMotherBirthName", "PatientAddress", "AccessionNumber",
)  # fmt: skip
RESIDUAL_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "PN"})


def residual_tokens(values: Iterable[str]) -> list[str]:
    """The tokens of identifying values worth looking for: split at spaces, ``^``, ``=``,
    ``,``; at least 4 characters with a digit (IDs), or 5 letters (names: shorter words such as
    "Test" or "Last" are too common to remove from other text).

    Examples
    --------
    >>> residual_tokens(["Evans^Jane", "13545910000", "St. Mary", "----", "Smith^A"])
    ['13545910000', 'Evans', 'Smith']
    """
    tokens = set()
    for value in values:
        for token in re.split(r"[\s^=,;/\\]+", str(value)):
            digits = any(c.isdigit() for c in token)
            letters = sum(c.isalpha() for c in token)
            if (digits and len(token) >= 4) or letters >= 5:
                tokens.add(token)
    return sorted(tokens)
