"""A protocol pushed whole ends exactly where the op path ends.

Two registries start as copies of one another. Every example pushes the same batch to both: to
one with its new protocols whole (``PushRequest.protocols``), to the other as the same ops in
the same order, one by one. The answers, expanded op by op, must be the same, and so must every
row the two registries hold: protocols (registers, vector, stamp, search columns), the op log,
ops held aside, the audit chain, receipts and the change counter. Each fault below makes one
rejection (or a duplicate) happen in the protocol pushed whole, at a random place.
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from field_sync import content_hash, pack, replay
from field_sync.freeze import Freeze
from schemas import Op, OpResult, ProtocolResult, WholeProtocol
from server.api.auth import Caller
from server.sync.ingest import Answers, ingest
from server.sync.whole import prepare_push
from tests.databases import copy_database, dispose_database, fresh_database
from tests.inprocess import InProcessRegistry
from tests.strategies import BASE_MS, METROLOGY, edits, filled_protocols

DEVICE = "tablet-whole"
INSPECTOR, OTHER = "inspector-whole", "inspector-other"
ASSIGNMENT, OTHERS = "asg-whole", "asg-other-team"
NOW_MS = BASE_MS + 60_000
AHEAD_MS = 300_000
_BLOCKS = itertools.count(1)
_BLOCK = 10_000
"""Each example's seqs are a block of their own: a device's seqs are its own for good."""
EDITED = "6f1d2c3b-4a59-4e68-8d7c-0b1a2f3e4d5c"
"""A protocol the registries hold from the start, which batches edit as ops."""
_field_edits = edits().filter(lambda edit: edit[0] != "")
_TABLES = {"protocol": "id", "op_log": "doc, changed", "held_op": "actor, seq",
           "audit_entry": "seq", "receipt": "protocol_id", "change_counter": "id"}


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[tuple[InProcessRegistry, InProcessRegistry]]:
    folder: Path = tmp_path_factory.mktemp("whole")
    url = fresh_database(folder / "whole")
    whole = InProcessRegistry(folder / "whole", url)
    for inspector, assignment in ((INSPECTOR, ASSIGNMENT), (OTHER, OTHERS)):
        whole.add_inspector(inspector)
        whole.put_assignment(assignment, [inspector])
    ingest(whole.database, whole.catalog, Caller(DEVICE, INSPECTOR), [Op(
        DEVICE, 1, EDITED, "", {"_template": METROLOGY.ref, "_assignment": ASSIGNMENT},
        pack(BASE_MS, 0))], NOW_MS, AHEAD_MS)
    shutil.copytree(folder / "whole", folder / "ops", ignore=shutil.ignore_patterns("*.db*"))
    whole.database.writer.dispose()  # PostgreSQL copies a database nobody is connected to
    ops = InProcessRegistry(folder / "ops", copy_database(url, folder / "ops"))
    yield whole, ops
    for registry in (whole, ops):
        registry.close()
        dispose_database(registry.database.url)


def held_rows(registry: InProcessRegistry, tables: dict[str, str] = _TABLES,
              ) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables`` (a push writes them; each with its order), on either
    database."""
    with registry.database.read() as session:
        return {table: [tuple(row) for row in session.execute(text(
            f"SELECT * FROM {table} ORDER BY {order}"))]  # noqa: S608 (our names)
            for table, order in tables.items()}


def _push(registry: InProcessRegistry, ops: list[Op],
          protocols: list[WholeProtocol] = ()) -> Answers:  # type: ignore[assignment]
    return ingest(registry.database, registry.catalog, Caller(DEVICE, INSPECTOR), ops, NOW_MS,
                  AHEAD_MS, None, protocols)


def ordered(answers: Answers, protocols: list[WholeProtocol], ops: list[Op],
             ) -> list[OpResult]:
    """The answers op by op, in the order the registry takes the ops: each protocol pushed
    whole just before the first op with a higher seq than its first."""
    alike = {result.doc: result.status for result in answers.protocols}
    results = iter(answers.results)
    taken: list[tuple[int, WholeProtocol | Op]] = [
        *((item.ops[0][0] if item.ops else 0, item) for item in protocols),
        *((op.seq, op) for op in ops)]
    ordered: list[OpResult] = []
    for _, each in sorted(taken, key=lambda pair: pair[0]):
        if isinstance(each, Op):
            ordered.append(next(results))
        elif status := alike.get(each.doc):
            ordered += [OpResult(seq, status) for seq, _, _, _ in each.ops]
        else:
            ordered += itertools.islice(results, len(each.ops))
    return ordered


Authored = tuple[int, str, Any, int]
"""An op of a protocol pushed whole, its value as written: ``(seq, path, value, hlc)``."""


def whole_protocol(doc: str, ops: list[Authored]) -> WholeProtocol:
    """The protocol as a tablet pushes it, each value as it saved it, in MessagePack."""
    return WholeProtocol(doc, [(seq, path, msgspec.Raw(msgspec.msgpack.encode(value)), hlc)
                               for seq, path, value, hlc in ops])


