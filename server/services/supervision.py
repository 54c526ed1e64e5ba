"""A supervisor's acts on a protocol: annul it (the registry signs the act) or clear it from
quarantine for registration; both with a written reason, both audited. And a protocol's status
history, as the audit log tells it."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlmodel import Session, col, select

from field_sync.paths import SUPERSEDES
from field_sync.signing import sign_canonical
from schemas.signing import Receipt
from server.api.problems import BadRequest, Conflict
from server.authority.audit import append as audit
from server.authority.keys import RegistryKeys
from server.blobs import evidence
from server.blobs.evidence import AWAITING_EVIDENCE
from server.data.catalog import TemplateCatalog
from server.data.clock import now_ms
from server.data.database import Database
from server.data.tables import AnnulmentRow, AuditEntryRow, ProtocolRow
from server.services.reach import Reach
from server.signing.corrections import supersede_corrected
from server.signing.signatures import issue_receipt
from server.sync.documents import decode_state

__all__ = ["STATUS_ACTIONS", "Awaiting", "StatusEvent", "annul", "clear", "status_history"]

ANNULLABLE = ("registered", "quarantined", "superseded", AWAITING_EVIDENCE)
STATUS_ACTIONS = ("registered", "quarantined", "cleared", "superseded", "annulled")
"""The audit actions that change a protocol's status."""
_REASON_LIMIT = 2000


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise BadRequest("reason_required", "a supervisor's act states its reason")
    if len(text) > _REASON_LIMIT:
        raise BadRequest("reason_too_long", f"a reason is at most {_REASON_LIMIT} characters")
    return text


def _protocol(session: Session, reach: Reach, protocol_id: str) -> ProtocolRow:
    return reach.protocol(session.get(ProtocolRow, protocol_id), protocol_id)


def _supervisor_id(reach: Reach) -> str:
    return reach.actor.partition(":")[2] or reach.actor


def annul(database: Database, keys: RegistryKeys, reach: Reach, protocol_id: str,
          reason: str) -> dict[str, Any]:
    """Annul a protocol within reach; its seal verifies as annulled from now on. The act is
    signed by the registry key."""
    text, now = _reason(reason), now_ms()
    with database.write() as session:
        row = _protocol(session, reach, protocol_id)
        if row.status not in ANNULLABLE:
            raise Conflict("cannot_annul", f"a {row.status} protocol cannot be annulled")
        act: dict[str, Any] = {"protocol_id": protocol_id,
                               "supervisor_id": _supervisor_id(reach), "reason": text,
                               "at_ms": now}
        signature = sign_canonical(keys.signing, act)
        changed = Database.next_change(session)
        session.add(AnnulmentRow(protocol_id=protocol_id, supervisor_id=act["supervisor_id"],
                                 reason=text, at_ms=now, signature=signature))
        row.status, row.changed = "annulled", changed
        session.add(row)
        audit(session, now, reach.actor, "annulled", protocol_id, act, changed)
    return {**act, "signature": signature}


class Awaiting(msgspec.Struct, frozen=True):
    """A protocol cleared from quarantine whose evidence files have not all arrived: it is
    registered, as any protocol awaiting its files, when the last of them does."""

    files: list[str]
    """The SHA-256 of each file the registry still waits for."""
    status: str = AWAITING_EVIDENCE


def clear(database: Database, keys: RegistryKeys, catalog: TemplateCatalog, reach: Reach,
          protocol_id: str, reason: str) -> Receipt | Awaiting:
    """Register a quarantined protocol within reach despite the rules it broke: a receipt and
    a registry number, as ingest would give it, and the device hears of it on its next pull.
    A protocol whose evidence files have not all arrived is not registered without them: it
    awaits them (``Awaiting``), as it would have had it broken no rule."""
    text, now = _reason(reason), now_ms()
    with database.write() as session:
        changed = Database.next_change(session)  # first: a file arriving takes it first too
        row = _protocol(session, reach, protocol_id)
        if row.status != "quarantined":
            raise Conflict("not_quarantined", f"a {row.status} protocol is not in quarantine")
        state = decode_state(row)
        freeze = state.frozen
        assert freeze is not None and freeze.signed is not None  # quarantine follows a signature
        template = catalog.get(session, row.template_ref)
        assert template is not None  # a stored protocol's template is never removed
        missing = sorted(evidence.missing_files(session, template, state.materialize(template)))
        detail: dict[str, Any] = {"reason": text, "broken": row.reasons.splitlines()}
        if missing:
            evidence.await_files(session, protocol_id, missing)
            row.status, row.changed = AWAITING_EVIDENCE, changed
            session.add(row)
            audit(session, now, reach.actor, "cleared", protocol_id,
                  {**detail, "registry_number": "", "awaiting": missing}, changed)
            return Awaiting(missing)
        receipt = issue_receipt(session, keys, freeze, now, changed)
        row.status, row.registry_number, row.changed = "registered", receipt.registry_number, \
            changed
        session.add(row)
        audit(session, now, reach.actor, "cleared", protocol_id,
              {**detail, "registry_number": receipt.registry_number}, changed)
        corrected = state.value(SUPERSEDES)
        if isinstance(corrected, str) and corrected:
            supersede_corrected(session, corrected, protocol_id, changed, now, reach.actor)
    return receipt


class StatusEvent(msgspec.Struct, frozen=True):
    """One change of a protocol's status: when, by whom, to what, and what was said."""

    at_ms: int
    actor: str
    status: str
    """``registered``, ``quarantined``, ``cleared``, ``superseded`` or ``annulled``."""
    detail: dict[str, Any]


def status_history(session: Session, protocol_id: str) -> list[StatusEvent]:
    """A protocol's status changes, oldest first, from the audit log."""
    entries = session.exec(select(AuditEntryRow).where(
        col(AuditEntryRow.subject) == protocol_id,
        col(AuditEntryRow.action).in_(STATUS_ACTIONS)).order_by(col(AuditEntryRow.seq)))
    return [StatusEvent(entry.at_ms, entry.actor, entry.action,
                        msgspec.json.decode(entry.detail)) for entry in entries]
