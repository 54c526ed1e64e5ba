"""Ingesting a push: every op gets its own answer, and one bad op never fails the batch.

An op is accepted (merged and logged), a duplicate (its ``(actor, seq)`` is already logged: the
batch was sent twice, or its answer was lost), or rejected with a stable code. Rejected ops
leave nothing behind, except on a signed protocol: every op that arrives after the freeze, and
every op merged earlier that the freeze's vector does not cover, is kept aside (``held_op``),
never merged, and answered ``protocol_signed`` every time it is sent. The batch commits in one
transaction, so an acknowledged batch is durable and a batch cut off half way changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from types import SimpleNamespace
from typing import Any, NamedTuple

import msgspec
from pydantic_core import PydanticUndefined
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from field_sync import DocumentState, FieldSyncError, content_hash, form_of, replay
from field_sync.canonical import normalize
from field_sync.errors import EncodingError
from field_sync.forms import Form
from field_sync.freeze import covers, parse_freeze
from field_sync.hlc import COUNTER_BITS
from field_sync.paths import ASSIGNMENT, FREEZE, META_FIELDS, SUPERSEDES, TEMPLATE, is_uuid
from schemas import Op, OpResult, ProtocolResult, Template, WholeProtocol
from server.api.auth import Caller
from server.authority.audit import append as audit
from server.blobs import evidence
from server.data.catalog import TemplateCatalog
from server.data.database import Database
from server.data.reference import protocol_region
from server.data.tables import (
    AssignmentRow,
    DeviceRow,
    HeldOpRow,
    ProtocolRow,
    ReceiptRow,
)
from server.signing.corrections import supersede_corrected
from server.signing.reasons import reason_text
from server.signing.signatures import AwaitingEvidence, Before, SignatureRefused, Signing, register
from server.sync import oplog
from server.sync.documents import decode_state, encode_registers, encode_vector, encode_vector_of
from server.sync.new_protocol import NewProtocol
from server.sync.oplog import MAX_SEQ, MAX_STAMP
from server.sync.scope import assignments_in_scope
from server.sync.whole import Prepared, prepare_push

__all__ = ["Answers", "Rejected", "ingest"]

_value_encoder = msgspec.msgpack.Encoder()
_hlc = attrgetter("hlc")
PROTOCOL_SIGNED = "protocol_signed"
_COLUMN_LENGTHS = {name: ProtocolRow.__table__.c[name].type.length  # type: ignore[attr-defined]
                   for name in ("number", "entity_tin", "inspector_id")}
_PROTOCOL_DEFAULTS = {name: info.default for name, info in ProtocolRow.model_fields.items()
                      if info.default is not PydanticUndefined}


class Rejected(Exception):
    """Why one op is refused."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


State = DocumentState | NewProtocol
"""A protocol's state while a push merges into it."""


@dataclass
class _Batch:
    """What a push has loaded and changed so far."""

    caller: Caller
    scope: set[str]
    rows: dict[str, ProtocolRow]
    changed: int
    now_ms: int
    signing: Signing | None
    states: dict[str, State] = field(default_factory=dict)
    forms: dict[str, Form] = field(default_factory=dict)
    """The form of each protocol this batch has merged an op into."""
    seen: set[int] = field(default_factory=set)
    held_seen: set[int] = field(default_factory=set)
    merged: defaultdict[str, list[Op]] = field(default_factory=lambda: defaultdict(list))
    """The ops merged, by protocol, in order: the op log rows this push adds."""
    whole: dict[str, Prepared] = field(default_factory=dict)
    """Protocols pushed whole, taken in one pass and packed before the writer's turn (until an
    op of the op path comes for one: ``_state_for``)."""
    held: list[dict[str, Any]] = field(default_factory=list)
    sites: dict[str, tuple[str, str]] = field(default_factory=dict)
    """The site and region of each assignment new protocols of this batch belong to."""
    statuses: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """Protocols signed in this batch: registered, or quarantined with the broken rules."""
    latest: tuple[int, int] = (0, 0)
    """The latest stamp among the device's ops the registry holds, and that op's seq."""
    latest_stored: tuple[int, int] = (0, 0)

    def holds(self, hlc: int, seq: int) -> None:
        """Note that the registry now holds the device's op ``seq`` stamped ``hlc`` (merged,
        taken whole or kept aside)."""
        if hlc > self.latest[0]:
            self.latest = (hlc, seq)

    def stamp_before(self, session: Session, seq: int) -> int:
        """The latest stamp among the device's ops the registry holds with seqs below ``seq``:
        the device's latest stamp when a lower seq carries it (a device's stamps rise with its
        seqs, but for ops re-stamped after a refusal), else read off the op log."""
        hlc, at_seq = self.latest
        if at_seq < seq:
            return hlc
        device = self.caller.device_id
        in_batch = [op.hlc for ops in self.merged.values() for op in ops if op.seq < seq]
        in_batch += [stamp for whole in self.whole.values() for at, _, _, stamp in whole.ops
                     if at < seq]
        in_batch += [held["hlc"] for held in self.held
                     if held["actor"] == device and held["seq"] < seq]
        kept = session.exec(select(func.max(HeldOpRow.hlc)).where(
            HeldOpRow.actor == device, col(HeldOpRow.seq) < seq)).one()
        return max(oplog.latest_stamp_before(session, device, seq), kept or 0, *in_batch)


