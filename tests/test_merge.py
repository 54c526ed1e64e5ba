"""The conflict-free merge: LWW registers per field, the per-row delete rule, and its laws."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from field_sync import DocumentState, Register, canonical_bytes, content_hash, pack, replay, spread
from schemas import Op
from schemas.packed import is_packed, pack_registers, register_count, unpack_registers
from tests.strategies import DOC, METROLOGY, ROW_IDS, histories, registry_runs, shares

pytestmark = pytest.mark.database_free

T = 1_717_000_000_000
ROW, OTHER_ROW, THIRD_ROW = ROW_IDS
CREATE = {"_template": METROLOGY.ref, "_assignment": "asg-1"}

_PROPERTY = settings(max_examples=80, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


def op(actor: str, seq: int, path: str, value: Any, ms: int, counter: int = 0) -> Op:
    return Op(actor, seq, DOC, path, value, pack(T + ms, counter))


def state_of(ops: Iterable[Op]) -> DocumentState:
    return replay(DOC, ops)


def copy(state: DocumentState) -> DocumentState:
    return DocumentState(state.id, dict(state.registers), dict(state.vector))


def merged(*states: DocumentState) -> DocumentState:
    result = copy(states[0])
    for other in states[1:]:
        result.merge(other)
    return result


def encoded(state: DocumentState) -> bytes:
    return canonical_bytes(state.materialize(METROLOGY))


def assert_same(a: DocumentState, b: DocumentState) -> None:
    assert a.registers == b.registers
    assert a.vector == b.vector
    assert encoded(a) == encoded(b)
    assert canonical_bytes(a.materialize()) == canonical_bytes(b.materialize())


# --- last writer wins per field ----------------------------------------------------------------


def test_the_later_hlc_wins_whatever_the_order_of_arrival() -> None:
    early = op("tablet-b", 1, "findings", "early", ms=1)
    late = op("tablet-a", 1, "findings", "late", ms=2)
    for ops in ([early, late], [late, early]):
        state = state_of(ops)
        assert state.registers["findings"].value == "late"
        assert state.materialize().fields == {"findings": "late"}


def test_equal_hlc_is_broken_by_actor_id() -> None:
    a = op("tablet-a", 1, "findings", "from a", ms=1)
    b = op("tablet-b", 1, "findings", "from b", ms=1)
    assert state_of([a, b]).registers["findings"].value == "from b"
    assert state_of([b, a]).registers["findings"].value == "from b"


def test_equal_hlc_and_actor_is_broken_by_seq() -> None:
    first = op("tablet-a", 1, "findings", "first", ms=1)
    second = op("tablet-a", 2, "findings", "second", ms=1)
    assert state_of([second, first]).registers["findings"].value == "second"
    assert Register(5, "a", 2, None).stamp == (5, "a", 2)


def test_apply_reports_the_paths_whose_winner_changed() -> None:
    state = DocumentState(DOC)
    late = op("tablet-a", 2, "findings", "late", ms=5)
    assert state.apply(late) == ["findings"]
    assert state.apply(late) == []  # a duplicate changes nothing
    assert state.apply(op("tablet-b", 1, "findings", "old", ms=1)) == []
    assert state.registers["findings"] == Register(late.hlc, "tablet-a", 2, "late")
    assert state.vector == {"tablet-a": 2, "tablet-b": 1}


def test_vector_keeps_the_highest_seq_per_actor_even_when_ops_arrive_late() -> None:
    state = state_of([op("tablet-a", 3, "number", "N-3", ms=3),
                      op("tablet-a", 1, "number", "N-1", ms=1)])
    assert state.vector == {"tablet-a": 3}
    assert state.registers["number"].value == "N-3"


def test_two_actors_editing_different_fields_of_one_row_both_keep_their_change() -> None:
    row = f"instruments/{ROW}"
    created = op("tablet-a", 1, row, {"type": "Scales", "serial": "S-1"}, ms=1)
    serial = op("tablet-a", 2, f"{row}/serial", "S-100", ms=5)
    seal = op("tablet-b", 1, f"{row}/seal_intact", False, ms=4)
    for ops in ([created, serial, seal], [seal, serial, created]):
        rows = state_of(ops).materialize().collections["instruments"]
        assert rows == {ROW: {"type": "Scales", "serial": "S-100", "seal_intact": False}}


def test_whole_row_op_writes_each_field_as_its_own_register() -> None:
    created = op("tablet-a", 1, f"measurements/{ROW}", {"nominal": "10", "unit": "kg"}, ms=1)
    state = state_of([created])
    assert set(state.registers) == {f"measurements/{ROW}/nominal", f"measurements/{ROW}/unit"}
    assert state.registers[f"measurements/{ROW}/unit"] == Register(created.hlc, "tablet-a", 1,
                                                                   "kg")


def test_a_cleared_field_disappears_from_the_protocol() -> None:
    state = state_of([op("tablet-a", 1, "findings", "text", ms=1),
                      op("tablet-b", 1, "findings", None, ms=2)])
    assert "findings" in state.registers
    assert state.materialize().fields == {}


def test_meta_fields_name_template_and_assignment_but_are_not_fields() -> None:
    state = state_of([op("tablet-a", 1, "", CREATE, ms=1),
                      op("tablet-a", 2, "number", "MN-1", ms=2)])
    assert state.template_ref == METROLOGY.ref
    assert state.assignment == "asg-1"
    protocol = state.materialize()
    assert protocol.template == METROLOGY.ref
    assert protocol.assignment == "asg-1"
    assert protocol.fields == {"number": "MN-1"}
    assert DocumentState(DOC).template_ref is None
    assert DocumentState(DOC).materialize().template == ""


def test_a_correction_names_the_protocol_it_supersedes_and_its_hash_covers_the_link() -> None:
    """The ``_supersedes`` meta field is no field of the protocol but its own part of it: the
    correction's content, and so its hash and what its seal signs, names what it corrects."""
    old = "5d1e4c8a-0000-4000-8000-000000000000"
    correction = state_of([op("tablet-a", 1, "", {**CREATE, "_supersedes": old}, ms=1),
                           op("tablet-a", 2, "number", "MN-1", ms=2)])
    protocol = correction.materialize(METROLOGY)
    assert protocol.supersedes == old
    assert protocol.fields == {"number": "MN-1"}
    assert correction.materialize().supersedes == old
    plain = state_of([op("tablet-a", 1, "", CREATE, ms=1),
                      op("tablet-a", 2, "number", "MN-1", ms=2)]).materialize(METROLOGY)
    assert plain.supersedes is None
    assert msgspec.structs.replace(protocol, supersedes=None) == plain
    assert content_hash(protocol) != content_hash(plain)


