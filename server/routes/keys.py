"""Device keys: a device rotates its own key; the administrator revokes a key from a time on.

A rotated-out key is retired: it signs nothing new, and what it signed before stays valid. A
revoked key's signatures dated after the revocation time are not trusted.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from sqlmodel import select

from field_sync.keys import InvalidKey, load_public_key
from field_sync.seal import key_id
from schemas.bounds import Millis, Text
from server.api.auth import Caller
from server.api.guards import admin_only
from server.api.openapi import ADMINISTRATOR, DEVICE, documented
from server.api.parameters import KeyId
from server.api.problems import BadRequest, Conflict
from server.authority.audit import append as audit
from server.data.database import Database
from server.data.tables import DeviceKeyRow, InspectorRow
from server.registry import Registry, now_ms
from server.routes.answers import KeyRevoked, KeyRotated
from server.services import devices
from server.sync.wire import decode_body, reply

__all__ = ["KeyRotation", "Revocation", "revoke_key", "rotate_key"]


class KeyRotation(msgspec.Struct, forbid_unknown_fields=True):
    """A device's new public key (PEM)."""

    public_key: Text


class Revocation(msgspec.Struct, forbid_unknown_fields=True):
    """Signatures dated after ``after_ms`` (ms since the epoch) are not to be trusted."""

    after_ms: Millis


def _rotate(database: Database, caller: Caller, public_key: str) -> dict[str, Any]:
    try:
        kid = key_id(load_public_key(public_key)).hex()
    except InvalidKey as exc:
        raise BadRequest(exc.code, exc.reason) from exc
    now = now_ms()
    with database.write() as session:
        inspector = session.get(InspectorRow, caller.inspector_id)
        if inspector is not None and inspector.suspended:
            raise Conflict("inspector_suspended", "the inspector is suspended: no new key is "
                           "enrolled until reinstated")
        existing = session.get(DeviceKeyRow, kid)
        if existing is not None:
            if existing.device_id != caller.device_id:
                raise Conflict("key_in_use", "this public key is already enrolled")
            return {"kid": kid, "valid_from_ms": existing.valid_from_ms}  # a retried rotation
        for old in session.exec(
            select(DeviceKeyRow).where(
                DeviceKeyRow.device_id == caller.device_id, DeviceKeyRow.retired_at_ms == 0
            )
        ):
            old.retired_at_ms = now
            session.add(old)
        session.add(
            DeviceKeyRow(
                kid=kid,
                device_id=caller.device_id,
                inspector_id=caller.inspector_id,
                public_key=public_key,
                valid_from_ms=now,
            )
        )
        audit(session, now, f"device:{caller.device_id}", "key_rotated", kid, {},
              Database.next_change(session))
    return {"kid": kid, "valid_from_ms": now}


@post("/v1/keys", security=DEVICE, operation_class=documented(KeyRotation, KeyRotated))
async def rotate_key(
    request: Request[Any, Any, Any],
    registry: NamedDependency[Registry],
    caller: NamedDependency[Caller],
) -> Response[bytes]:
    """Device. Enroll a new signing key; the device's current key is retired."""
    body = await decode_body(request, KeyRotation)
    return reply(
        request, await registry.run(_rotate, registry.database, caller, body.public_key), 201
    )


@post("/v1/admin/keys/{kid:str}/revoke", status_code=200, guards=[admin_only],
      security=ADMINISTRATOR, operation_class=documented(Revocation, KeyRevoked))
async def revoke_key(
    request: Request[Any, Any, Any], registry: NamedDependency[Registry], kid: KeyId
) -> Response[bytes]:
    """Administrator. Distrust a key's signatures dated after ``after_ms``."""
    body = await decode_body(request, Revocation)
    return reply(request, await registry.run(devices.revoke_key, registry.database, kid,
                                             body.after_ms))
