"""``GET /health``: is the server up and its database reachable."""

from __future__ import annotations

import os

from litestar import get
from litestar.di import NamedDependency
from sqlalchemy import text

from server.registry import Registry, now_ms

__all__ = ["health"]


@get("/health", sync_to_thread=True)
def health(registry: NamedDependency[Registry]) -> dict[str, object]:
    """Public. Answers 200 with the server time when the database answers, and which worker
    process answered (``serve --workers``)."""
    with registry.database.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "server_time_ms": now_ms(), "worker": os.getpid()}
