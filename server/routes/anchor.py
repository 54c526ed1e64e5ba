"""What verifiers anchor their trust in: the registry key to pin, and signed checkpoints of the
audit log to keep."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency

from schemas.signing import AuditCheckpoint, RegistryKey
from server.api.openapi import documented
from server.api.problems import ProblemError
from server.authority.audit_anchor import AuditLogCut, current_checkpoint
from server.registry import Registry, now_ms
from server.sync.wire import reply

__all__ = ["audit_checkpoint", "registry_key"]

log = logging.getLogger("field_sync.server")


@get("/v1/registry-key", sync_to_thread=False, operation_class=documented(response=RegistryKey))
def registry_key(request: Request[Any, Any, Any],
                 registry: NamedDependency[Registry]) -> Response[bytes]:
    """Public. The registry key (PEM) and its fingerprint, for verifiers to pin, the
    public address the registry's trust lists name, and the key's hand-overs from the
    registry's first key (a verifier pinned to an earlier key follows them)."""
    keys = registry.keys
    return reply(request, RegistryKey(public_key=keys.public_pem, fingerprint=keys.fingerprint,
                                      public_url=registry.public_url(request),
                                      handovers=list(keys.handovers)))


@get("/v1/audit/checkpoint", operation_class=documented(response=AuditCheckpoint))
async def audit_checkpoint(request: Request[Any, Any, Any],
                           registry: NamedDependency[Registry]) -> Response[bytes]:
    """Public. The registry's signed checkpoint of its audit log's newest entry, to keep: the
    log must reach it, with the same hash, for as long as the registry runs."""
    try:
        checkpoint = await registry.run(current_checkpoint, registry.database, registry.keys,
                                        now_ms(), registry.config.audit_checkpoint_interval_ms)
    except AuditLogCut as exc:
        log.error("the audit log no longer reaches its newest checkpoint: %s", exc)
        raise ProblemError("audit_log_cut", f"the registry's audit log is broken: {exc}") \
            from exc
    response = reply(request, checkpoint)
    response.headers["Cache-Control"] = "no-store"
    return response
