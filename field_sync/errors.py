"""Exceptions of field_sync.

    FieldSyncError
    ├── InvalidOperation      an op that no replica may apply (bad path, bad value, bad template)
    ├── ClockError            a stamp the clock cannot produce or accept
    └── EncodingError         a value that has no canonical form (a float, a non-string key)
"""

from __future__ import annotations

__all__ = ["ClockError", "EncodingError", "FieldSyncError", "InvalidOperation"]


class FieldSyncError(Exception):
    """Root of every error field_sync raises. ``code`` is stable and machine-readable."""

    code = "field_sync_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def reason(self) -> str:
        """The human-readable reason."""
        return str(self.args[0])


class InvalidOperation(FieldSyncError, ValueError):
    """An op that no replica may apply."""

    code = "invalid_op"


class ClockError(FieldSyncError, ValueError):
    """A stamp the clock cannot produce or accept."""

    code = "bad_clock"


class EncodingError(FieldSyncError, TypeError):
    """A value without a canonical form."""

    code = "not_canonical"
