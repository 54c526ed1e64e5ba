"""Who is calling: the administrator, or an enrolled device.

Device tokens are ``<device id>.<secret>``; only a SHA-256 of the secret is stored (the secret is
256 random bits, so a plain hash is as strong as a slow one and costs nothing per request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import partial
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from sqlalchemy import update
from sqlmodel import col

from server.api.problems import Unauthorized
from server.authority.credentials import KnownDevice
from server.data.clock import now_ms
from server.data.database import Database
from server.data.tables import DeviceRow, SupervisorRow
from server.services.reach import Reach, parse_regions

__all__ = ["Caller", "bearer", "hash_secret", "make_device_token", "make_supervisor_token",
           "require_admin", "require_device", "require_supervisor"]


@dataclass(frozen=True)
class Caller:
    """An authenticated device and the inspector it belongs to."""

    device_id: str
    inspector_id: str


def hash_secret(secret: str) -> str:
    """The stored form of a high-entropy secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def make_device_token(device_id: str) -> tuple[str, str]:
    """A new token for ``device_id`` and the hash to store."""
    secret = secrets.token_urlsafe(32)
    return f"{device_id}.{secret}", hash_secret(secret)


def bearer(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The bearer token of the request, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing_credentials", "send Authorization: Bearer <token>")
    return token.strip()


def require_admin(request: ASGIConnection[Any, Any, Any, Any], admin_token: str) -> None:
    """Admit only the administrator."""
    if not hmac.compare_digest(hash_secret(bearer(request)), hash_secret(admin_token)):
        raise Unauthorized("not_admin", "this endpoint needs the administrator's token")


SUPERVISOR_PREFIX = "sup."
LAST_SEEN_STEP_MS = 3_600_000


def make_supervisor_token(supervisor_id: str) -> tuple[str, str]:
    """A new token for a supervisor (``sup.<id>.<secret>``) and the hash to store."""
    secret = secrets.token_urlsafe(32)
    return f"{SUPERVISOR_PREFIX}{supervisor_id}.{secret}", hash_secret(secret)


def require_supervisor(request: ASGIConnection[Any, Any, Any, Any], database: Database) -> Reach:
    """Admit only a supervisor with a valid token; return who it is and the regions it
    reaches."""
    token = bearer(request)
    supervisor_id, _, secret = token.removeprefix(SUPERVISOR_PREFIX).rpartition(".")
    with database.read() as session:
        row = session.get(SupervisorRow, supervisor_id) if token.startswith(
            SUPERVISOR_PREFIX) and secret else None
        if row is None or row.revoked_at is not None or \
                not hmac.compare_digest(row.token_hash, hash_secret(secret)):
            raise Unauthorized("not_supervisor", "this endpoint needs a supervisor's token")
        return Reach(f"supervisor:{row.id}", parse_regions(row.regions))


def _known_device(database: Database, device_id: str) -> KnownDevice | None:
    with database.read() as session:
        device = session.get(DeviceRow, device_id)
        return None if device is None else KnownDevice(
            device.token_hash, device.inspector_id, device.revoked_at is not None,
            device.last_seen_ms)


def require_device(request: Request[Any, Any, Any], database: Database) -> Caller:
    """Admit only an enrolled, unrevoked device (as this process keeps devices while none
    changes: ``server.authority.credentials``)."""
    device_id, _, secret = bearer(request).partition(".")
    device = database.credentials.device(device_id, partial(_known_device, database)) \
        if device_id and secret else None
    if device is None or not hmac.compare_digest(device.token_hash, hash_secret(secret)):
        raise Unauthorized("unknown_device", "these device credentials are not known")
    if device.revoked:
        raise Unauthorized("device_revoked", "this device's credentials were revoked")
    now = now_ms()
    if now - device.last_seen_ms > LAST_SEEN_STEP_MS:
        # When a device was last heard from, to the hour: a write an hour a device, not one a
        # request (administrators look for tablets silent for days).
        with database.write() as session:
            session.execute(update(DeviceRow).where(col(DeviceRow.id) == device_id)
                            .values(last_seen_ms=now))
        device.last_seen_ms = now
    return Caller(device_id, device.inspector_id)
