"""The regions the registry knows: those its sites name. Read from the sites' records a few
minutes at a time (a registry has tens of thousands of sites and a search form asks each
time)."""

from __future__ import annotations

import threading
import time

import msgspec
from sqlmodel import col, select

from schemas.reference import Site
from server.data.database import Database
from server.data.tables import ReferenceRow

__all__ = ["known_regions"]

_FRESH_S = 300.0
_cache: dict[str, tuple[float, tuple[str, ...]]] = {}
_lock = threading.Lock()


def known_regions(database: Database) -> tuple[str, ...]:
    """Every region a site names, sorted; at most five minutes old."""
    with _lock:
        cached = _cache.get(database.url)
    if cached is not None and time.monotonic() - cached[0] < _FRESH_S:
        return cached[1]
    with database.read() as session:
        bodies = session.exec(select(ReferenceRow.body).where(col(ReferenceRow.kind) == "site"))
        regions = tuple(sorted({msgspec.msgpack.decode(body, type=Site).region
                                for body in bodies} - {""}))
    with _lock:
        _cache[database.url] = (time.monotonic(), regions)
    return regions