def test_replay_ignores_ops_of_other_protocols() -> None:
    mine = op("tablet-a", 1, "number", "MN-1", ms=1)
    other = Op("tablet-a", 2, "5d1e4c8a-0000-4000-8000-000000000000", "number", "X", mine.hlc + 1)
    state = replay(DOC, [mine, other])
    assert state.materialize().fields == {"number": "MN-1"}
    assert state.vector == {"tablet-a": 1}


# --- the delete rule ---------------------------------------------------------------------------

_ROW = f"instruments/{ROW}"
_ADDED = op("tablet-a", 1, _ROW, {"type": "Fuel dispenser", "serial": "FD-7"}, ms=1)


def _instruments(ops: Iterable[Op]) -> dict[str, Any]:
    return state_of(ops).materialize().collections.get("instruments", {})


def test_removal_later_than_every_edit_hides_the_row_but_keeps_its_fields() -> None:
    removed = op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2)
    state = state_of([_ADDED, removed])
    assert state.materialize().collections == {}
    assert state.registers[f"{_ROW}/serial"].value == "FD-7"  # nothing thrown away


def test_an_edit_later_than_the_removal_brings_the_row_back_with_every_field() -> None:
    removed = op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2)
    edited = op("tablet-a", 2, f"{_ROW}/seal_intact", True, ms=3)
    for ops in ([_ADDED, removed, edited], [edited, removed, _ADDED]):
        assert _instruments(ops) == {
            ROW: {"type": "Fuel dispenser", "serial": "FD-7", "seal_intact": True}
        }


def test_removal_later_than_a_concurrent_edit_wins() -> None:
    edited = op("tablet-a", 2, f"{_ROW}/serial", "FD-8", ms=3)
    removed = op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=4)
    assert _instruments([_ADDED, edited, removed]) == {}
    assert _instruments([removed, edited, _ADDED]) == {}


def test_removal_earlier_than_an_edit_of_any_field_does_not_hide_the_row() -> None:
    removed = op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=1, counter=1)
    edited = op("tablet-c", 1, f"{_ROW}/manufacturer", "Tokheim", ms=1, counter=2)
    assert _instruments([_ADDED, removed, edited])[ROW]["manufacturer"] == "Tokheim"


