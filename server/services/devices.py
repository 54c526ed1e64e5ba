"""Tablets and their signing keys, as administrators see and revoke them.

Revoking a device (``server.authority.revocation``) ends its credentials and revokes its keys from
that
moment; revoking a key makes its signatures dated after a given time untrusted: the trust list
carries the time, and seals signed later verify as ``revoked``. Both are audited.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import func
from sqlmodel import Session, col, select

from server.api.problems import NotFound
from server.authority.audit import append as audit
from server.authority.revocation import revoke_device
from server.data.clock import now_ms
from server.data.database import Database
from server.data.tables import (
    AuditEntryRow,
    DeviceKeyRow,
    DeviceRow,
    HeldOpRow,
    InspectorRow,
    OpLogRow,
)

__all__ = ["DeviceView", "KeyView", "device", "devices", "revoke_device", "revoke_key"]


class KeyView(msgspec.Struct, frozen=True):
    """A signing key as the trust list has it."""

    kid: str
    valid_from_ms: int
    retired_at_ms: int
    revoked_after_ms: int


class DeviceView(msgspec.Struct, frozen=True):
    """A tablet: whose, when enrolled, last heard from, what it sent, and its keys."""

    id: str
    inspector_id: str
    inspector_name: str
    name: str
    enrolled_at_ms: int
    revoked_at_ms: int
    last_seen_ms: int
    last_push_ms: int
    highest_seq: int
    """The highest op sequence number the registry holds from it: how far it has pushed."""
    held_ops: int
    """Its ops kept aside because their protocol was signed without them."""
    keys: tuple[KeyView, ...]


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if value is not None else 0


def _view(session: Session, row: DeviceRow, inspector_name: str) -> DeviceView:
    keys = session.exec(select(DeviceKeyRow).where(col(DeviceKeyRow.device_id) == row.id)
                        .order_by(col(DeviceKeyRow.valid_from_ms)))
    last_push = session.exec(select(func.max(AuditEntryRow.at_ms)).where(
        col(AuditEntryRow.subject) == row.id, col(AuditEntryRow.action) == "push")).one()
    highest = session.exec(select(func.max(OpLogRow.max_seq)).where(
        col(OpLogRow.actor) == row.id)).one()
    held = session.exec(select(func.count()).select_from(HeldOpRow).where(
        col(HeldOpRow.actor) == row.id)).one()
    return DeviceView(row.id, row.inspector_id, inspector_name, row.name, _ms(row.enrolled_at),
                      _ms(row.revoked_at), row.last_seen_ms, int(last_push or 0),
                      int(highest or 0), int(held),
                      tuple(KeyView(key.kid, key.valid_from_ms, key.retired_at_ms,
                                    key.revoked_after_ms) for key in keys))


def devices(database: Database, inspector_id: str = "") -> list[DeviceView]:
    """Every device (or one inspector's), last heard from first."""
    with database.read() as session:
        statement = select(DeviceRow, InspectorRow.full_name).join(
            InspectorRow, col(InspectorRow.id) == col(DeviceRow.inspector_id))
        if inspector_id:
            statement = statement.where(col(DeviceRow.inspector_id) == inspector_id)
        rows = session.exec(statement.order_by(col(DeviceRow.last_seen_ms).desc(),
                                               col(DeviceRow.id)))
        return [_view(session, row, name) for row, name in rows]


def device(database: Database, device_id: str) -> DeviceView:
    """One device; 404 if unknown."""
    with database.read() as session:
        row = session.get(DeviceRow, device_id)
        if row is None:
            raise NotFound("unknown_device", f"no device {device_id!r}")
        inspector = session.get(InspectorRow, row.inspector_id)
        return _view(session, row, inspector.full_name if inspector else "")


def revoke_key(database: Database, kid: str, after_ms: int,
               actor: str = "admin") -> dict[str, Any]:
    """Distrust a key's signatures dated after ``after_ms``; a revocation only moves earlier."""
    with database.write() as session:
        key = session.get(DeviceKeyRow, kid)
        if key is None:
            raise NotFound("unknown_key", f"no key {kid!r}")
        if key.revoked_after_ms == 0 or after_ms < key.revoked_after_ms:
            key.revoked_after_ms = after_ms
            audit(session, now_ms(), actor, "key_revoked", kid, {"after_ms": after_ms},
                  Database.next_change(session))
        session.add(key)
        return {"kid": kid, "revoked_after_ms": key.revoked_after_ms}