def _as_ops(item: WholeProtocol) -> list[Op]:
    return [Op(DEVICE, seq, item.doc, path, msgspec.msgpack.decode(value), hlc)
            for seq, path, value, hlc in item.ops]


def _stamped(authored: list[tuple[str, Any]], first_seq: int) -> list[Authored]:
    return [(first_seq + place, path, value, pack(BASE_MS + place, 0))
            for place, (path, value) in enumerate(authored)]


def _freeze(doc: str, ops: list[Authored], right: bool) -> dict[str, Any]:
    state = replay(doc, [Op(DEVICE, seq, doc, path, value, hlc)
                         for seq, path, value, hlc in ops])
    digest = content_hash(state.materialize(METROLOGY)) if right else "0" * 64
    return msgspec.to_builtins(Freeze(dict(state.vector), digest))


def _row(value: dict[str, Any], upper: bool = False) -> tuple[str, dict[str, Any]]:
    row = str(uuid.uuid4())
    return f"measurements/{row.upper() if upper else row}", value


Fault = Callable[[st.DataObject, str, list[Authored]], tuple[str, list[Authored]]]


def _insert(data: st.DataObject, ops: list[Authored], op: tuple[str, Any]) -> list[Authored]:
    """``op`` put somewhere after the creating op, seqs renumbered in order."""
    authored = [(path, value) for _, path, value, _ in ops]
    at = data.draw(st.integers(1, len(authored)))
    return _stamped([*authored[:at], op, *authored[at:]], ops[0][0])


def _restamp(data: st.DataObject, ops: list[Authored], seq: int | None = None,
             hlc: int | None = None) -> list[Authored]:
    """One op's seq or stamp changed."""
    at = data.draw(st.integers(0, len(ops) - 1))
    old = ops[at]
    return [*ops[:at], (old[0] if seq is None else seq, old[1], old[2],
                        old[3] if hlc is None else hlc), *ops[at + 1:]]


def _root(ops: list[Authored], **meta: Any) -> list[Authored]:
    seq, path, value, hlc = ops[0]
    return [(seq, path, {**value, **meta}, hlc), *ops[1:]]


def _signed(data: st.DataObject, doc: str, ops: list[Authored], right: bool) -> list[Authored]:
    """A freeze of the ops so far, and edits after it."""
    after = data.draw(st.lists(st.sampled_from(["findings", "conclusion"]), max_size=2))
    authored = [(path, value) for _, path, value, _ in ops]
    authored += [("_freeze", _freeze(doc, ops, right)),
                 *((name, "compliant" if name == "conclusion" else "later") for name in after)]
    return _stamped(authored, ops[0][0])


FAULTS: dict[str, Fault] = {
    "none": lambda data, doc, ops: (doc, ops),
    "bad_value": lambda data, doc, ops: (doc, _insert(data, ops, _row({"nominal": 12}))),
    "unknown_field": lambda data, doc, ops: (doc, _insert(data, ops, _row({"colour": "red"}))),
    "computed_field": lambda data, doc, ops: (doc, _insert(data, ops, _row({"error": "1"}))),
    "bad_path": lambda data, doc, ops: (doc, _insert(data, ops, _row({"unit": "kg"}, True))),
    "clock_ahead": lambda data, doc, ops: (
        doc, _restamp(data, ops, hlc=pack(NOW_MS + AHEAD_MS + 1, 0))),
    "bad_seq": lambda data, doc, ops: (doc, _restamp(data, ops, seq=0)),
    "bad_clock": lambda data, doc, ops: (doc, _restamp(data, ops, hlc=-1)),
    "bad_doc": lambda data, doc, ops: ("not-a-uuid", ops),
    "unknown_protocol": lambda data, doc, ops: (doc, ops[1:] or ops),
    "unknown_template": lambda data, doc, ops: (doc, _root(ops, _template="nothing@1")),
    "out_of_scope": lambda data, doc, ops: (doc, _root(ops, _assignment=OTHERS)),
    "cannot_supersede": lambda data, doc, ops: (
        doc, _root(ops, _supersedes=str(uuid.uuid4()))),
    "meta_immutable": lambda data, doc, ops: (doc, _insert(
        data, ops, ("", {"_template": METROLOGY.ref, "_assignment": OTHERS}))),
    "protocol_signed": lambda data, doc, ops: (doc, _signed(data, doc, ops, right=True)),
    "freeze_mismatch": lambda data, doc, ops: (doc, _signed(data, doc, ops, right=False)),
    "repeated_seq": lambda data, doc, ops: (
        doc, [*ops, ops[data.draw(st.integers(0, len(ops) - 1))]]),
}
"""How the protocol pushed whole goes wrong, and what the op path then answers."""
AGAIN = ("duplicate", "existing", "seqs_seen", "seqs_held")
"""Faults of the registry's side: the batch pushed twice, a protocol it has already, and seqs
it has merged, or held aside, with another protocol."""