def test_removal_and_edit_with_equal_stamps_are_ordered_by_actor() -> None:
    removed_by_b = op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2)
    edited_by_a = op("tablet-a", 2, f"{_ROW}/serial", "FD-9", ms=2)
    assert _instruments([_ADDED, removed_by_b, edited_by_a]) == {}
    removed_by_a = op("tablet-a", 2, f"{_ROW}/_deleted", True, ms=2)
    edited_by_b = op("tablet-b", 1, f"{_ROW}/serial", "FD-9", ms=2)
    assert ROW in _instruments([_ADDED, removed_by_a, edited_by_b])


def test_at_the_first_stamp_a_clock_issues_the_rule_holds_too() -> None:
    """Stamp 0 (the epoch, counter 0) is a stamp like any other: a removal and an edit both
    at 0 are ordered by actor, and a removal at 0 of a row nobody has seen removes it."""
    removed = Op("tablet-a", 1, DOC, f"{_ROW}/_deleted", True, 0)
    edited = Op("tablet-b", 1, DOC, f"{_ROW}/type", "Meter", 0)
    assert _instruments([removed, edited]) == {ROW: {"type": "Meter"}}
    unseen = state_of([removed])
    assert unseen.dead_rows() == {("instruments", ROW)}
    assert unseen.whole_registers() == {}


def test_a_later_restore_brings_a_removed_row_back() -> None:
    removed = op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2)
    restored = op("tablet-a", 2, f"{_ROW}/_deleted", False, ms=3)
    assert _instruments([_ADDED, restored, removed]) == {
        ROW: {"type": "Fuel dispenser", "serial": "FD-7"}
    }


def test_clearing_a_field_after_the_removal_is_an_edit_and_brings_the_row_back() -> None:
    removed = op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2)
    cleared = op("tablet-a", 2, f"{_ROW}/serial", None, ms=3)
    assert _instruments([_ADDED, removed, cleared]) == {ROW: {"type": "Fuel dispenser"}}


def test_removing_one_row_leaves_the_others() -> None:
    other = op("tablet-a", 2, f"instruments/{OTHER_ROW}", {"type": "Meter", "serial": "M-1"},
               ms=1)
    removed = op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2)
    assert _instruments([_ADDED, other, removed]) == {OTHER_ROW: {"type": "Meter",
                                                                  "serial": "M-1"}}


def test_removal_of_a_row_nobody_has_seen_shows_nothing() -> None:
    assert state_of([op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2)]).materialize() \
        .collections == {}


# --- materialize with the template ------------------------------------------------------------

_MEASURED = f"measurements/{OTHER_ROW}"


def _measurement(**fields: Any) -> DocumentState:
    row = {"instrument": ROW, "nominal": "10.000", "indication": "10.012", "mpe": "0.020",
           "unit": "l"} | fields
    row = {name: value for name, value in row.items() if value is not None}
    return state_of([op("tablet-a", 1, "", CREATE, ms=0), _ADDED,
                     op("tablet-a", 2, _MEASURED, row, ms=2)])


def test_materialize_computes_error_and_pass_of_a_measurement() -> None:
    protocol = _measurement().materialize(METROLOGY)
    assert protocol.collections["measurements"][OTHER_ROW] == {
        "instrument": ROW, "nominal": "10.000", "indication": "10.012", "mpe": "0.020",
        "unit": "l", "error": "0.012", "pass": True,
    }


def test_materialize_fails_a_measurement_outside_the_mpe() -> None:
    row = _measurement(indication="9.975").materialize(METROLOGY).collections["measurements"]
    assert row[OTHER_ROW]["error"] == "-0.025"
    assert row[OTHER_ROW]["pass"] is False


def test_an_error_equal_to_the_mpe_passes() -> None:
    row = _measurement(indication="9.980").materialize(METROLOGY).collections["measurements"]
    assert row[OTHER_ROW]["error"] == "-0.020"
    assert row[OTHER_ROW]["pass"] is True


def test_computed_values_are_left_out_while_an_input_is_missing() -> None:
    row = _measurement(mpe=None).materialize(METROLOGY).collections["measurements"][OTHER_ROW]
    assert row["error"] == "0.012"
    assert "pass" not in row
    row = _measurement(indication=None).materialize(METROLOGY).collections["measurements"]
    assert "error" not in row[OTHER_ROW]
    assert "pass" not in row[OTHER_ROW]


