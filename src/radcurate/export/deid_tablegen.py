"""Generate :mod:`radcurate.export.deid_table` from two offline copies of PS3.15 Table E.1-1.

Run ``python -m radcurate.export.deid_tablegen`` with both source packages installed (they are
read only here, never needed at run time)::

    pip install --no-deps dicom-anonymizer==2.1.0 dicom-standard==0.1.0

- ``dicom-anonymizer`` 2.1.0 (BSD-3-Clause, KitwareMedical) ships
  ``dicomanonymizer/dicom_anonymization_databases/dicomfields_2026c.py``: the *Basic Profile*
  column of Table E.1-1 of DICOM 2026c, one Python list per action code (D, Z, X, U, Z/D, X/Z,
  X/D, X/Z/D, X/Z/U*). It is the newer edition, so it decides the basic action.
- ``dicom-standard`` 0.1.0 (MIT, Innolitics) ships
  ``standard/confidentiality_profile_attributes.json``: Table E.1-1 parsed from the 2020 edition
  *with the option columns* (Retain Safe Private, UIDs, Device Identity, Institution Identity,
  Patient Characteristics, Longitudinal Full / Modified Dates, Clean Descriptors, Structured
  Content, Graphics). It supplies the option columns; rows added to the standard after 2020 have
  basic actions only (docs/deidentification.md gives the generic rules that cover them).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

#: Category list name in dicom-anonymizer → Table E.1-1 action code.
CATEGORIES: dict[str, str] = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
#: JSON column of dicom-standard → option name used in :mod:`deid_table`.
OPTION_COLUMNS: dict[str, str] = {
    "rtnSafePrivOpt": "retain_safe_private",
    "rtnUIDsOpt": "retain_uids",
    "rtnDevIdOpt": "retain_device_identity",
    "rtnInstIdOpt": "retain_institution_identity",
    "rtnPatCharsOpt": "retain_patient_characteristics",
    "rtnLongFullDatesOpt": "retain_long_full_dates",
    "rtnLongModifDatesOpt": "retain_long_modified_dates",
    "cleanDescOpt": "clean_descriptors",
    "cleanStructContOpt": "clean_structured_content",
    "cleanGraphOpt": "clean_graphics",
}
ANONYMIZER_DIST = "dicom-anonymizer"
ANONYMIZER_MODULE = "dicomanonymizer/dicom_anonymization_databases/dicomfields_2026c.py"
STANDARD_DIST = "dicom-standard"
STANDARD_JSON = "confidentiality_profile_attributes.json"


def _dist_file(dist: str, suffix: str) -> Path:
    """The installed file of ``dist`` whose path ends with ``suffix``."""
    files = importlib.metadata.distribution(dist).files or []
    for entry in files:
        if str(entry).replace("\\", "/").endswith(suffix):
            return Path(str(entry.locate())).resolve()
    raise FileNotFoundError(f"{dist} does not ship {suffix}")


def load_basic() -> tuple[dict[int, str], list[tuple[int, int, int, int, str]], str]:
    """Basic Profile actions from dicom-anonymizer: (tag → code, masked rows, version)."""
    path = _dist_file(ANONYMIZER_DIST, ANONYMIZER_MODULE)
    spec = importlib.util.spec_from_file_location("_deid_fields", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    single: dict[int, str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for name, code in CATEGORIES.items():
        for entry in getattr(module, name):
            if len(entry) == 2:
                single[(entry[0] << 16) | entry[1]] = code
            else:
                group, element, gmask, emask = entry
                masked.append((group, element, gmask, emask, code))
    return single, masked, importlib.metadata.version(ANONYMIZER_DIST)


def load_options() -> tuple[dict[str, dict[int, str]], dict[int, str], str]:
    """Option columns from dicom-standard: (option → tag → code, tag → name, version)."""
    path = _dist_file(STANDARD_DIST, STANDARD_JSON)
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    options: dict[str, dict[int, str]] = {name: {} for name in OPTION_COLUMNS.values()}
    names: dict[int, str] = {}
    for row in rows:
        if not re.fullmatch(r"[0-9a-fA-F]{8}", row["id"]):
            continue  # masked rows (50xx, 60xx, private) are handled by rule in deid.py
        tag = int(row["id"], 16)
        names[tag] = row["name"]
        for column, option in OPTION_COLUMNS.items():
            if row.get(column):
                options[option][tag] = row[column]
    return options, names, importlib.metadata.version(STANDARD_DIST)


def _packed(tags: list[int], indent: str, fmt: Any = None) -> list[str]:
    """Entries six (or with a format, four) to a line."""
    items = [fmt(t) if fmt else f"0x{t:08X}" for t in tags]
    n = 4 if fmt else 6
    return [indent + ", ".join(items[i : i + n]) + "," for i in range(0, len(items), n)]


def render() -> str:
    """The text of ``deid_table.py``."""
    single, masked, anon_version = load_basic()
    options, _names, std_version = load_options()
    lines = [
        '"""PS3.15 Table E.1-1 (Basic Application Level Confidentiality Profile), generated.',
        "",
        "Do not edit: regenerate with",
        "``python -m radcurate.export.deid_tablegen > src/radcurate/export/deid_table.py``.",
        f"Basic Profile column: dicom-anonymizer {anon_version} (BSD-3-Clause, KitwareMedical),",
        f"``{ANONYMIZER_MODULE}`` (DICOM 2026c).",
        f"Option columns: dicom-standard {std_version} (MIT, Innolitics),",
        f"``standard/{STANDARD_JSON}`` (DICOM 2020 edition).",
        "The table itself is DICOM PS3.15 (c) NEMA, reproduced as the standard permits.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "# fmt: off",
        "#: Basic Profile action code → tags (group << 16 | element) with that action.",
        "BASIC_BY_CODE: dict[str, tuple[int, ...]] = {",
    ]
    for code in CATEGORIES.values():
        tags = sorted(tag for tag, action in single.items() if action == code)
        lines.append(f'    "{code}": (')
        lines += _packed(tags, "        ")
        lines.append("    ),")
    lines += [
        "}",
        "#: (group << 16 | element) → Basic Profile action code.",
        "BASIC: dict[int, str] = {t: c for c, tags in BASIC_BY_CODE.items() for t in tags}",
        "",
        "#: Rows with wildcards: (group, element, group mask, element mask, action).",
        "MASKED: tuple[tuple[int, int, int, int, str], ...] = (",
    ]
    for g, e, gm, em, c in masked:
        lines.append(f'    (0x{g:04X}, 0x{e:04X}, 0x{gm:04X}, 0x{em:04X}, "{c}"),')
    lines += [
        ")",
        "",
        "#: Option name → tag → action code in that option's column.",
        "OPTIONS: dict[str, dict[int, str]] = {",
    ]
    for option in OPTION_COLUMNS.values():
        lines.append(f'    "{option}": {{')
        column = options[option]
        lines += _packed(sorted(column), "        ", lambda t, col=column: f'0x{t:08X}: "{col[t]}"')
        lines.append("    },")
    lines += ["}", "# fmt: on", ""]
    return "\n".join(lines)


def main() -> None:
    """Write the generated module to standard output."""
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
