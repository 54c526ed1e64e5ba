"""The answers handlers build as maps, described for the OpenAPI document (``server.api.openapi``).

They name the fields a client may rely on; an answer may carry more. The schemathesis run in the
tests checks every answer against them.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["AnnulmentAct", "AuditEntry", "DeviceRevoked", "Health", "InspectorSuspension",
           "KeyRevoked", "KeyRotated", "Readiness", "ReferenceStored", "SupervisorAppointed",
           "SupervisorRevoked"]


class DeviceRevoked(msgspec.Struct):
    """A device's credentials are revoked (``revoked_at``: ISO 8601, UTC)."""

    device_id: str
    revoked_at: str


class InspectorSuspension(msgspec.Struct):
    """Whether an inspector is suspended now; on suspending, their devices, whose keys are
    revoked from that moment."""

    inspector_id: str
    suspended: bool
    devices: list[str] = msgspec.field(default_factory=list)


class SupervisorRevoked(msgspec.Struct):
    """A supervisor's token is revoked (``revoked_at``: ISO 8601, UTC)."""

    supervisor_id: str
    revoked_at: str


class KeyRotated(msgspec.Struct):
    """The new key's id (hex) and when it took over (ms since the epoch)."""

    kid: str
    valid_from_ms: int


class KeyRevoked(msgspec.Struct):
    """A key's signatures dated after ``revoked_after_ms`` are not trusted."""

    kid: str
    revoked_after_ms: int


class ReferenceStored(msgspec.Struct):
    """The record as stored (normalized), and whether it changed anything."""

    record: dict[str, Any]
    changed: bool


class AnnulmentAct(msgspec.Struct):
    """The act of annulment, as the registry signed it (``signature``, base64url)."""

    protocol_id: str
    supervisor_id: str
    reason: str
    at_ms: int
    signature: str


class SupervisorAppointed(msgspec.Struct):
    """A new supervisor and the token, shown this once."""

    id: str
    token: str


class AuditEntry(msgspec.Struct):
    """One entry of the audit log, chained to the one before by its hash."""

    seq: int
    at_ms: int
    actor: str
    action: str
    subject: str
    detail: str
    """Canonical JSON of what changed."""
    changed: int
    prev_hash: str
    hash: str


class Health(msgspec.Struct):
    """The process serves (``status``: ``ok``): the server's time, and which worker answered."""

    status: str
    server_time_ms: int
    worker: int


class Readiness(msgspec.Struct):
    """``ready`` or ``not_ready``, and each check's state (``ok``, or what is wrong)."""

    status: str
    checks: dict[str, str]