def test_a_typed_computed_value_never_reaches_the_materialized_protocol() -> None:
    state = _measurement()
    state.apply(op("tablet-b", 1, f"{_MEASURED}/error", "999", ms=9))
    row = state.materialize(METROLOGY).collections["measurements"][OTHER_ROW]
    assert row["error"] == "0.012"
    assert state.materialize().collections["measurements"][OTHER_ROW]["error"] == "999"


def test_computed_values_follow_the_latest_edit_of_their_inputs() -> None:
    state = _measurement()
    state.apply(op("tablet-b", 1, f"{_MEASURED}/indication", "10.030", ms=5))
    row = state.materialize(METROLOGY).collections["measurements"][OTHER_ROW]
    assert (row["error"], row["pass"]) == ("0.030", False)


# --- changes_since -----------------------------------------------------------------------------


def test_changes_since_ships_the_winning_registers_changed_after_a_number() -> None:
    state = DocumentState(DOC)
    state.apply(op("tablet-a", 1, "", CREATE, ms=0), changed=1)
    state.apply(op("tablet-a", 2, "number", "MN-1", ms=1), changed=2)
    state.apply(op("tablet-b", 1, f"instruments/{ROW}", {"type": "T", "serial": "S"}, ms=2),
                changed=3)
    state.apply(op("tablet-c", 1, "number", "loser", ms=0), changed=4)  # loses: not shipped
    assert list(state.changes_since(3)) == []
    assert sorted(change.path for change in state.changes_since(2)) == [
        f"instruments/{ROW}/serial", f"instruments/{ROW}/type",
    ]
    shipped = {change.path: change for change in state.changes_since(0)}
    assert set(shipped) == {"_template", "_assignment", "number", f"instruments/{ROW}/serial",
                            f"instruments/{ROW}/type"}
    assert shipped["number"] == Op("tablet-a", 2, DOC, "number", "MN-1", pack(T + 1, 0))
    # a replica that receives only the shipped registers sees the same protocol
    assert encoded(state_of(shipped.values())) == encoded(state)


def test_registers_made_on_a_device_carry_change_number_zero() -> None:
    state = state_of([op("tablet-a", 1, "number", "MN-1", ms=1)])
    assert state.registers["number"].changed == 0
    assert list(state.changes_since(0)) == []


def test_full_changes_leave_removed_rows_out_tombstones_and_all() -> None:
    registry = replay(DOC, [_ADDED, op("tablet-a", 2, f"instruments/{OTHER_ROW}/type", "T", ms=1),
                            op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2)], changed=1)
    shipped = sorted(change.path for change in registry.changes_since(0, full=True))
    assert shipped == [f"instruments/{OTHER_ROW}/type"]


def test_a_revived_row_is_shipped_whole_to_devices_that_never_had_it() -> None:
    registry = DocumentState(DOC)
    registry.apply(_ADDED, changed=1)
    registry.apply(op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2), changed=2)
    device = replay(DOC, registry.changes_since(0, full=True))
    assert device.registers == {}
    registry.apply(op("tablet-a", 2, f"{_ROW}/seal_intact", True, ms=3), changed=3)
    shipped = sorted(change.path for change in registry.changes_since(2))
    assert shipped == [f"{_ROW}/_deleted", f"{_ROW}/seal_intact", f"{_ROW}/serial",
                       f"{_ROW}/type"]
    for change in registry.changes_since(2):
        device.apply(change)
    assert encoded(device) == encoded(registry)


def test_a_stale_edit_of_a_removed_row_does_not_revive_it_on_a_device() -> None:
    """The device took the protocol whole after the row was removed (``changes_since(full=True)``
    leaves the row out, tombstone and all). An edit made offline before the removal then arrives:
    the row stays removed on the registry, which ships the tombstone along with the edited
    field, so the device does not show the row again.
    """
    registry = DocumentState(DOC)
    registry.apply(_ADDED, changed=1)
    registry.apply(op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=5), changed=2)
    device = replay(DOC, registry.changes_since(0, full=True))
    stale = op("tablet-c", 1, f"{_ROW}/manufacturer", "Tokheim", ms=3)  # made before removal
    registry.apply(stale, changed=3)
    assert registry.materialize().collections == {}
    for change in registry.changes_since(2):
        device.apply(change)
    assert device.materialize().collections == {}
    assert encoded(device) == encoded(registry)


