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

from typing import Any

from sqlmodel import Session, col, select

from server.audit import append as audit
from server.clock import now_ms, utcnow
from server.database import Database
from server.problems import NotFound
from server.tables import DeviceKeyRow, DeviceRow, InspectorRow, SupervisorRow

__all__ = ["reinstate_inspector", "revoke_device", "revoke_supervisor", "revoked_after",
           "suspend_inspector"]


def revoked_after(at_ms: int) -> int:
    """The revocation time of a revocation made at ``at_ms``: the end of the second before.
    Seals date signatures to the second, so a seal signed in the second of its revocation
    verifies as ``revoked`` too, as its signature is refused."""
    return at_ms - at_ms % 1000 - 1


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


def revoke_device(database: Database, device_id: str) -> dict[str, Any]:
    """Revoke a device's credentials and signing keys; revoking again changes nothing."""
    with database.write() as session:
        changed = Database.next_change(session)
        device = session.get(DeviceRow, device_id)
        if device is None:
            raise NotFound("unknown_device", f"no device {device_id!r}")
        if device.revoked_at is None:
            at = now_ms()
            device.revoked_at = utcnow()
            session.add(device)
            after = revoked_after(at)
            kids = _revoke_keys(session, [device_id], after)
            audit(session, at, "admin", "device_revoked", device_id,
                  {"inspector_id": device.inspector_id, "revoked_after_ms": after, "kids": kids},
                  changed)
        return {"device_id": device_id, "revoked_at": device.revoked_at.isoformat()}


def _inspector(session: Session, inspector_id: str) -> InspectorRow:
    inspector = session.get(InspectorRow, inspector_id)
    if inspector is None:
        raise NotFound("unknown_inspector", f"no inspector {inspector_id!r}")
    return inspector


def suspend_inspector(database: Database, inspector_id: str, reason: str) -> dict[str, Any]:
    """Suspend an inspector: the signing keys of all their devices are revoked from now."""
    with database.write() as session:
        changed = Database.next_change(session)
        inspector = _inspector(session, inspector_id)
        devices = sorted(session.exec(select(DeviceRow.id).where(
            DeviceRow.inspector_id == inspector_id)))
        if not inspector.suspended:  # suspended already: its keys were revoked then
            at = now_ms()
            after = revoked_after(at)
            inspector.suspended = True
            session.add(inspector)
            audit(session, at, "admin", "inspector_suspended", inspector_id,
                  {"reason": reason, "revoked_after_ms": after, "devices": devices,
                   "kids": _revoke_keys(session, devices, after)}, changed)
        return {"inspector_id": inspector_id, "suspended": True, "devices": devices}


def reinstate_inspector(database: Database, inspector_id: str) -> dict[str, Any]:
    """Lift a suspension. Revoked keys stay revoked: a device signs again once it enrolls a
    new key (``POST /v1/keys``)."""
    with database.write() as session:
        changed = Database.next_change(session)
        inspector = _inspector(session, inspector_id)
        if inspector.suspended:
            inspector.suspended = False
            session.add(inspector)
            audit(session, now_ms(), "admin", "inspector_reinstated", inspector_id, {}, changed)
        return {"inspector_id": inspector_id, "suspended": False}


def revoke_supervisor(database: Database, supervisor_id: str) -> dict[str, Any]:
    """Revoke a supervisor's token: it is refused (401) from now on."""
    with database.write() as session:
        changed = Database.next_change(session)
        supervisor = session.get(SupervisorRow, supervisor_id)
        if supervisor is None:
            raise NotFound("unknown_supervisor", f"no supervisor {supervisor_id!r}")
        if supervisor.revoked_at is None:
            supervisor.revoked_at = utcnow()
            session.add(supervisor)
            audit(session, now_ms(), "admin", "supervisor_revoked", supervisor_id, {}, changed)
        return {"supervisor_id": supervisor_id, "revoked_at": supervisor.revoked_at.isoformat()}