@st.composite
def _protocol(draw: st.DrawFn, clean: bool, first_seq: int) -> tuple[str, list[Authored]]:
    """A new protocol's id and ops; ``clean`` ones have no edits after their rows (a freeze
    of them names what the op path merges)."""
    authored = draw(filled_protocols(ASSIGNMENT, max_edits=0 if clean else 6))
    return str(uuid.uuid4()), _stamped(authored, first_seq)


def _edits(data: st.DataObject, block: int) -> list[Op]:
    """Edits of the protocol the registries hold from the start, pushed as ops with the
    protocols pushed whole, their seqs before, between and after the protocols'."""
    edits = sorted(data.draw(st.lists(st.tuples(st.integers(0, 3), _field_edits), max_size=4)),
                   key=lambda edit: edit[0])
    return [Op(DEVICE, block + where * 1_000 + 500 + place, EDITED, path, value,
               pack(BASE_MS + place, 1)) for place, (where, (path, value)) in enumerate(edits)]


def _earlier(data: st.DataObject, fault: str, item: WholeProtocol) -> list[list[Op]]:
    """What the registry was pushed before the batch: the protocol's first ops, or another
    protocol signed and edited after, its seqs the ones the protocol pushed whole then uses
    (a device that lost its count)."""
    if fault == "existing":
        return [_as_ops(item)[:data.draw(st.integers(1, len(item.ops)))]]
    if fault not in ("seqs_seen", "seqs_held"):
        return []
    doc, ops = data.draw(_protocol(True, item.ops[0][0]))
    signed = _signed(data, doc, ops, right=True)
    held = len(ops) + 1  # the first edit after the freeze, when there is one
    start = item.ops[0][0] - (held if fault == "seqs_held" and len(signed) > held else 0)
    return [[Op(DEVICE, seq - ops[0][0] + start, doc, path, value, hlc)
             for seq, path, value, hlc in signed]]


@pytest.mark.parametrize("fault", [*FAULTS, *AGAIN])
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_protocol_pushed_whole_ends_where_its_ops_end(
        registries: tuple[InProcessRegistry, InProcessRegistry], fault: str,
        data: st.DataObject) -> None:
    whole, one_by_one = registries
    block = next(_BLOCKS) * _BLOCK  # this example's seqs: a protocol in each thousand
    clean = fault in ("none", "protocol_signed", "freeze_mismatch")
    doc, ops = data.draw(_protocol(clean, block + 1_000))
    doc, ops = FAULTS.get(fault, FAULTS["none"])(data, doc, ops)
    others = [data.draw(_protocol(False, block + 1_000 * (2 + other)))
              for other in range(data.draw(st.integers(0, 2)))]
    protocols = [whole_protocol(doc, ops), *(whole_protocol(*other) for other in others)]
    for earlier in _earlier(data, fault, protocols[0]):
        for registry in registries:
            _push(registry, earlier)
    edits = _edits(data, block)
    # The op path takes the same ops in the order the registry takes them: each protocol just
    # before the first op with a higher seq than its first.
    blocks = sorted([*([op] for op in edits), *map(_as_ops, protocols)],
                    key=lambda block: block[0].seq if block else 0)
    for _ in range(2 if fault == "duplicate" else 1):
        pushed_whole = _push(whole, edits, protocols)
        pushed_as_ops = _push(one_by_one, [op for block in blocks for op in block])
        assert ordered(pushed_whole, protocols, edits) == pushed_as_ops.results
        assert held_rows(whole) == held_rows(one_by_one)
    if fault == "none":  # taken in one pass, answered in one result
        assert ProtocolResult(doc, "accepted") in pushed_whole.protocols


@pytest.mark.database_free
@settings(max_examples=150, deadline=None)
@given(batch=st.lists(filled_protocols(ASSIGNMENT, max_edits=0), min_size=1, max_size=4))
def test_a_push_checked_at_once_is_checked_as_each_protocol_alone(
        batch: list[list[tuple[str, Any]]]) -> None:
    """The runs found for all of a push's protocols at once are those found for each alone,
    and a run packed from the bytes that came is what ``NewProtocol`` packs of the same ops."""
    protocols = [whole_protocol(str(uuid.uuid4()), _stamped(authored, 1_000 * (number + 1)))
                 for number, authored in enumerate(batch)]
    together = prepare_push(protocols, DEVICE, _KNOWN.get, 2**62)
    for protocol, found in zip(protocols, together, strict=True):
        alone, = prepare_push([protocol], DEVICE, _KNOWN.get, 2**62)
        assert (found.seqs, found.registers) == (alone.seqs, alone.registers)
        if found.registers:
            assert found.registers == found.merged(DEVICE, 7).encode()


_KNOWN = {METROLOGY.ref: METROLOGY}
