"""Revocation, from a moment on: a device, every device of a suspended inspector, a supervisor.

Revoking a device ends its credentials and revokes its signing keys: the trust list shows the
time after which their signatures are not trusted, signatures dated later are refused at ingest
(``key_revoked``) and their seals verify as ``revoked``; what they signed before stays valid.
Suspending an inspector revokes the keys of every device of theirs the same way (the devices
still sync, so nothing saved on them is lost, but sign nothing the registry takes), and no new
device or key is enrolled for them until they are reinstated. Every change is audited.

Each takes the change number first, as ingest does, which also writes a device's row: two
writers never lock the same rows in crossing orders.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from server.api.problems import NotFound
from server.authority.audit import append as audit
from server.data.clock import now_ms, utcnow
from server.data.database import Database
from server.data.tables import DeviceKeyRow, DeviceRow, InspectorRow, SupervisorRow

__all__ = ["reinstate_inspector", "revoke_device", "revoke_supervisor", "revoked_after",
           "suspend_inspector"]

Row = TypeVar("Row", bound=SQLModel)


def revoked_after(at_ms: int) -> int:
    """The revocation time of a revocation made at ``at_ms``: the end of the second before.
    Seals date signatures to the second, so a seal signed in the second of its revocation
    verifies as ``revoked`` too, as its signature is refused."""
    return at_ms - at_ms % 1000 - 1


def _found(session: Session, table: type[Row], key: str, what: str) -> Row:
    """The row of ``table`` by ``key``, or 404 ``unknown_<what>``."""
    row = session.get(table, key)
    if row is None:
        raise NotFound(f"unknown_{what}", f"no {what} {key!r}")
    return row


def _revoke_keys(session: Session, device_ids: list[str], after_ms: int) -> list[str]:
    """Revoke the devices' keys from ``after_ms`` (never later than a revocation before);
    the key ids."""
    keys = list(session.exec(select(DeviceKeyRow).where(
        col(DeviceKeyRow.device_id).in_(device_ids)).order_by(col(DeviceKeyRow.kid))))
    for key in keys:
        if key.revoked_after_ms == 0 or after_ms < key.revoked_after_ms:
            key.revoked_after_ms = after_ms
            session.add(key)
    return [key.kid for key in keys]


def revoke_device(database: Database, device_id: str, actor: str = "admin") -> dict[str, Any]:
    """Revoke a device's credentials and signing keys; revoking again changes nothing.
    ``actor`` is who, for the audit log."""
    with database.write() as session:
        changed = Database.next_change(session)
        device = _found(session, DeviceRow, device_id, "device")
        if device.revoked_at is None:
            at = now_ms()
            device.revoked_at = utcnow()
            session.add(device)
            after = revoked_after(at)
            kids = _revoke_keys(session, [device_id], after)
            audit(session, at, actor, "device_revoked", device_id,
                  {"inspector_id": device.inspector_id, "revoked_after_ms": after, "kids": kids},
                  changed)
        return {"device_id": device_id, "revoked_at": device.revoked_at.isoformat()}


def suspend_inspector(database: Database, inspector_id: str, reason: str,
                      actor: str = "admin") -> dict[str, Any]:
    """Suspend an inspector: the signing keys of all their devices are revoked from now."""
    with database.write() as session:
        changed = Database.next_change(session)
        inspector = _found(session, InspectorRow, inspector_id, "inspector")
        devices = sorted(session.exec(select(DeviceRow.id).where(
            DeviceRow.inspector_id == inspector_id)))
        if not inspector.suspended:  # suspended already: its keys were revoked then
            at = now_ms()
            after = revoked_after(at)
            inspector.suspended = True
            session.add(inspector)
            audit(session, at, actor, "inspector_suspended", inspector_id,
                  {"reason": reason, "revoked_after_ms": after, "devices": devices,
                   "kids": _revoke_keys(session, devices, after)}, changed)
        return {"inspector_id": inspector_id, "suspended": True, "devices": devices}


def reinstate_inspector(database: Database, inspector_id: str,
                        actor: str = "admin") -> dict[str, Any]:
    """Lift a suspension. Revoked keys stay revoked: a device signs again once it enrolls a
    new key (``POST /v1/keys``)."""
    with database.write() as session:
        changed = Database.next_change(session)
        inspector = _found(session, InspectorRow, inspector_id, "inspector")
        if inspector.suspended:
            inspector.suspended = False
            session.add(inspector)
            audit(session, now_ms(), actor, "inspector_reinstated", inspector_id, {}, changed)
        return {"inspector_id": inspector_id, "suspended": False}


def revoke_supervisor(database: Database, supervisor_id: str,
                      actor: str = "admin") -> dict[str, Any]:
    """Revoke a supervisor's token: it is refused (401) from now on."""
    with database.write() as session:
        changed = Database.next_change(session)
        supervisor = _found(session, SupervisorRow, supervisor_id, "supervisor")
        if supervisor.revoked_at is None:
            supervisor.revoked_at = utcnow()
            session.add(supervisor)
            audit(session, now_ms(), actor, "supervisor_revoked", supervisor_id, {}, changed)
        return {"supervisor_id": supervisor_id, "revoked_at": supervisor.revoked_at.isoformat()}
