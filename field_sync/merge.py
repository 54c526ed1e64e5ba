"""The conflict-free merge: every field a last-writer-wins register, rows kept with tombstones.

A protocol's state is a map from field path to the register that won it. A register wins by
``(hlc, actor, seq)``, so merging is taking the maximum per path: commutative, associative and
idempotent. Any set of ops, in any order, with any duplicates, yields the same state everywhere.

Two inspectors who change different fields of one row both keep their change: each field is its
own register.

Removing a row writes its ``_deleted`` register. A row removed on one tablet while edited on
another stays removed when the removal is the later act, and comes back, with every field, when
an edit is later than the removal (*last act wins*, per row). Nothing is thrown away in either
case: the fields stay in the state, so a restore brings them back, and the rule needs no
knowledge of who saw what, only the stamps every replica holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from field_sync.computed import apply_computed
from field_sync.freeze import Freeze, parse_freeze
from field_sync.paths import (
    ASSIGNMENT,
    DELETED,
    FREEZE,
    SUPERSEDES,
    TEMPLATE,
    Written,
    spread,
)
from schemas.documents import Protocol, Row
from schemas.operations import Op, Register, VersionVector
from schemas.templates import Template

__all__ = ["DocumentState", "Register", "RowKey", "replay"]

RowKey = tuple[str, str]
"""``(collection, row uuid)``."""


class DocumentState:
    """All registers of one protocol, and the version vector of the ops merged into it."""

    __slots__ = ("id", "registers", "vector")

    def __init__(
        self,
        id: str,
        registers: dict[str, Register] | None = None,
        vector: VersionVector | None = None,
    ) -> None:
        self.id = id
        self.registers: dict[str, Register] = registers if registers is not None else {}
        self.vector: VersionVector = vector if vector is not None else {}

    def value(self, path: str) -> Any:
        """The value the register at ``path`` holds (None when nothing wrote it)."""
        register = self.registers.get(path)
        return None if register is None else register.value

    @property
    def template_ref(self) -> str | None:
        """The template the protocol was made from, once its creating op is known."""
        ref: str | None = self.value(TEMPLATE)
        return ref

    @property
    def frozen(self) -> Freeze | None:
        """The freeze of a signed protocol, or None while it may still change."""
        register = self.registers.get(FREEZE)
        return None if register is None else parse_freeze(register.value)

    def frozen_since(self) -> int:
        """The registry's change number of the freeze (0 when not frozen)."""
        register = self.registers.get(FREEZE)
        return 0 if register is None else register.changed

    @property
    def assignment(self) -> str | None:
        """The assignment the protocol belongs to."""
        assignment: str | None = self.value(ASSIGNMENT)
        return assignment

    def apply(self, op: Op, changed: int = 0, written: Written | None = None) -> list[str]:
        """Merge one op; return the paths whose winner changed.

        On the registry (``changed`` set) a device that never received a removed row (see
        ``changes_since(full=True)``) must still end up where everyone else is: an op that
        brings a removed row back marks every field of the row as changed, so the whole row is
        sent; an op that changes a field of a row that stays removed marks the removal too, so
        the field never arrives without it.
        """
        if written is None:  # else it is what ``Form.check_op`` found the op writes
            written = spread(op.path, op.value)  # a bad path raises before any change
        hlc, actor, seq = op.hlc, op.actor, op.seq
        if seq > self.vector.get(actor, 0):
            self.vector[actor] = seq
        prefix, registers = written.prefix, self.registers
        # Only a row with a tombstone can be removed (a row never removed is the usual case).
        removable = bool(changed) and bool(prefix) and prefix + DELETED in registers
        was_dead = removable and self._row_dead(prefix)
        won = []
        stamp = (hlc, actor, seq)
        for name, value in written.fields:  # ``offer``, inline: this runs once a field
            path = prefix + name
            current = registers.get(path)
            if current is None or current.stamp < stamp:
                registers[path] = Register(hlc, actor, seq, value, changed)
                won.append(path)
        if changed and prefix and won and prefix + DELETED in registers:
            if not self._row_dead(prefix):
                if was_dead:
                    self._mark(prefix, changed)
            else:
                self._mark(prefix + DELETED, changed)
        return won

    def take(self, op: Op) -> None:
        """Merge one register the registry sent (``changes_since``): a single field, checked by
        the registry, so not spread and parsed again. The page's vectors come separately."""
        self.offer(op.path, Register(op.hlc, op.actor, op.seq, op.value))

    def _mark(self, prefix: str, changed: int) -> None:
        """Mark the registers whose path starts with ``prefix`` as changed."""
        for path, register in self.registers.items():
            if path.startswith(prefix) and register.changed < changed:
                self.registers[path] = msgspec.structs.replace(register, changed=changed)

    def offer(self, path: str, register: Register) -> bool:
        """Keep ``register`` for ``path`` if it wins; say whether it did."""
        current = self.registers.get(path)
        if current is not None and current.stamp >= register.stamp:
            return False
        self.registers[path] = register
        return True

    def merge(self, other: DocumentState) -> None:
        """Take every register and vector entry of ``other`` that wins here."""
        for path, register in other.registers.items():
            self.offer(path, register)
        for actor, seq in other.vector.items():
            if seq > self.vector.get(actor, 0):
                self.vector[actor] = seq

    def changes_since(self, changed: int, full: bool = False) -> Iterator[Op]:
        """The winning registers the registry changed after ``changed``, as ops.

        ``full`` sends the whole current state instead (``whole_registers``), for a device that
        has never seen this protocol.
        """
        if full:
            for path, register in self.whole_registers().items():
                yield register.as_op(self.id, path)
            return
        for path, register in self.registers.items():
            if register.changed > changed:
                yield register.as_op(self.id, path)

    def whole_registers(self) -> dict[str, Register]:
        """The state a device that has never seen this protocol takes: every register but
        those of removed rows, which are left out entirely, tombstones and all. When no row
        was ever removed this is ``registers`` itself, not a copy: read it, do not change it."""
        if DELETED not in "".join(self.registers):  # one search, not one a path
            return self.registers  # no row was ever removed
        dead = {f"{collection}/{row}/" for collection, row in self.dead_rows()}
        return {path: register for path, register in self.registers.items()
                if path.count("/") != 2 or path[: path.rindex("/") + 1] not in dead}

    def _rows(self) -> tuple[dict[RowKey, Row], set[RowKey]]:
        """Every row's values, and the keys of the removed rows."""
        rows: dict[RowKey, Row] = {}
        latest_edit: dict[RowKey, tuple[int, str, int]] = {}
        removals: dict[RowKey, Register] = {}
        for path, register in self.registers.items():
            if path.count("/") != 2:
                continue
            collection, row, field = path.split("/")
            key = (collection, row)
            if field == DELETED:
                removals[key] = register
                continue
            if register.value is not None:
                rows.setdefault(key, {})[field] = register.value
            if register.stamp > latest_edit.get(key, (-1, "", 0)):
                latest_edit[key] = register.stamp
        dead = {
            key for key, removal in removals.items()
            if removal.value is True and removal.stamp > latest_edit.get(key, (-1, "", 0))
        }
        return rows, dead

    def _row_dead(self, prefix: str) -> bool:
        """Whether the row whose paths begin with ``prefix`` (``collection/row/``) is removed:
        ``(collection, row) in dead_rows()``, without reading every row (a row never removed
        is answered by one lookup)."""
        removal = self.registers.get(prefix + DELETED)
        if removal is None or removal.value is not True:
            return False
        latest = max((register.stamp for path, register in self.registers.items()
                      if path.startswith(prefix) and path != prefix + DELETED),
                     default=(-1, "", 0))
        return removal.stamp > latest

    def dead_rows(self) -> set[RowKey]:
        """``(collection, row)`` of every removed row (see the module's delete rule)."""
        return self._rows()[1]

    def live_rows(self) -> dict[str, dict[str, Row]]:
        """Every collection's rows that are not removed (see the module's delete rule)."""
        rows, dead = self._rows()
        collections: dict[str, dict[str, Row]] = {}
        for key, row_values in rows.items():
            if key not in dead:
                collections.setdefault(key[0], {})[key[1]] = row_values
        return collections

    def top_fields(self) -> dict[str, Any]:
        """Top-level field values, without meta fields and cleared (null) values."""
        return {
            path: register.value
            for path, register in self.registers.items()
            if "/" not in path and not path.startswith("_") and register.value is not None
        }

    def materialize(self, template: Template | None = None) -> Protocol:
        """The protocol as people see it; with its template, computed values are filled in."""
        fields = self.top_fields()
        collections = self.live_rows()
        if template is not None:
            fields = apply_computed(template.fields, fields)
            for spec in template.collections:
                rows = collections.get(spec.name, {})
                for row_id, row in rows.items():
                    rows[row_id] = apply_computed(spec.fields, row)
        supersedes = self.registers.get(SUPERSEDES)
        return Protocol(
            id=self.id,
            template=self.template_ref or "",
            assignment=self.assignment,
            fields=fields,
            collections=collections,
            supersedes=None if supersedes is None else supersedes.value,
        )


def replay(doc: str, ops: Iterable[Op], changed: int = 0) -> DocumentState:
    """The state of ``doc`` made from ``ops`` (in any order)."""
    state = DocumentState(doc)
    for op in ops:
        if op.doc == doc:
            state.apply(op, changed)
    return state