def _held(op: Op, changed: int) -> dict[str, Any]:
    return {"actor": op.actor, "seq": op.seq, "doc": op.doc, "path": op.path,
            "value": _value_encoder.encode(op.value), "hlc": op.hlc, "changed": changed,
            "code": PROTOCOL_SIGNED}


def _check_holdable(op: Op) -> None:
    """An op kept aside is stored as it came and shown again later: refuse one the registry
    could neither store (a NUL in its path) nor send back (a value with no canonical form)."""
    if "\x00" in op.path:
        raise Rejected("bad_path", "a path holds no NUL")
    try:
        normalize(op.value)
    except EncodingError as exc:
        raise Rejected("bad_value", str(exc)) from exc


def _state_for(batch: _Batch, op: Op, session: Session, catalog: TemplateCatalog) -> State:
    if op.doc in batch.whole:  # taken in one pass; its ops from now on are merged one by one
        _unpacked(batch, batch.whole.pop(op.doc))
    state = batch.states.get(op.doc)
    if state is None and op.doc in batch.rows:
        state = decode_state(batch.rows[op.doc])
    if state is not None:
        # A protocol created in this push had its assignment checked by its creating op.
        if not isinstance(state, NewProtocol) and state.assignment not in batch.scope:
            raise Rejected("out_of_scope", "this protocol belongs to an assignment of another team")
        # A meta field the creating op left out stays out: a correction names what it
        # corrects when it is made, where that is checked, never later.
        if (op.path == "" or op.path in META_FIELDS) and any(
                state.value(name) != value for name, value in _meta_written(op).items()):
            raise Rejected("meta_immutable", "a protocol's template, assignment and the protocol "
                           "it corrects are set when it is created and never change")
        return state
    if op.path != "" or not isinstance(op.value, dict):
        raise Rejected("unknown_protocol",
                       "the registry has no such protocol; its creating op must come first")
    template_ref, assignment = op.value.get(TEMPLATE), op.value.get(ASSIGNMENT)
    if not isinstance(template_ref, str) or catalog.get(session, template_ref) is None:
        raise Rejected("unknown_template", f"the registry has no template {template_ref!r}")
    if not isinstance(assignment, str) or assignment not in batch.scope:
        raise Rejected("out_of_scope", f"assignment {assignment!r} is not this inspector's")
    corrected = op.value.get(SUPERSEDES)
    if corrected is not None:
        _check_correctable(session, batch, corrected)
    return NewProtocol(op.doc, batch.caller.device_id, batch.changed)


def _check_correctable(session: Session, batch: _Batch, corrected: Any) -> None:
    """A correction names a signed protocol of the same scope that nothing superseded yet."""
    old = session.get(ProtocolRow, corrected) if isinstance(corrected, str) and \
        is_uuid(corrected) else None
    if old is None or old.assignment_id not in batch.scope:
        raise Rejected("cannot_supersede", f"no protocol {corrected!r} of this team to correct")
    if old.status not in ("registered", "quarantined"):
        raise Rejected("cannot_supersede", f"protocol {corrected} is {old.status}: only a "
                       "signed, registered or quarantined protocol is corrected")


def _meta_written(op: Op) -> dict[str, Any]:
    """The meta fields (template, assignment) an op writes."""
    if op.path == "" and isinstance(op.value, dict):
        return {name: value for name, value in op.value.items() if name in META_FIELDS}
    return {op.path: op.value} if op.path in META_FIELDS else {}


