"""Wall-clock helper for the tables, which hold aware UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utcnow"]


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
