"""Wall-clock helper for the tables, which hold aware UTC timestamps."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["now_ms", "utcnow"]


def now_ms() -> int:
    """The registry's clock, in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
