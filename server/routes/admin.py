"""Administrator API: inspectors (and their suspension), enrollment codes, assignments,
devices."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import msgspec
import pyotp
from litestar import Controller, Request, Response, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from field_sync.confirmation import TOTP_STEP_S
from field_sync.qr import qr_svg
from schemas import Assignment, EnrollmentCode, Inspector, InspectorCreate
from server import revocation
from server.audit import append as audit
from server.auth import hash_secret
from server.clock import now_ms, utcnow
from server.database import Database
from server.guards import admin_only
from server.keys import RegistryKeys
from server.problems import BadRequest, Conflict, NotFound
from server.reference import RecordRejected, put_record
from server.registry import Registry
from server.tables import (
    EnrollmentCodeRow,
    InspectorRow,
    TotpSecretRow,
)
from server.wire import decode_body, reply

__all__ = ["AdminController", "Suspension", "new_enrollment_code", "normalize_code"]

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud, typed by hand


class Suspension(msgspec.Struct, forbid_unknown_fields=True):
    """Why an administrator suspends an inspector."""

    reason: str


def new_enrollment_code() -> str:
    """A one-time code of 60 random bits, ``XXXX-XXXX-XXXX``, QR-alphanumeric."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_code(code: str) -> str:
    """A code as typed (any case, with or without dashes) in its stored form."""
    return code.replace("-", "").replace(" ", "").upper()


def _create_inspector(database: Database, new: InspectorCreate) -> Inspector:
    if not new.id or not new.full_name.strip():
        raise BadRequest("invalid_inspector", "an inspector needs an id and a full name")
    with database.write() as session:
        if session.get(InspectorRow, new.id) is not None:
            raise Conflict("inspector_exists", f"inspector {new.id!r} already exists")
        session.add(
            InspectorRow(id=new.id, full_name=new.full_name, region=new.region, created_at=utcnow())
        )
        audit(session, now_ms(), "admin", "inspector_created", new.id,
              {"full_name": new.full_name, "region": new.region}, Database.next_change(session))
    return Inspector(new.id, new.full_name, new.region)


def _provision_totp(session: Session, keys: RegistryKeys, inspector_id: str) -> str:
    """Make the inspector's TOTP secret if there is none; its otpauth URI when made."""
    if session.get(TotpSecretRow, inspector_id) is not None:
        return ""
    secret = pyotp.random_base32()
    session.add(
        TotpSecretRow(inspector_id=inspector_id, secret=keys.secrets.encrypt(secret.encode()))
    )
    return pyotp.TOTP(secret, interval=TOTP_STEP_S).provisioning_uri(
        name=inspector_id, issuer_name="field-sync"
    )


def _issue_code(
    database: Database, keys: RegistryKeys, inspector_id: str, ttl_s: int
) -> EnrollmentCode:
    code = new_enrollment_code()
    expires = utcnow() + timedelta(seconds=ttl_s)
    with database.write() as session:
        inspector = session.get(InspectorRow, inspector_id)
        if inspector is None:
            raise NotFound("unknown_inspector", f"no inspector {inspector_id!r}")
        if inspector.suspended:
            raise Conflict("inspector_suspended", f"inspector {inspector_id!r} is suspended: "
                           "no device is enrolled for them until reinstated")
        session.add(
            EnrollmentCodeRow(
                code_hash=hash_secret(normalize_code(code)),
                inspector_id=inspector_id,
                expires_at=expires,
            )
        )
        totp_uri = _provision_totp(session, keys, inspector_id)
        # Neither the code nor the secret: what was issued, and until when.
        audit(session, now_ms(), "admin", "enrollment_code", inspector_id,
              {"expires_at": expires.isoformat(), "totp_provisioned": bool(totp_uri)},
              Database.next_change(session))
    return EnrollmentCode(
        code=code, inspector_id=inspector_id, expires_at=expires.isoformat(), totp_uri=totp_uri,
        code_qr_svg=qr_svg(code).decode(),
        totp_qr_svg=qr_svg(totp_uri).decode() if totp_uri else "",
    )


def _put_assignment(database: Database, assignment: Assignment) -> Assignment:
    try:
        put_record(database, "assignment", msgspec.to_builtins(assignment))
    except RecordRejected as exc:
        raise BadRequest(exc.code, str(exc)) from exc
    return assignment


class AdminController(Controller):
    """Administrator only."""

    path = "/v1/admin"
    guards = [admin_only]

    @post("/inspectors")
    async def create_inspector(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Response[bytes]:
        """Register an inspector; 409 if the id is taken."""
        new = await decode_body(request, InspectorCreate)
        return reply(request, await registry.run(_create_inspector, registry.database, new), 201)

    @post("/inspectors/{inspector_id:str}/enrollment-codes")
    async def issue_enrollment_code(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        inspector_id: FromPath[str],
    ) -> Response[bytes]:
        """A one-time enrollment code for the inspector's tablet."""
        code = await registry.run(
            _issue_code,
            registry.database,
            registry.keys,
            inspector_id,
            registry.config.enrollment_code_ttl_s,
        )
        return reply(request, code, 201)

    @put("/assignments/{assignment_id:str}")
    async def put_assignment(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        assignment_id: FromPath[str],
    ) -> Response[bytes]:
        """Create or replace an assignment and its team."""
        assignment = await decode_body(request, Assignment)
        if assignment.id != assignment_id:
            raise BadRequest("id_mismatch", "the body's id differs from the URL's")
        return reply(request, await registry.run(_put_assignment, registry.database, assignment))

    @post("/inspectors/{inspector_id:str}/suspend")
    async def suspend_inspector(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        inspector_id: FromPath[str],
    ) -> Response[bytes]:
        """Suspend an inspector, with a reason: the signing keys of all their devices are
        revoked from now, and no device or key is enrolled for them until reinstated."""
        body = await decode_body(request, Suspension)
        if not body.reason.strip():
            raise BadRequest("reason_required", "a suspension states its reason")
        return reply(request, await registry.run(revocation.suspend_inspector, registry.database,
                                                 inspector_id, body.reason.strip()))

    @post("/inspectors/{inspector_id:str}/reinstate")
    async def reinstate_inspector(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        inspector_id: FromPath[str],
    ) -> Response[bytes]:
        """Lift a suspension; the revoked keys stay revoked (a device enrolls a new one)."""
        return reply(request, await registry.run(revocation.reinstate_inspector, registry.database,
                                                 inspector_id))

    @post("/devices/{device_id:str}/revoke")
    async def revoke_device(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        device_id: FromPath[str],
    ) -> Response[bytes]:
        """Revoke a device's credentials and signing keys from now: it can no longer push or
        pull, and its signatures dated later are refused and their seals verify as
        revoked."""
        revoked = await registry.run(revocation.revoke_device, registry.database, device_id)
        return reply(request, revoked)