def _freeze(batch: _Batch, op: Op, state: State, session: Session,
            template: Template) -> DocumentState:
    """The frozen state ``op`` asks for, rebuilt from the ops it covers and checked."""
    if state.frozen is not None:
        raise Rejected(PROTOCOL_SIGNED, "this protocol is already signed")
    freeze = parse_freeze(op.value)
    merged = oplog.logged_ops(session, op.doc) + batch.merged.get(op.doc, [])
    kept = [logged for logged in merged if covers(freeze, logged)]
    rebuilt = replay(op.doc, kept, batch.changed)
    protocol = rebuilt.materialize(template)
    if content_hash(protocol) != freeze.content_hash:
        raise Rejected("freeze_mismatch", "the signed hash does not match the state the vector "
                       "names; sync and sign again")
    if batch.signing is not None:
        before = Before(batch.stamp_before(session, op.seq), max(map(_hlc, kept), default=0))
        try:
            outcome = register(session, batch.signing, batch.caller, freeze, protocol, template,
                               before, batch.now_ms, batch.changed,
                               evidence.missing_files(session, template, protocol))
        except SignatureRefused as refused:
            raise Rejected(refused.code, refused.reason) from refused
        if isinstance(outcome, AwaitingEvidence):  # registered when its files arrive
            evidence.await_files(session, op.doc, outcome.files)
            batch.statuses[op.doc] = (evidence.AWAITING_EVIDENCE, [])
        else:
            batch.statuses[op.doc] = ("quarantined", [reason_text(b) for b in outcome]) \
                if isinstance(outcome, list) else ("registered", [])
    for logged in merged:
        if not covers(freeze, logged):  # merged before the freeze arrived, now set aside
            batch.held.append(_held(logged, batch.changed))
    return rebuilt


def _accept(batch: _Batch, op: Op, session: Session, catalog: TemplateCatalog,
            latest_stamp: int) -> None:
    if op.actor != batch.caller.device_id:
        raise Rejected("foreign_actor", "a device may only push its own ops")
    if not 1 <= op.seq <= MAX_SEQ:
        raise Rejected("bad_seq", f"seq counts from 1 to {MAX_SEQ}")
    if not 0 <= op.hlc <= MAX_STAMP:
        raise Rejected("bad_clock", "the stamp is not one a hybrid logical clock makes")
    form = batch.forms.get(op.doc)
    if form is None and not is_uuid(op.doc):  # a doc with a form was checked
        raise Rejected("bad_doc", "a protocol id is a lower-case UUID")
    if op.hlc > latest_stamp:
        raise Rejected("clock_ahead", "the op is stamped too far in the future; re-stamp it")
    state = _state_for(batch, op, session, catalog)
    if state.frozen is not None:
        # The frozen state was rebuilt from the ops the registry held when the freeze came;
        # anything arriving later is not in it, whatever its seq (ops of one tablet may arrive
        # out of order), and a second signature is kept aside like any other op.
        _check_holdable(op)
        batch.held.append(_held(op, batch.changed))
        batch.held_seen.add(op.seq)
        batch.holds(op.hlc, op.seq)
        raise Rejected(PROTOCOL_SIGNED, "the protocol was signed without this change; it is "
                       "kept aside, and a correction is a new protocol that supersedes it")
    if form is None:
        template = catalog.get(session, state.template_ref or op.value.get(TEMPLATE, ""))
        assert template is not None  # a stored protocol's template is never removed
        form = form_of(template)
    try:
        written = form.check_op(op)
    except FieldSyncError as exc:
        raise Rejected(exc.code, exc.reason) from exc
    if op.path == FREEZE:
        state = _freeze(batch, op, state, session, form.template)
    state.apply(op, batch.changed, written)
    batch.states[op.doc] = state
    batch.forms[op.doc] = form
    batch.merged[op.doc].append(op)


