"""A protocol first seen in a push is merged straight into its packed form, and ends exactly
where the general merge (``DocumentState.apply``, then ``pack_registers``) ends: its registers
stored with change number 0, which the registry reads as the push that created it."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from field_sync import DocumentState, form_of, pack, spread
from schemas import Op
from schemas.packed import pack_registers, unpack_registers
from server.sync.new_protocol import NewProtocol
from tests.strategies import DOC, METROLOGY, ROW_IDS, edits, stamp_history

DEVICE = "tablet-a"
FORM = form_of(METROLOGY)
CHANGED = 7
ROW, OTHER_ROW, _ = ROW_IDS
CREATE = {"_template": METROLOGY.ref, "_assignment": "asg-1"}


def _both(ops: list[Op]) -> tuple[NewProtocol, DocumentState]:
    new, general = NewProtocol(DOC, DEVICE, CHANGED), DocumentState(DOC)
    for op in ops:
        written = FORM.check_op(op)  # as ingest finds it
        new.apply(op, CHANGED, written)
        general.apply(op, CHANGED, written)
    return new, general


def _assert_same(ops: list[Op]) -> None:
    """The general merge at the push's change number, whose registers a new protocol stores
    with 0 for that number (read back as it with ``created``)."""
    new, general = _both(ops)
    stored = new.encode()
    assert stored == pack_registers({path: msgspec.structs.replace(register, changed=0)
                                     for path, register in general.registers.items()})
    assert unpack_registers(stored, created=CHANGED) == general.registers
    assert new.vector == general.vector
    unwritten = ["number", f"instruments/{ROW}/nothing", f"nothing/{ROW}/serial",
                 f"instruments/{OTHER_ROW}/serial"]
    for path in [*general.registers, *unwritten]:
        assert new.value(path) == general.value(path), path
    assert (new.template_ref, new.assignment, new.frozen) == \
        (general.template_ref, general.assignment, general.frozen)


def _op(seq: int, path: str, value: Any, ms: int) -> Op:
    return Op(DEVICE, seq, DOC, path, value, pack(1_717_000_000_000 + ms, 0))


_ROW_WRITTEN_OUT_OF_ORDER = [
    _op(1, "", CREATE, 1),
    _op(2, f"instruments/{ROW}", {"type": "scale", "serial": "S-1"}, 2),
    # a row of other names first, then the known ones after: places are taken as first seen
    _op(3, f"instruments/{OTHER_ROW}", {"verified_until": "2027-01-01", "type": "scale"}, 3),
    _op(4, f"instruments/{ROW}/serial", "S-2", 4),
    _op(5, f"instruments/{ROW}/_deleted", True, 5),
    # stamped before the edit above (a device's clock set back): it loses to it
    _op(6, f"instruments/{ROW}", {"serial": "S-0", "type": "gas_meter"}, 3),
]


_ONE_STAMP_TWO_SEQS = [  # a device's clock did not move between two ops: the later seq wins
    _op(1, "", CREATE, 1),
    _op(2, f"instruments/{ROW}/serial", "S-2", 2),
    _op(3, f"instruments/{ROW}", {"serial": "S-3", "type": "scale"}, 2),
    _op(4, "number", "N-4", 3),
    _op(5, "number", "N-5", 3),
    _op(7, "findings", "seven", 4),
    _op(6, "findings", "six", 4),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(ops=_ROW_WRITTEN_OUT_OF_ORDER)
@example(ops=_ONE_STAMP_TWO_SEQS)
@given(ops=st.lists(edits(), min_size=1, max_size=30)
       .flatmap(lambda authored: stamp_history([(DEVICE, *edit) for edit in authored]))
       .flatmap(lambda ops: st.one_of(st.just(ops), st.permutations(ops))))
def test_a_new_protocol_packs_as_the_general_merge_does(ops: list[Op]) -> None:
    """Any one device's ops, in the order made or in any other (a stamp lower than the one
    already held loses, as it does in the general merge), pack to the same bytes, keep the same
    vector and read the same values."""
    _assert_same(ops)


def test_a_new_rows_fields_follow_the_collections_order_of_names() -> None:
    """Rows written whole in one order of names are packed as their values in that order; a
    row with more names adds them; one in another order finds each name's place."""
    ops = [_op(1, "", CREATE, 1),
           _op(2, f"instruments/{ROW}", {"type": "scale"}, 2),
           _op(3, f"instruments/{OTHER_ROW}", {"type": "scale", "serial": "S-9"}, 3),
           _op(4, f"measurements/{ROW}", {"unit": "kg"}, 4),
           _op(5, f"instruments/{ROW_IDS[2]}", {"serial": "S-8", "type": "gas_meter"}, 5)]
    _assert_same(ops)
    new, _ = _both(ops)
    instruments = new.collections["instruments"]
    assert instruments.names == ("type", "serial")
    assert [[packed.value for packed in row if packed] for row in instruments.rows.values()] == \
        [["scale"], ["scale", "S-9"], ["gas_meter", "S-8"]]
    assert new.count == 2 + 1 + 2 + 1 + 2  # the root writes two meta fields


def test_only_the_pushing_devices_ops_of_one_push_are_taken() -> None:
    state = NewProtocol(DOC, DEVICE, CHANGED)
    create = _op(1, "", CREATE, 1)
    for op, changed in ((Op("tablet-b", 1, DOC, "", CREATE, create.hlc), CHANGED),
                        (create, CHANGED + 1)):
        with pytest.raises(ValueError, match="device pushing"):
            state.apply(op, changed, spread(op.path, op.value))
    assert (state.encode(), state.vector) == (pack_registers({}), {})
