"""The error for pixels that cannot be decoded."""

from __future__ import annotations

__all__ = ["UndecodableError"]


class UndecodableError(Exception):
    """The pixels of an object cannot be decoded; the message is the one-line reason."""