def _load(session: Session, caller: Caller, docs: set[str], whole: set[str], seqs: list[int],
          now_ms: int, signing: Signing | None) -> _Batch:
    """What a push of the device's ``seqs`` on ``docs`` (and ``whole``: protocols pushed whole)
    starts from."""
    # The change number first: its row lock queues every writer behind this push, as SQLite's
    # write lock does, so two pushes never lock protocol rows in crossing orders, and a batch
    # sent twice at once (a retry racing its original) finds the first one's ops logged.
    changed = Database.next_change(session)
    # Protocols pushed whole are new as a rule: which are not is asked by id alone, and only
    # those are read whole, with the protocols of the ops.
    docs = (docs - whole) | Database.existing(session, ProtocolRow, whole)
    rows = {row.id: row for row in session.exec(
        select(ProtocolRow).where(col(ProtocolRow.id).in_(docs)))} if docs else {}
    batch = _Batch(caller=caller, scope=assignments_in_scope(session, caller.inspector_id),
                   rows=rows, changed=changed, now_ms=now_ms, signing=signing)
    latest = session.exec(select(DeviceRow.latest_hlc, DeviceRow.latest_hlc_seq).where(
        DeviceRow.id == caller.device_id)).first()
    batch.latest = batch.latest_stored = (latest[0], latest[1]) if latest else (0, 0)
    own = [seq for seq in seqs if 1 <= seq <= MAX_SEQ]
    if own:
        low, high = min(own), max(own)
        batch.seen = oplog.seen_seqs(session, caller.device_id, low, high)
        batch.held_seen.update(session.exec(select(HeldOpRow.seq).where(
            HeldOpRow.actor == caller.device_id, col(HeldOpRow.seq) >= low,
            col(HeldOpRow.seq) <= high)))
    return batch


def _text(state: State, path: str) -> str:
    return _shown(state.value(path))


def _shown(value: Any) -> str:
    """A value as a search column holds it."""
    return "" if value is None else str(value)


def _searchable(value: Any, column: str) -> str:
    """A field's value as the search column ``column`` holds it: empty where it does not fit
    the column (a draft may hold any text its form takes, and PostgreSQL stores no NUL)."""
    text = _shown(value)
    return text if len(text) <= _COLUMN_LENGTHS[column] and "\x00" not in text else ""


def _new_row(session: Session, batch: _Batch, doc: str, template_ref: str | None,
             assignment_id: str | None) -> SimpleNamespace:
    """A protocol row to insert: plain attributes, as building a SQLModel row costs more than
    inserting it, and a batch may create hundreds."""
    assignment_id = assignment_id or ""
    if assignment_id not in batch.sites:
        assignment = session.get(AssignmentRow, assignment_id)
        site_id = assignment.site_id if assignment else ""
        batch.sites[assignment_id] = (
            site_id, protocol_region(session, site_id, batch.caller.inspector_id))
    site_id, region = batch.sites[assignment_id]
    return SimpleNamespace(**{**_PROTOCOL_DEFAULTS, "id": doc,
                              "template_ref": template_ref or "",
                              "assignment_id": assignment_id,
                              "created_by": batch.caller.device_id,
                              "site_id": site_id, "region": region,
                              "created": batch.changed})


def _store(session: Session, batch: _Batch) -> None:
    created = [_whole_row(session, batch, whole) for whole in batch.whole.values()]
    for doc, state in batch.states.items():
        row: ProtocolRow | SimpleNamespace | None = batch.rows.get(doc)
        if row is None:
            row = _new_row(session, batch, doc, state.template_ref, state.assignment)
            created.append(row)
        row.registers = encode_registers(state)
        row.vector = encode_vector(state)
        row.changed = batch.changed
        if merged := batch.merged.get(doc):
            row.latest_hlc = max(row.latest_hlc, *map(_hlc, merged))
        # The columns registry queries search by.
        row.number = _searchable(state.value("number"), "number")
        row.entity_tin = _searchable(state.value("entity_tin"), "entity_tin")
        row.inspector_id = _searchable(state.value("lead_inspector"), "inspector_id")
        if doc in batch.statuses:
            row.status, reasons = batch.statuses[doc]
            row.reasons = "\n".join(reasons)
            _record_signing(session, batch, row, state)
        if doc in batch.rows:
            session.add(row)
    # New protocols go in with one statement, not through the ORM's unit of work.
    Database.insert_many(session, ProtocolRow, [vars(row) for row in created])
    device = batch.caller.device_id
    logged = [*oplog.log_rows(batch.changed, device, batch.merged),
              *((doc, batch.changed, device, min(whole.seqs), max(whole.seqs), whole.logged)
                for doc, whole in batch.whole.items())]
    oplog.insert(session, logged)
    Database.insert_many(session, HeldOpRow, batch.held)
    if batch.latest != batch.latest_stored:
        session.execute(update(DeviceRow).where(col(DeviceRow.id) == batch.caller.device_id)
                        .values(latest_hlc=batch.latest[0], latest_hlc_seq=batch.latest[1]))
    _audit(session, batch, oplog.log_digest(logged))


