"""An annotator whose dependency is missing: importing it fails, as a broken plugin's would."""

from __future__ import annotations

import radcurate_example_missing_dependency  # noqa: F401


def annotate() -> None:
    """Never reached: the import above fails."""
