"""``GET /health`` (liveness) and ``GET /ready`` (readiness).

Liveness asks nothing of the database: a registry whose database is down is alive, and
restarting it would not help. Readiness is what a load balancer asks before sending traffic:
the database answers, its schema is at the newest migration, the registry's keys are loaded.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from sqlalchemy.exc import SQLAlchemyError

from server.api.openapi import Body, documented
from server.data.schema import current_revision, head_revision
from server.registry import Registry, now_ms
from server.routes.answers import Health, Readiness

__all__ = ["health", "ready"]

log = logging.getLogger("field_sync.server")

_head = cache(head_revision)


@get("/health", sync_to_thread=False,
     operation_class=documented(response=Body(Health, ("application/json",))))
def health() -> dict[str, object]:
    """Public. Answers 200 while the process serves, with the server time and which worker
    process answered (``serve --workers``)."""
    return {"status": "ok", "server_time_ms": now_ms(), "worker": os.getpid()}


def _checks(registry: Registry) -> dict[str, str]:
    checks = {"keys": "ok" if registry.keys.signing and registry.keys.secrets else "missing"}
    try:
        revision = current_revision(registry.database.reader)
    except SQLAlchemyError as exc:
        log.warning("readiness: the database does not answer: %s", type(exc).__name__)
        return {**checks, "database": "unreachable", "migrations": "unknown"}
    checks["database"] = "ok"
    checks["migrations"] = "ok" if revision == _head() else f"at {revision}, not {_head()}"
    return checks


@get("/ready", sync_to_thread=True, operation_class=documented(
    response=Body(Readiness, ("application/json",)),
    responses={"503": "Not ready: the body names each check's state."}))
def ready(registry: NamedDependency[Registry]) -> Response[dict[str, Any]]:
    """Public. 200 when the registry can serve: database reachable, migrations at head, keys
    loaded; 503 otherwise. Either way the body names each check's state."""
    checks = _checks(registry)
    ok = all(state == "ok" for state in checks.values())
    return Response({"status": "ready" if ok else "not_ready", "checks": checks},
                    status_code=200 if ok else 503)