def _record_signing(session: Session, batch: _Batch, row: ProtocolRow | SimpleNamespace,
                    state: State) -> None:
    """Fill the signing columns; a registered correction supersedes what it corrects."""
    frozen = state.frozen
    if frozen is None or frozen.signed is None:
        return
    row.inspector_id = frozen.signed.statement.signer
    row.signed_at_ms = frozen.signed.statement.signed_at_ms
    row.offline_gap_ms = batch.now_ms - row.signed_at_ms
    receipt = session.get(ReceiptRow, row.id)
    row.registry_number = receipt.registry_number if receipt else ""
    corrected = _text(state, SUPERSEDES)
    if row.status == "registered" and corrected:
        old = session.get(ProtocolRow, corrected)
        # Checked when the correction was made; the old one may have changed since.
        if old is not None and old.assignment_id in batch.scope:
            supersede_corrected(session, corrected, row.id, batch.changed, batch.now_ms,
                                f"device:{batch.caller.device_id}")


def _audit(session: Session, batch: _Batch, log_digest: str) -> None:
    actor = f"device:{batch.caller.device_id}"
    if batch.merged or batch.whole:
        docs = {doc: len(ops) for doc, ops in batch.merged.items()}
        docs.update((doc, len(whole.ops)) for doc, whole in batch.whole.items())
        audit(session, batch.now_ms, actor, "push", batch.caller.device_id,
                     {"docs": docs, "log_sha256": log_digest}, batch.changed)
    for doc, (status, reasons) in batch.statuses.items():
        audit(session, batch.now_ms, actor, status, doc, {"reasons": reasons},
                     batch.changed)
    if batch.held:
        audit(session, batch.now_ms, actor, "held", batch.caller.device_id,
                     {"ops": [[r["actor"], r["seq"], r["doc"]] for r in batch.held]},
                     batch.changed)


def _answer(batch: _Batch, op: Op, session: Session, catalog: TemplateCatalog,
            latest_stamp: int) -> OpResult:
    if op.actor == batch.caller.device_id:
        if op.seq in batch.seen:
            return OpResult(op.seq, "duplicate")
        if op.seq in batch.held_seen:
            return OpResult(op.seq, "rejected", PROTOCOL_SIGNED, "the protocol was signed "
                            "without this change; it is kept aside")
    try:
        _accept(batch, op, session, catalog, latest_stamp)
    except Rejected as rejection:
        return OpResult(op.seq, "rejected", rejection.code, rejection.reason)
    batch.seen.add(op.seq)
    batch.holds(op.hlc, op.seq)
    return OpResult(op.seq, "accepted")


class Answers(NamedTuple):
    """A push's answers: one an op, and one a protocol pushed whole whose ops all fared alike
    (the others' ops are answered in ``results``)."""

    results: list[OpResult]
    protocols: list[ProtocolResult]


def _take_whole(batch: _Batch, prepared: Prepared, session: Session, catalog: TemplateCatalog,
                latest_stamp: int) -> list[OpResult] | ProtocolResult:
    """A protocol pushed whole: its run of ops taken in one pass when the protocol is new, its
    seqs unseen and its assignment the device's (what ``_accept`` would ask of its creating op);
    every other op the op path's way. One answer when they all fare alike."""
    doc, seqs = prepared.doc, prepared.seqs
    taken: list[OpResult] = []
    if seqs and doc not in batch.rows and doc not in batch.states and doc not in batch.whole \
            and prepared.assignment in batch.scope and batch.seen.isdisjoint(seqs) and \
            batch.held_seen.isdisjoint(seqs):
        batch.seen.update(seqs)
        for seq, _, _, hlc in prepared.ops[:len(seqs)]:
            batch.holds(hlc, seq)
        if prepared.whole:
            batch.whole[doc] = prepared
            return ProtocolResult(doc, "accepted")
        _unpacked(batch, prepared)  # the rest may need it merged
        taken = [OpResult(seq, "accepted") for seq in seqs]
    results = taken + [_answer(batch, op, session, catalog, latest_stamp)
                       for op in prepared.as_ops(batch.caller.device_id, len(taken))]
    alike = {result.status for result in results}
    if alike == {"accepted"} or alike == {"duplicate"}:
        return ProtocolResult(doc, "accepted" if alike == {"accepted"} else "duplicate")
    return results


