"""Ingesting a push: every op gets its own answer, and one bad op never fails the batch.

An op is accepted (merged and logged), a duplicate (its ``(actor, seq)`` is already logged: the
batch was sent twice, or its answer was lost), or rejected with a stable code. Rejected ops leave
nothing behind. The whole batch commits in one transaction, so an acknowledged batch is durable
and a batch cut off half way changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import msgspec
from sqlmodel import Session, col, select

from field_sync import DocumentState, FieldSyncError, form_of, physical_ms
from field_sync.paths import ASSIGNMENT, TEMPLATE
from schemas import Op, OpResult
from server.auth import Caller
from server.catalog import TemplateCatalog
from server.database import Database
from server.documents import decode_state, encode_registers, encode_vector
from server.scope import assignments_in_scope
from server.tables import OpLogRow, ProtocolRow

__all__ = ["Rejected", "ingest"]

_value_encoder = msgspec.msgpack.Encoder()


class Rejected(Exception):
    """Why one op is refused."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class _Batch:
    """What a push has loaded and changed so far."""

    caller: Caller
    scope: set[str]
    rows: dict[str, ProtocolRow]
    states: dict[str, DocumentState] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    log: list[dict[str, object]] = field(default_factory=list)
    created: set[str] = field(default_factory=set)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _state_for(batch: _Batch, op: Op, session: Session, catalog: TemplateCatalog) -> DocumentState:
    state = batch.states.get(op.doc)
    if state is None and op.doc in batch.rows:
        state = batch.states[op.doc] = decode_state(batch.rows[op.doc])
    if state is not None:
        if state.assignment not in batch.scope:
            raise Rejected("out_of_scope", "this protocol belongs to an assignment of another team")
        return state
    if op.path != "" or not isinstance(op.value, dict):
        raise Rejected("unknown_protocol",
                       "the registry has no such protocol; its creating op must come first")
    template_ref, assignment = op.value.get(TEMPLATE), op.value.get(ASSIGNMENT)
    if not isinstance(template_ref, str) or catalog.get(session, template_ref) is None:
        raise Rejected("unknown_template", f"the registry has no template {template_ref!r}")
    if assignment not in batch.scope:
        raise Rejected("out_of_scope", f"assignment {assignment!r} is not this inspector's")
    batch.created.add(op.doc)
    state = batch.states[op.doc] = DocumentState(op.doc)
    return state


def _accept(
    batch: _Batch, op: Op, session: Session, catalog: TemplateCatalog, latest_ms: int, changed: int
) -> None:
    if op.actor != batch.caller.device_id:
        raise Rejected("foreign_actor", "a device may only push its own ops")
    if op.seq < 1:
        raise Rejected("bad_seq", "seq counts from 1")
    if not _is_uuid(op.doc):
        raise Rejected("bad_doc", "a protocol id is a lower-case UUID")
    if physical_ms(op.hlc) > latest_ms:
        raise Rejected("clock_ahead", "the op is stamped too far in the future; re-stamp it")
    state = _state_for(batch, op, session, catalog)
    template = catalog.get(session, state.template_ref or op.value.get(TEMPLATE, ""))
    assert template is not None  # a stored protocol's template is never removed
    try:
        form_of(template).check_op(op)
    except FieldSyncError as exc:
        if op.doc in batch.created and not state.registers:
            batch.created.discard(op.doc)
            del batch.states[op.doc]
        raise Rejected(exc.code, exc.reason) from exc
    state.apply(op, changed)
    batch.log.append({"actor": op.actor, "seq": op.seq, "doc": op.doc, "path": op.path,
                      "value": _value_encoder.encode(op.value), "hlc": op.hlc,
                      "changed": changed})


def _load(session: Session, caller: Caller, ops: list[Op], database: Database) -> _Batch:
    docs = {op.doc for op in ops}
    statement = select(ProtocolRow).where(col(ProtocolRow.id).in_(docs))
    if not database.is_sqlite:
        statement = statement.with_for_update()
    rows = {row.id: row for row in session.exec(statement)}
    own = [op.seq for op in ops if op.actor == caller.device_id]
    seen: set[int] = set()
    if own:
        seen = set(session.exec(select(OpLogRow.seq).where(
            OpLogRow.actor == caller.device_id,
            col(OpLogRow.seq) >= min(own), col(OpLogRow.seq) <= max(own),
        )))
    scope = assignments_in_scope(session, caller.inspector_id)
    return _Batch(caller=caller, scope=scope, rows=rows, seen=seen)


def _store(session: Session, batch: _Batch, changed: int) -> None:
    for doc, state in batch.states.items():
        row = batch.rows.get(doc)
        if row is None:
            if not state.registers:
                continue
            row = ProtocolRow(id=doc, template_ref=state.template_ref or "",
                              assignment_id=state.assignment or "", registers=b"", vector=b"",
                              changed=changed, created_by=batch.caller.device_id)
        row.registers = encode_registers(state)
        row.vector = encode_vector(state)
        row.changed = changed
        session.add(row)
    Database.insert_many(session, OpLogRow, batch.log)


def ingest(
    database: Database,
    catalog: TemplateCatalog,
    caller: Caller,
    ops: list[Op],
    now_ms: int,
    max_ahead_ms: int,
) -> list[OpResult]:
    """Merge a device's batch of ops into the registry; one result per op, in order."""
    results: list[OpResult] = []
    with database.write() as session:
        batch = _load(session, caller, ops, database)
        changed = Database.next_change(session)
        for op in ops:
            if op.actor == caller.device_id and op.seq in batch.seen:
                results.append(OpResult(op.seq, "duplicate"))
                continue
            try:
                _accept(batch, op, session, catalog, now_ms + max_ahead_ms, changed)
            except Rejected as rejection:
                results.append(OpResult(op.seq, "rejected", rejection.code, rejection.reason))
                continue
            batch.seen.add(op.seq)
            results.append(OpResult(op.seq, "accepted"))
        _store(session, batch, changed)
    return results
