"""The registry key's hand-overs in the audit log.

A rotation is made on the registry's files (``field-sync admin rotate-registry-key``), while
the registry is stopped or before it is restarted; the registry records each hand-over it has
not recorded yet when it starts on the new key: action ``registry_key_handed_over``, actor
``registry``, subject the new key's fingerprint, detail the outgoing key's fingerprint and the
time of the hand-over. The log so says when the key that signs checkpoints changed, and the
checkpoint signed next covers that entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from field_sync.key_handover import fingerprint_of
from schemas.signing import KeyHandover
from server.authority.audit import append
from server.data.clock import now_ms
from server.data.database import Database
from server.data.tables import AuditEntryRow

__all__ = ["HANDED_OVER", "record_handovers"]

HANDED_OVER = "registry_key_handed_over"


def _recorded(session: Session) -> set[str]:
    """The fingerprints of the keys whose hand-over the log holds."""
    return set(session.exec(select(AuditEntryRow.subject).where(
        col(AuditEntryRow.action) == HANDED_OVER)))


def _missing(session: Session, handovers: Sequence[KeyHandover]) -> list[KeyHandover]:
    recorded = _recorded(session)
    return [handover for handover in handovers
            if fingerprint_of(handover.next_key) not in recorded]


def record_handovers(database: Database, handovers: Sequence[KeyHandover]) -> None:
    """Audit each of ``handovers`` (checked, oldest first) that the log does not hold yet."""
    with database.read() as session:
        if not _missing(session, handovers):
            return  # every start but the first on a new key
    with database.write() as session:
        changed = database.next_change(session)  # its lock: another process may be starting
        for handover in _missing(session, handovers):
            append(session, now_ms(), "registry", HANDED_OVER,
                   str(fingerprint_of(handover.next_key)),
                   {"previous_key": fingerprint_of(handover.previous_key),
                    "at_ms": handover.at_ms}, changed)