def _unpacked(batch: _Batch, prepared: Prepared) -> None:
    """The run of a protocol pushed whole, merged as the op path merges it, where the op path
    finds it: its state, its form and its ops to log."""
    assert prepared.form is not None  # a run was found with it
    device, doc = batch.caller.device_id, prepared.doc
    batch.states[doc] = prepared.merged(device, batch.changed)
    batch.forms[doc] = prepared.form
    batch.merged[doc] = prepared.as_ops(device, end=len(prepared.seqs))


def _whole_row(session: Session, batch: _Batch, whole: Prepared) -> SimpleNamespace:
    """The row of a protocol pushed whole and packed before the writer's turn: what
    ``_store`` writes for the same ops merged one by one."""
    row = _new_row(session, batch, whole.doc, whole.value(TEMPLATE), whole.assignment)
    row.registers = whole.registers
    row.vector = encode_vector_of(batch.caller.device_id, max(whole.seqs))
    row.changed, row.latest_hlc = batch.changed, whole.latest_hlc
    row.number = _searchable(whole.value("number"), "number")
    row.entity_tin = _searchable(whole.value("entity_tin"), "entity_tin")
    row.inspector_id = _searchable(whole.value("lead_inspector"), "inspector_id")
    return row


def ingest(
    database: Database,
    catalog: TemplateCatalog,
    caller: Caller,
    ops: list[Op],
    now_ms: int,
    max_ahead_ms: int,
    signing: Signing | None = None,
    protocols: Sequence[WholeProtocol] = (),
) -> Answers:
    """Merge a device's batch into the registry: its ``ops``, and its ``protocols`` pushed
    whole, each taken just before the first op with a higher seq than its first; one result per
    op, in order, or one per protocol pushed whole whose ops all fared alike. The outcome is
    what the op path gives for the same ops in that order.

    With ``signing`` (as the server always runs), a freeze must carry a valid signature,
    confirmation and seal, and a receipt is written; without it (embedded use) a freeze is
    checked against the state it names only.
    """
    # The last stamp of the latest millisecond allowed (below 0 when that is before 1970).
    latest_stamp = ((now_ms + max_ahead_ms + 1) << COUNTER_BITS) - 1
    # Checked before the writer's turn: what a protocol's own ops tell of it.
    template_of = partial(_template, database, catalog)
    prepared = prepare_push(list(protocols), caller.device_id, template_of, latest_stamp)
    # Any doc but a uuid is refused op by op, and is not looked up.
    docs = {op.doc for op in ops if is_uuid(op.doc)}
    whole = {item.doc for item in protocols if is_uuid(item.doc)}
    seqs = [op.seq for op in ops if op.actor == caller.device_id]
    seqs += [seq for item in protocols for seq, _, _, _ in item.ops]

    def merged(session: Session) -> Answers:
        answers = Answers([], [])
        batch = _load(session, caller, docs, whole, seqs, now_ms, signing)
        for each in _in_order(prepared, ops):
            if isinstance(each, Op):
                answers.results.append(_answer(batch, each, session, catalog, latest_stamp))
                continue
            answer = _take_whole(batch, each, session, catalog, latest_stamp)
            if isinstance(answer, ProtocolResult):
                answers.protocols.append(answer)
            else:
                answers.results.extend(answer)
        _store(session, batch)
        return answers

    # In the writer's turn, committed with the pushes queued beside it (``server.sync.writers``).
    return database.group.run(merged)


def _in_order(protocols: list[Prepared], ops: list[Op]) -> Iterator[Prepared | Op]:
    """The protocols pushed whole among the ops, each just before the first op with a higher
    seq than its first: a tablet's push in the order its ops were made."""
    waiting = iter(protocols)
    protocol = next(waiting, None)
    for op in ops:
        while protocol is not None and protocol.first_seq < op.seq:
            yield protocol
            protocol = next(waiting, None)
        yield op
    if protocol is not None:
        yield protocol
        yield from waiting


def _template(database: Database, catalog: TemplateCatalog, ref: str) -> Template | None:
    """A template the registry knows, read outside any write."""
    known = catalog.cached(ref)
    if known is not None:
        return known
    with database.read() as session:
        return catalog.get(session, ref)
