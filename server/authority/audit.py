"""The append-only, hash-chained audit log of every registry state change.

Each entry's hash covers its predecessor's hash and its own canonical content, so changing,
removing or reordering any entry breaks every hash after it. Entries for pushes also carry the
hash of the ops they merged, so a row changed directly in the op log is caught too:
``field-sync audit verify`` recomputes both and names the first entry that does not hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec
from sqlmodel import Session, col, select

from field_sync.canonical import canonical_bytes
from server.data.tables import AuditEntryRow
from server.sync.oplog import log_digest, push_rows, stored_ops

__all__ = ["GENESIS", "AuditBreak", "append", "ops_digest", "verify_chain"]

GENESIS = "0" * 64
_json = msgspec.json.Encoder().encode


def _entry_hash(prev_hash: str, seq: int, at_ms: int, actor: str, action: str, subject: str,
                detail: str, changed: int) -> str:
    body = canonical_bytes({"seq": seq, "at_ms": at_ms, "actor": actor, "action": action,
                            "subject": subject, "detail": detail, "changed": changed})
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def ops_digest(rows: Iterable[tuple[str, int, str, str, bytes, int]]) -> str:
    """SHA-256 over ops ``(actor, seq, doc, path, value bytes, hlc)`` in (actor, seq) order:
    what a push entry recorded before the op log was packed (``log_sha256`` since)."""
    digest = hashlib.sha256()
    for actor, seq, doc, path, value, hlc in sorted(rows, key=lambda row: (row[0], row[1])):
        fields = [actor, seq, doc, path, value.hex(), hlc]
        # ASCII text is already canonical (NFC): the usual op skips the normalizing walk.
        ascii_only = actor.isascii() and doc.isascii() and path.isascii()
        digest.update(_json(fields) if ascii_only else canonical_bytes(fields))
    return digest.hexdigest()


def append(session: Session, at_ms: int, actor: str, action: str, subject: str,
           detail: dict[str, Any], changed: int) -> None:
    """Add an entry after the last one (the caller holds the change-number lock, so appends
    are serialized)."""
    last = session.exec(select(AuditEntryRow).order_by(col(AuditEntryRow.seq).desc())
                        .limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    text = canonical_bytes(detail).decode()
    session.add(AuditEntryRow(
        seq=seq, at_ms=at_ms, actor=actor, action=action, subject=subject, detail=text,
        changed=changed, prev_hash=prev,
        hash=_entry_hash(prev, seq, at_ms, actor, action, subject, text, changed)))
    session.flush()


class AuditBreak(msgspec.Struct, frozen=True):
    """The first entry that does not hold, and why."""

    seq: int
    reason: str


def _push_holds(session: Session, entry: AuditEntryRow) -> bool:
    """Whether the op log still holds what a push entry says the push merged: the digest of
    its rows (``log_sha256``), or, for a push recorded before the log was packed, of its ops
    one by one (``ops_sha256``)."""
    detail = msgspec.json.decode(entry.detail)
    rows = push_rows(session, entry.changed)
    if "log_sha256" in detail:
        return bool(detail["log_sha256"] == log_digest(rows))
    return bool(detail.get("ops_sha256") == ops_digest(
        (actor, seq, doc, path, bytes(value), hlc)
        for doc, _, actor, _, _, packed in rows for seq, path, value, hlc in stored_ops(packed)))


def verify_chain(session: Session) -> tuple[int, AuditBreak | None]:
    """Recompute the chain; the number of entries checked and the first break, if any."""
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in session.exec(select(AuditEntryRow).order_by(col(AuditEntryRow.seq))):
        count += 1
        if entry.seq != expected_seq:
            return count, AuditBreak(expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return count, AuditBreak(entry.seq, "it does not follow the entry before it")
        digest = _entry_hash(prev, entry.seq, entry.at_ms, entry.actor, entry.action,
                             entry.subject, entry.detail, entry.changed)
        if digest != entry.hash:
            return count, AuditBreak(entry.seq, "its content was changed after it was written")
        if entry.action == "push" and not _push_holds(session, entry):
            return count, AuditBreak(entry.seq, "the ops it merged were changed in op_log")
        prev, expected_seq = entry.hash, expected_seq + 1
    return count, None
