"""The one place that imports optional dependencies.

Each optional package belongs to an extra; a missing one raises an error that
names the ``pip install`` command to run instead of a bare ImportError deep
inside a pipeline.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: module name -> extra that provides it
EXTRAS: dict[str, str] = {
    "psycopg": "postgres",
    "highdicom": "demo",
    "jpeg_ls": "demo",
    "openjpeg": "demo",
    "rle": "demo",
    "PIL": "render",
    "pandas": "pandas",
    "nibabel": "nifti",
    "scipy": "analyze",
    "onnxruntime": "analyze",
}


class MissingDependencyError(ImportError):
    """An optional dependency is not installed."""


def import_optional(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise an error that names the extra to install.

    Examples
    --------
    >>> import_optional("json", "reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRAS.get(top)
        hint = f"pip install 'radcurate[{extra}]'" if extra else f"pip install {top}"
        raise MissingDependencyError(
            f"{purpose} needs the Python package '{top}', which is not installed: run {hint}"
        ) from exc


def is_available(module: str) -> bool:
    """True when ``module`` can be imported."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
