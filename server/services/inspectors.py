"""Inspectors, as administrators manage them: register one, issue a tablet's one-time
enrollment code (with the inspector's one-time-code secret the first time), give a new secret
when a phone is lost, and put assignments with their teams. Every act is audited."""

from __future__ import annotations

import secrets
from datetime import timedelta

import msgspec
import pyotp
from sqlalchemy import func, or_
from sqlmodel import Session, col, delete, select

from field_sync.confirmation import TOTP_STEP_S
from field_sync.enrollment import enrollment_uri
from field_sync.qr import qr_svg
from schemas import Assignment, EnrollmentCode, Inspector, InspectorCreate
from server.api.auth import hash_secret
from server.api.problems import BadRequest, Conflict, NotFound
from server.authority.audit import append as audit
from server.authority.keys import RegistryKeys
from server.data.clock import now_ms, utcnow
from server.data.database import Database
from server.data.reference import RecordRejected, put_record
from server.data.tables import (
    AssignmentRow,
    EnrollmentCodeRow,
    InspectorRow,
    TotpSecretRow,
    UsedTotpStep,
)
from server.sync.scope import assignments_since

__all__ = ["assignment", "assignments", "create_inspector", "inspector", "inspectors",
           "issue_code", "new_enrollment_code", "normalize_code", "put_assignment",
           "reprovision_totp", "update_inspector"]

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud, typed by hand


def new_enrollment_code() -> str:
    """A one-time code of 60 random bits, ``XXXX-XXXX-XXXX``, QR-alphanumeric."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_code(code: str) -> str:
    """A code as typed (any case, with or without dashes) in its stored form."""
    return code.replace("-", "").replace(" ", "").upper()


def create_inspector(database: Database, new: InspectorCreate, actor: str = "admin") -> Inspector:
    """Register an inspector; 409 if the id is taken."""
    if not new.id or not new.full_name.strip():
        raise BadRequest("invalid_inspector", "an inspector needs an id and a full name")
    with database.write() as session:
        if session.get(InspectorRow, new.id) is not None:
            raise Conflict("inspector_exists", f"inspector {new.id!r} already exists")
        session.add(
            InspectorRow(id=new.id, full_name=new.full_name, region=new.region, created_at=utcnow())
        )
        audit(session, now_ms(), actor, "inspector_created", new.id,
              {"full_name": new.full_name, "region": new.region}, Database.next_change(session))
    return Inspector(new.id, new.full_name, new.region)


def _totp_uri(secret: str, inspector_id: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_STEP_S).provisioning_uri(
        name=inspector_id, issuer_name="field-sync")


def _provision_totp(session: Session, keys: RegistryKeys, inspector_id: str) -> str:
    """Make the inspector's TOTP secret if there is none; its otpauth URI when made."""
    if session.get(TotpSecretRow, inspector_id) is not None:
        return ""
    secret = pyotp.random_base32()
    session.add(
        TotpSecretRow(inspector_id=inspector_id, secret=keys.secrets.encrypt(secret.encode()))
    )
    return _totp_uri(secret, inspector_id)


def issue_code(database: Database, keys: RegistryKeys, inspector_id: str, ttl_s: int,
               registry_url: str = "", actor: str = "admin") -> EnrollmentCode:
    """A one-time enrollment code for the inspector's tablet; its QR carries the registry's
    address too (``field_sync.enrollment``) when ``registry_url`` is given."""
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
        audit(session, now_ms(), actor, "enrollment_code", inspector_id,
              {"expires_at": expires.isoformat(), "totp_provisioned": bool(totp_uri)},
              Database.next_change(session))
    scanned = enrollment_uri(registry_url, code) if registry_url else code
    return EnrollmentCode(
        code=code, inspector_id=inspector_id, expires_at=expires.isoformat(), totp_uri=totp_uri,
        code_qr_svg=qr_svg(scanned).decode(),
        totp_qr_svg=qr_svg(totp_uri).decode() if totp_uri else "",
        enrollment_uri=scanned if registry_url else "",
    )


def reprovision_totp(database: Database, keys: RegistryKeys, inspector_id: str,
                     actor: str = "admin") -> str:
    """A new one-time-code secret for the inspector (the old app's codes stop working), with
    failures and lockout cleared; its otpauth URI, to show once."""
    secret = pyotp.random_base32()
    with database.write() as session:
        if session.get(InspectorRow, inspector_id) is None:
            raise NotFound("unknown_inspector", f"no inspector {inspector_id!r}")
        row = session.get(TotpSecretRow, inspector_id) or TotpSecretRow(
            inspector_id=inspector_id, secret=b"")
        row.secret, row.failures, row.locked_until_ms = keys.secrets.encrypt(secret.encode()), 0, 0
        session.add(row)
        # The steps the old secret used mean nothing to the new one; keep the set small.
        session.execute(delete(UsedTotpStep).where(
            col(UsedTotpStep.inspector_id) == inspector_id))
        audit(session, now_ms(), actor, "totp_reprovisioned", inspector_id, {},
              Database.next_change(session))
    return _totp_uri(secret, inspector_id)


def put_assignment(database: Database, assignment: Assignment,
                   actor: str = "admin") -> Assignment:
    """Create or replace an assignment and its team."""
    try:
        put_record(database, "assignment", msgspec.to_builtins(assignment), actor=actor)
    except RecordRejected as exc:
        raise BadRequest(exc.code, str(exc), field=exc.field) from exc
    return assignment


def inspectors(database: Database, text: str = "", limit: int = 200) -> list[Inspector]:
    """Inspectors by id, those whose id or name holds ``text`` (any case) when given."""
    with database.read() as session:
        statement = select(InspectorRow).order_by(col(InspectorRow.id)).limit(limit)
        if text:
            pattern = f"%{text.lower()}%"
            statement = statement.where(or_(func.lower(col(InspectorRow.id)).like(pattern),
                                            func.lower(col(InspectorRow.full_name)).like(pattern)))
        return [_inspector(row) for row in session.exec(statement)]


def _inspector(row: InspectorRow) -> Inspector:
    return Inspector(row.id, row.full_name, row.region, row.suspended, row.attested_until)


def inspector(database: Database, inspector_id: str) -> Inspector:
    """One inspector; 404 if unknown."""
    with database.read() as session:
        row = session.get(InspectorRow, inspector_id)
        if row is None:
            raise NotFound("unknown_inspector", f"no inspector {inspector_id!r}")
        return _inspector(row)


def update_inspector(database: Database, changed: Inspector, actor: str = "admin") -> Inspector:
    """Store an inspector's name, region, attestation and suspension, checked as reference data
    is (an attestation date is a day)."""
    try:
        record, _ = put_record(database, "inspector", msgspec.to_builtins(changed),
                               key=changed.id, actor=actor)
    except RecordRejected as exc:
        raise BadRequest(exc.code, str(exc), field=exc.field) from exc
    stored: Inspector = record
    return stored


def assignments(database: Database) -> list[Assignment]:
    """Every assignment with its team, by id."""
    with database.read() as session:
        ids = set(session.exec(select(AssignmentRow.id)))
        return assignments_since(session, ids, -1)


def assignment(database: Database, assignment_id: str) -> Assignment:
    """One assignment with its team; 404 if unknown."""
    with database.read() as session:
        found = assignments_since(session, {assignment_id}, -1)
    if not found:
        raise NotFound("unknown_assignment", f"no assignment {assignment_id!r}")
    return found[0]