def stamped(state: DocumentState, prefix: str = "") -> dict[str, tuple[int, str, int, Any]]:
    """The registers under ``prefix``, without the registry's change numbers."""
    return {path: (r.hlc, r.actor, r.seq, r.value) for path, r in state.registers.items()
            if path.startswith(prefix)}


def took_whole(registry: DocumentState) -> DocumentState:
    """A device that took the protocol whole (tombstones and removed rows left out)."""
    device = DocumentState(DOC)
    for change in registry.changes_since(0, full=True):
        device.take(change)
    return device


def catch_up(device: DocumentState, registry: DocumentState, since: int) -> list[str]:
    """The device takes what the registry changed after ``since``; the paths it took."""
    changes = list(registry.changes_since(since))
    for change in changes:
        device.take(change)
    return sorted(change.path for change in changes)


_REGISTRY_START = [op("tablet-a", 1, "", CREATE, ms=0), op("tablet-a", 2, "number", "MN-1", ms=0),
                   op("tablet-a", 3, _ROW, {"type": "Fuel dispenser", "serial": "FD-7"}, ms=1)]


def registry_with_a_removed_row() -> DocumentState:
    """The registry's copy: created and filled at change 1, the row removed at change 2."""
    registry = replay(DOC, _REGISTRY_START, changed=1)
    registry.apply(op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2), changed=2)
    return registry


def test_a_restored_row_is_marked_whole_and_nothing_else_of_the_protocol() -> None:
    """The edit that restores the row marks each of the row's registers as changed (the
    device that took the protocol whole never had them), and no register outside the row."""
    registry = registry_with_a_removed_row()
    device = took_whole(registry)
    registry.apply(op("tablet-a", 4, f"{_ROW}/manufacturer", "Tokheim", ms=3), changed=3)
    assert catch_up(device, registry, 2) == [f"{_ROW}/_deleted", f"{_ROW}/manufacturer",
                                             f"{_ROW}/serial", f"{_ROW}/type"]
    assert stamped(device) == stamped(registry)


def test_a_restore_that_writes_false_over_the_removal_is_a_restore_too() -> None:
    """``_deleted: false`` later than the removal brings the row back: the device gets its
    fields, not only the tombstone."""
    registry = registry_with_a_removed_row()
    device = took_whole(registry)
    registry.apply(op("tablet-a", 4, f"{_ROW}/_deleted", False, ms=3), changed=3)
    assert catch_up(device, registry, 2) == [f"{_ROW}/_deleted", f"{_ROW}/serial",
                                             f"{_ROW}/type"]
    assert device.materialize().collections == registry.materialize().collections == {
        "instruments": {ROW: {"type": "Fuel dispenser", "serial": "FD-7"}}}


def test_once_restored_an_edit_of_the_row_ships_only_itself() -> None:
    """A row restored earlier is a live row: a later edit of one of its fields is the one
    register shipped, the row is not sent whole again."""
    registry = registry_with_a_removed_row()
    registry.apply(op("tablet-a", 4, f"{_ROW}/manufacturer", "Tokheim", ms=3), changed=3)
    registry.apply(op("tablet-a", 5, f"{_ROW}/serial", "FD-8", ms=4), changed=4)
    assert sorted(change.path for change in registry.changes_since(3)) == [f"{_ROW}/serial"]


def test_an_op_that_loses_everywhere_marks_nothing() -> None:
    """An op older than every register it writes changes no winner: on a removed row it does
    not mark the removal again, so nothing is shipped for it."""
    registry = registry_with_a_removed_row()
    registry.apply(op("tablet-a", 4, f"{_ROW}/serial", "FD-9", ms=1, counter=5), changed=3)
    assert sorted(change.path for change in registry.changes_since(2)) == [f"{_ROW}/_deleted",
                                                                           f"{_ROW}/serial"]
    before = dict(registry.registers)
    assert registry.apply(op("tablet-c", 1, f"{_ROW}/serial", "FD-0", ms=1), changed=4) == []
    assert registry.registers == before
    assert list(registry.changes_since(3)) == []


def test_a_row_written_and_removed_in_one_op_stays_and_an_edit_ships_only_itself() -> None:
    """A removal no later than the row's fields does not remove it; so when the row is
    written and removed by one op, it stays, and a later edit is not a restore."""
    registry = replay(DOC, _REGISTRY_START[:2], changed=1)
    registry.apply(op("tablet-b", 1, _ROW, {"type": "Meter", "_deleted": True}, ms=1), changed=2)
    assert registry.dead_rows() == set()
    registry.apply(op("tablet-b", 2, f"{_ROW}/serial", "M-1", ms=2), changed=3)
    assert sorted(change.path for change in registry.changes_since(2)) == [f"{_ROW}/serial"]


