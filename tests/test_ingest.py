"""Ingest called as the push route calls it, on the test's database: protocols created in a
push are stored as the general merge would store them, and the edge of the clock allowance."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from field_sync import content_hash, pack, replay
from schemas import Op
from schemas.packed import pack_registers
from server.api.auth import Caller
from server.data.tables import ProtocolRow
from server.sync.ingest import ingest
from tests.databases import dispose_database, fresh_database
from tests.inprocess import InProcessRegistry
from tests.strategies import DOC, METROLOGY, edits, stamp_history

DEVICE = "tablet-a"
ASSIGNMENT = "asg-1"
NOW_MS = 1_717_000_000_000
AHEAD_MS = 300_000
CREATE = {"_template": METROLOGY.ref, "_assignment": ASSIGNMENT}
_SEQS = itertools.count(100, 100)
"""Where each test's seqs start: a device's seqs are its own for good, and the tests share
one device on one registry."""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessRegistry]:
    folder: Path = tmp_path_factory.mktemp("registry")
    url = fresh_database(folder / "registry")
    registry = InProcessRegistry(folder, url)
    registry.add_inspector("inspector-1")
    registry.put_assignment(ASSIGNMENT, ["inspector-1"])
    yield registry
    registry.close()
    dispose_database(url)


def _push(registry: InProcessRegistry, ops: list[Op]) -> list[tuple[str, str]]:
    results, _ = ingest(registry.database, registry.catalog, Caller(DEVICE, "inspector-1"), ops,
                        NOW_MS, AHEAD_MS)
    return [(result.status, result.code) for result in results]


def _stored(registry: InProcessRegistry, doc: str) -> tuple[bytes, int]:
    with registry.database.read() as session:
        row = session.get(ProtocolRow, doc)
        assert row is not None
        return bytes(row.registers), row.changed


@st.composite
def _new_protocols(draw: st.DrawFn) -> list[Op]:
    """One device's ops on a protocol: the creating op, then edits."""
    authored = [("", CREATE), *draw(st.lists(edits(), max_size=20))]
    return draw(stamp_history([(DEVICE, path, value) for path, value in authored]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_new_protocols())
def test_a_protocol_created_in_a_push_is_stored_as_the_general_merge_stores_it(
        registry: InProcessRegistry, ops: list[Op]) -> None:
    """Its ops merged whole (``server.sync.new_protocol``) give the very bytes the field-by-field
    merge packs with the change number 0 (they won in the push that created the protocol), read
    back as that push's, and a later push merges into them field by field."""
    seq = next(_SEQS)
    doc = str(uuid.UUID(int=seq))  # new to the registry
    ops = [Op(op.actor, op.seq + seq, doc, op.path,
              {**op.value, "_assignment": ASSIGNMENT} if op.path == "" else op.value, op.hlc)
           for op in ops]
    assert {status for status, _ in _push(registry, ops)} == {"accepted"}
    registers, changed = _stored(registry, ops[0].doc)
    assert registers == pack_registers(replay(ops[0].doc, ops, 0).registers)
    assert registry.state(ops[0].doc).registers == replay(ops[0].doc, ops, changed).registers

    later = Op(DEVICE, ops[-1].seq + 1, ops[0].doc, "findings", "seen again", ops[-1].hlc + 1)
    assert _push(registry, [later]) == [("accepted", "")]
    state = registry.state(ops[0].doc)
    registers, changed_again = _stored(registry, ops[0].doc)
    expected = replay(ops[0].doc, ops, changed)
    expected.apply(later, changed_again)
    assert state.registers == expected.registers
    assert state.vector == {DEVICE: later.seq}


def test_the_clock_allowance_ends_with_the_last_stamp_of_its_last_millisecond(
        registry: InProcessRegistry) -> None:
    latest = NOW_MS + AHEAD_MS
    seq = next(_SEQS)
    ops = [Op(DEVICE, seq + 1, DOC, "", CREATE, pack(NOW_MS, 0)),
           Op(DEVICE, seq + 2, DOC, "number", "N-1", pack(latest, 0xFFFF)),
           Op(DEVICE, seq + 3, DOC, "number", "N-2", pack(latest + 1, 0))]
    assert _push(registry, ops) == [("accepted", ""), ("accepted", ""),
                                    ("rejected", "clock_ahead")]
    assert registry.state(DOC).value("number") == "N-1"


def _doc() -> str:
    return str(uuid.UUID(int=next(_SEQS)))


def test_a_protocol_created_and_signed_in_one_push_keeps_what_the_freeze_names(
        registry: InProcessRegistry) -> None:
    """The freeze's state replaces the new protocol's; a later op is held, and a second
    creating op may not move it to another assignment."""
    doc, seq = _doc(), next(_SEQS)
    made = [Op(DEVICE, seq + 1, doc, "", CREATE, pack(NOW_MS, 1)),
            Op(DEVICE, seq + 2, doc, "number", "N-1", pack(NOW_MS, 2))]
    protocol = replay(doc, made).materialize(METROLOGY)
    freeze = {"vector": {DEVICE: seq + 2}, "content_hash": content_hash(protocol)}
    ops = [*made,
           Op(DEVICE, seq + 3, doc, "", {**CREATE, "_assignment": "asg-2"}, pack(NOW_MS, 3)),
           Op(DEVICE, seq + 4, doc, "_freeze", freeze, pack(NOW_MS, 4)),
           Op(DEVICE, seq + 5, doc, "number", "N-2", pack(NOW_MS, 5))]
    assert _push(registry, ops) == [("accepted", ""), ("accepted", ""),
                                    ("rejected", "meta_immutable"), ("accepted", ""),
                                    ("rejected", "protocol_signed")]
    state = registry.state(doc)
    assert state.frozen is not None and state.value("number") == "N-1"
    assert state.vector == {DEVICE: seq + 4}


def test_a_push_whose_ops_on_a_protocol_are_all_refused_leaves_its_row_alone(
        registry: InProcessRegistry) -> None:
    """Neither a refused op of the team's own protocol nor one on another team's protocol
    changes the protocol's row (its change number would send it to every device again)."""
    registry.add_inspector("inspector-2")
    registry.put_assignment("asg-2", ["inspector-2"])
    doc, seq = _doc(), next(_SEQS)
    assert _push(registry, [Op(DEVICE, seq + 1, doc, "", CREATE, pack(NOW_MS, 1))]) == \
        [("accepted", "")]
    before = _stored(registry, doc)
    assert _push(registry, [Op(DEVICE, seq + 2, doc, "number", 17, pack(NOW_MS, 2))]) == \
        [("rejected", "bad_value")]
    other_team, _ = ingest(registry.database, registry.catalog, Caller("tablet-b", "inspector-2"),
                           [Op("tablet-b", 1, doc, "number", "N-9", pack(NOW_MS, 3))],
                           NOW_MS, AHEAD_MS)
    assert [(result.status, result.code) for result in other_team] == \
        [("rejected", "out_of_scope")]
    assert _stored(registry, doc) == before
