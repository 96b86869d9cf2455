"""The HTTP API of radcurate: ``create_app(settings)`` builds the FastAPI application.

Nothing is created at import time; ``radcurate serve`` runs the app under uvicorn.
Reference: ``docs/api.md``.
"""

from __future__ import annotations

from radcurate.server.app import create_app
from radcurate.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