def test_a_removal_at_the_first_stamp_is_restored_whole_too() -> None:
    """The registry heard only the removal of a row, stamped 0; an edit then restores it: the
    device that took the protocol whole gets the removal with the edit, and holds what the
    registry holds."""
    registry = replay(DOC, _REGISTRY_START[:2], changed=1)
    registry.apply(Op("tablet-b", 1, DOC, f"{_ROW}/_deleted", True, 0), changed=2)
    device = took_whole(registry)
    registry.apply(op("tablet-a", 3, f"{_ROW}/type", "Meter", ms=3), changed=3)
    assert catch_up(device, registry, 2) == [f"{_ROW}/_deleted", f"{_ROW}/type"]
    assert stamped(device) == stamped(registry)


def test_take_keeps_a_pulled_register_as_it_is_when_it_wins() -> None:
    """A device takes what the registry sends as single registers: the op's stamp and value,
    change number 0, a map kept whole (the registry checked it), an older one ignored."""
    device = DocumentState(DOC)
    newer = op("tablet-a", 2, "number", "MN-2", ms=2)
    device.take(newer)
    device.take(op("tablet-b", 1, "number", "MN-1", ms=1))
    assert device.registers == {"number": Register(newer.hlc, "tablet-a", 2, "MN-2")}
    device.take(op("tablet-a", 3, "_freeze", {"vector": {}, "content_hash": "ab"}, ms=3))
    assert device.registers["_freeze"].value == {"vector": {}, "content_hash": "ab"}


def test_offer_keeps_a_register_only_when_it_wins_and_says_whether_it_did() -> None:
    """The same write heard again does not win a second time."""
    state = DocumentState(DOC)
    older = Register(pack(T + 1, 0), "tablet-a", 1, "MN-1")
    newer = Register(pack(T + 2, 0), "tablet-a", 2, "MN-2", changed=5)
    assert state.offer("number", older) is True
    assert state.offer("number", newer) is True
    assert state.offer("number", older) is False
    assert state.offer("number", msgspec.structs.replace(newer, changed=9)) is False
    assert state.registers["number"] is newer


def test_replay_on_the_registry_marks_every_register_with_its_change_number() -> None:
    registry = replay(DOC, _REGISTRY_START, changed=7)
    assert {register.changed for register in registry.registers.values()} == {7}
    assert len(list(registry.changes_since(6))) == len(registry.registers) == 5


def test_the_freeze_dates_from_the_change_that_froze_the_protocol() -> None:
    registry = replay(DOC, _REGISTRY_START, changed=1)
    assert registry.frozen_since() == 0
    registry.offer("_freeze", Register(pack(T + 5, 0), "tablet-a", 4, {}, changed=6))
    assert registry.frozen_since() == 6


def test_full_changes_are_ops_of_this_protocol() -> None:
    registry = replay(DOC, _REGISTRY_START, changed=1)
    shipped = list(registry.changes_since(0, full=True))
    assert {change.doc for change in shipped} == {DOC}
    assert sorted(shipped, key=lambda change: change.path) == sorted(
        registry.changes_since(0), key=lambda change: change.path)


# --- the laws, as properties -------------------------------------------------------------------


@_PROPERTY
@given(seen=shares(2))
def test_merge_is_commutative(seen: tuple[list[Op], list[list[Op]]]) -> None:
    left, right = (state_of(view) for view in seen[1])
    assert_same(merged(left, right), merged(right, left))


@_PROPERTY
@given(seen=shares(3, max_size=16))
def test_merge_is_associative(seen: tuple[list[Op], list[list[Op]]]) -> None:
    x, y, z = (state_of(view) for view in seen[1])
    assert_same(merged(merged(x, y), z), merged(x, merged(y, z)))


@_PROPERTY
@given(history=histories())
def test_merge_is_idempotent(history: list[Op]) -> None:
    state = state_of(history)
    assert_same(merged(state, state), state)
    again = copy(state)
    for ops in (history, history):
        for each in ops:
            again.apply(each)
    assert_same(again, state)


@_PROPERTY
@given(seen=shares(2))
def test_merging_states_equals_replaying_the_union_of_their_ops(
    seen: tuple[list[Op], list[list[Op]]],
) -> None:
    a, b = seen[1]
    assert_same(merged(state_of(a), state_of(b)), state_of(a + b))


@_PROPERTY
@given(history=histories(min_size=1), data=st.data())
def test_any_order_with_any_duplicates_gives_identical_bytes(
    history: list[Op], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(history))
    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=len(history)))
    delivered = list(shuffled)
    for duplicate in duplicates:
        delivered.insert(data.draw(st.integers(0, len(delivered))), duplicate)
    reference, replica = state_of(history), state_of(delivered)
    assert encoded(replica) == encoded(reference)
    assert replica.registers == reference.registers
    assert replica.vector == reference.vector


@_PROPERTY
@given(history=histories(min_size=1), data=st.data())
def test_replicas_that_saw_different_subsets_converge_after_exchanging_states(
    history: list[Op], data: st.DataObject
) -> None:
    count = data.draw(st.integers(2, 4))
    replicas = []
    seen: set[int] = set()
    for _ in range(count):
        picked = data.draw(st.sets(st.integers(0, len(history) - 1)))
        seen |= picked
        order = data.draw(st.permutations(sorted(picked)))
        replicas.append(state_of(history[index] for index in order))
    # gossip: every replica merges every other's state, in an order of its own
    exchanged = []
    for mine in range(count):
        result = copy(replicas[mine])
        for theirs in data.draw(st.permutations([i for i in range(count) if i != mine])):
            result.merge(replicas[theirs])
        exchanged.append(result)
    union = state_of(history[index] for index in sorted(seen))
    for result in exchanged:
        assert_same(result, union)


_REMOVED_THEN_STALE_EDIT = (
    [op("tablet-a", 1, _ROW, {"type": "Fuel dispenser"}, ms=1),
     op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=5),
     op("tablet-c", 1, f"{_ROW}/serial", "FD-7", ms=3)],
    frozenset({2, 3}),
)


@_PROPERTY
@example(run=_REMOVED_THEN_STALE_EDIT)  # the bug of test_a_stale_edit_of_a_removed_row_...
@given(run=registry_runs())
def test_a_device_pulling_from_the_registry_ends_with_the_registry_protocol(
    run: tuple[list[Op], frozenset[int]],
) -> None:
    """The registry numbers each change; a device pulls the whole protocol first, then what
    changed after its cursor, at arbitrary moments; after a last pull both show the same."""
    arrival, pulls = run
    registry = DocumentState(DOC)
    device: DocumentState | None = None
    cursor = 0
    for number in range(len(arrival) + 1):
        if number in pulls:
            if device is None:
                device, changes = DocumentState(DOC), registry.changes_since(0, full=True)
            else:
                changes = registry.changes_since(cursor)
            for change in list(changes):
                device.apply(change)
            cursor = number
        if number < len(arrival):
            registry.apply(arrival[number], changed=number + 1)
    assert device is not None
    assert encoded(device) == encoded(registry)


# --- an independent model of the documented rules ----------------------------------------------


def _model(history: list[Op]) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]:
    """What merge.py's docstring promises, computed the obvious (slow) way."""
    writes: dict[str, list[tuple[tuple[int, str, int], Any]]] = {}
    for each in history:
        written = spread(each.path, each.value)
        for name, value in written.fields:
            writes.setdefault(written.prefix + name, []).append(
                ((each.hlc, each.actor, each.seq), value))
    winner = {path: max(candidates, key=lambda c: c[0]) for path, candidates in writes.items()}
    fields = {path: value for path, (_, value) in winner.items()
              if "/" not in path and not path.startswith("_") and value is not None}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    last_edit: dict[tuple[str, str], tuple[int, str, int]] = {}
    for path, candidates in writes.items():
        if path.count("/") != 2 or path.endswith("/_deleted"):
            continue
        collection, row, name = path.split("/")
        key = (collection, row)
        last_edit[key] = max([last_edit.get(key, (-1, "", 0))] + [c[0] for c in candidates])
        if winner[path][1] is not None:
            rows.setdefault(key, {})[name] = winner[path][1]
    collections: dict[str, dict[str, dict[str, Any]]] = {}
    for (collection, row), values in rows.items():
        removal = winner.get(f"{collection}/{row}/_deleted")
        if removal is not None and removal[1] is True and removal[0] > last_edit[(collection, row)]:
            continue
        collections.setdefault(collection, {})[row] = values
    return fields, collections


_CLEARED_AFTER_REMOVAL = [
    op("tablet-a", 1, _ROW, {"type": "T", "serial": "S"}, ms=1),
    op("tablet-b", 1, f"{_ROW}/_deleted", True, ms=2),
    op("tablet-c", 1, f"{_ROW}/manufacturer", None, ms=3),
]
_REMOVED_IN_THE_WRITING_OP = [op("tablet-a", 1, _ROW, {"type": "T", "_deleted": True}, ms=1)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(history=_CLEARED_AFTER_REMOVAL)
@example(history=_REMOVED_IN_THE_WRITING_OP)  # a removal no later than the edit: row shown
@given(history=histories(max_size=30))
def test_materialized_protocol_matches_an_independent_model(history: list[Op]) -> None:
    protocol = state_of(history).materialize()
    fields, collections = _model(history)
    assert protocol.fields == fields
    assert protocol.collections == collections


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(max_size=30), changed=st.integers(0, 2**40))
def test_registers_packed_read_back_as_they_were(history: list[Op], changed: int) -> None:
    """The packed form (devices listed once, a row's fields under the row) reads back as the
    registers packed, as the flat form does, and says how many there are without reading them;
    it is smaller as soon as a device or a row writes more than one register."""
    state = replay(DOC, history, changed)
    packed, flat = pack_registers(state.registers), msgspec.msgpack.encode(state.registers)
    assert (is_packed(packed), is_packed(flat)) == (True, False)
    assert unpack_registers(packed) == unpack_registers(flat) == state.registers
    assert register_count(packed) == register_count(flat) == len(state.registers)
    if len(state.registers) > len(state.vector) + 2:
        assert len(packed) < len(flat)


def test_a_path_that_is_neither_a_field_nor_a_rows_field_is_not_packed() -> None:
    register = Register(1, "tablet-a", 1, "x")
    for path in ("instruments/x", f"{_ROW}/serial/more", "/serial", "instruments//serial"):
        with pytest.raises(ValueError, match="neither a field"):
            pack_registers({path: register})


@pytest.mark.parametrize("size", [0, 15, 16, 127, 128, 65_536])
def test_the_count_of_registers_is_read_whatever_its_size(size: int) -> None:
    registers = {f"field_{index}": Register(index, "tablet-a", index + 1, index)
                 for index in range(size)}
    for stored in (pack_registers(registers), msgspec.msgpack.encode(registers)):
        assert register_count(stored) == register_count(msgspec.Raw(stored)) == size


def test_rows_with_fields_missing_or_in_another_order_read_back_as_they_were() -> None:
    """A collection's names come in the order first written; a row lacking one keeps a gap."""
    first, second = "instruments/" + ROW_IDS[0], "instruments/" + ROW_IDS[1]
    registers = {f"{first}/serial": Register(3, "tablet-a", 1, "S-1"),
                 f"{first}/type": Register(4, "tablet-a", 2, "scale"),
                 "conclusion": Register(5, "tablet-b", 1, "compliant"),
                 f"{second}/type": Register(6, "tablet-b", 2, "meter"),
                 f"{second}/manufacturer": Register(7, "tablet-b", 3, None, changed=9),
                 f"{first}/_deleted": Register(8, "tablet-a", 3, True)}
    packed = pack_registers(registers)
    assert unpack_registers(packed) == registers and register_count(packed) == 6
    names, rows = msgspec.msgpack.decode(packed)[3]["instruments"]
    assert names == ["serial", "type", "manufacturer", "_deleted"]
    assert [len(row) for row in rows.values()] == [4, 3]  # the second: no serial, no _deleted
    assert rows[ROW_IDS[1]][0] is None


def test_a_packed_row_with_more_registers_than_names_or_a_device_out_of_place_is_refused(
) -> None:
    register = [1, 0, 1, "x", 0]
    broken = msgspec.msgpack.encode(
        [2, ["tablet-a"], {}, {"instruments": [["serial"], {ROW_IDS[0]: [register, register]}]}])
    with pytest.raises(ValueError, match="more registers than it has names"):
        unpack_registers(broken)
    for actor in (-1, 1):
        with pytest.raises((msgspec.ValidationError, IndexError)):
            unpack_registers(msgspec.msgpack.encode([1, ["tablet-a"], {"x": [1, actor, 1, 2, 0]},
                                                     {}]))
