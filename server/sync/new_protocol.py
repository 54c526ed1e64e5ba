"""A protocol the registry first hears of in a push, merged straight into its packed form.

Every op such a protocol is made of comes from the one device pushing, and every register it
wins, wins in the push that creates the protocol: stored with ``changed`` 0, which the registry
reads as the protocol's ``created`` (``schemas.packed``). The general merge
(``DocumentState.apply``) then has little to do beyond keeping, per path, the op with the
greatest stamp: no other device's register to compare with, and marking a row's registers
changed when it is removed or brought back marks nothing that is not marked already. So this
keeps the registers in the packed form the row is stored in (``schemas.packed``) from the
start, a row's fields as one list under the row, instead of making a register and a path for
every field and taking them apart again to pack them. A filled protocol has some 80 registers,
a push of 500 protocols some 40,000, and this is most of what a push of new protocols costs the
registry beyond checking them.

``encode`` gives the very bytes that ``pack_registers`` gives for the registers
``DocumentState.apply`` makes of the same ops with change number 0; a test holds the two to
it.
"""

from __future__ import annotations

from _collections_abc import dict_items  # the type of ``dict.items()``, by its typed name
from collections.abc import Collection
from typing import Any

from field_sync.freeze import Freeze, parse_freeze
from field_sync.paths import ASSIGNMENT, FREEZE, TEMPLATE, Written
from schemas import Op, VersionVector
from schemas.packed import PackedRegister as Packed
from schemas.packed import PackedRows, encode_packed

__all__ = ["NewProtocol"]

class NewProtocol:
    """The state of a protocol the pushing device creates in this push (``ingest``).

    It answers what ingest asks of a ``DocumentState`` (``value``, ``template_ref``,
    ``assignment``, ``frozen``, ``vector``, ``apply``), for ops of ``actor`` merged in push
    ``changed`` only; a freeze replaces it with the ``DocumentState`` the freeze names.
    """

    __slots__ = ("actor", "changed", "collections", "count", "fields", "id", "seq")

    def __init__(self, id: str, actor: str, changed: int) -> None:
        self.id = id
        self.actor = actor
        self.changed = changed
        self.seq = 0
        """The highest seq taken: the version vector is ``{actor: seq}``."""
        self.fields: dict[str, Packed] = {}
        self.collections: dict[str, PackedRows] = {}
        self.count = 0
        """How many registers there are."""

    def value(self, path: str) -> Any:
        """The value the register at ``path`` holds (None when nothing wrote it)."""
        prefix, slash, name = path.rpartition("/")
        packed = self.fields.get(name) if not slash else self._row_register(prefix, name)
        return None if packed is None else packed.value

    def _row_register(self, prefix: str, name: str) -> Packed | None:
        collection, _, row_id = prefix.partition("/")
        rows = self.collections.get(collection)
        row = None if rows is None else rows.rows.get(row_id)
        place = None if rows is None else rows.places.get(name)
        return row[place] if row is not None and place is not None and place < len(row) else None

    @property
    def vector(self) -> VersionVector:
        """The version vector of the ops taken."""
        return {self.actor: self.seq} if self.seq else {}

    @property
    def template_ref(self) -> str | None:
        """The template the protocol is made from."""
        packed = self.fields.get(TEMPLATE)
        ref: str | None = None if packed is None else packed.value
        return ref

    @property
    def assignment(self) -> str | None:
        """The assignment the protocol belongs to (asked for each op it takes)."""
        packed = self.fields.get(ASSIGNMENT)
        assignment: str | None = None if packed is None else packed.value
        return assignment

    @property
    def frozen(self) -> Freeze | None:
        """The freeze, were there one (a freeze replaces this state, so there never is)."""
        packed = self.fields.get(FREEZE)
        return None if packed is None else parse_freeze(packed.value)

    def apply(self, op: Op, changed: int, written: Written) -> None:
        """Merge one op of this push, whose fields ``Form.check_op`` found (``written``)."""
        if op.actor != self.actor or changed != self.changed:
            raise ValueError("a new protocol takes the ops of the device pushing it, in one push")
        self.write(written, op.hlc, op.seq)

    def write(self, written: Written, hlc: int, seq: int) -> None:
        """Merge what one op of the pushing device, stamped ``(hlc, seq)``, writes."""
        if seq > self.seq:
            self.seq = seq
        collection, row_id, fields = written
        if not row_id:
            self._write_fields(fields, hlc, seq)
            return
        rows = self.collections.get(collection)
        if rows is None:
            rows = self.collections[collection] = PackedRows()
        row = rows.rows.get(row_id)
        if row is None and isinstance(fields, dict_items):
            values = fields.mapping
            names = tuple(values)
            if names == rows.names or rows.fits_in_order(names):
                # A new row written whole: its registers in the order of its fields.
                rows.rows[row_id] = [Packed(hlc, 0, seq, value, 0) for value in values.values()]
                self.count += len(names)
                return
        if row is None:
            row = rows.rows[row_id] = []
        self._write_row(rows, row, fields, hlc, seq)

    def _write_fields(self, fields: Collection[tuple[str, Any]], hlc: int, seq: int) -> None:
        own = self.fields
        for name, value in fields:
            current = own.get(name)
            if _later(current, hlc, seq):
                self.count += current is None
                own[name] = Packed(hlc, 0, seq, value, 0)

    def _write_row(self, rows: PackedRows, row: list[Packed | None],
                   fields: Collection[tuple[str, Any]], hlc: int, seq: int) -> None:
        for name, value in fields:
            place = rows.slot(row, name)
            current = row[place]
            if _later(current, hlc, seq):
                self.count += current is None
                row[place] = Packed(hlc, 0, seq, value, 0)

    def encode(self) -> bytes:
        """The registers, packed as ``pack_registers`` packs them."""
        return encode_packed(self.count, [self.actor] if self.count else [], self.fields,
                             self.collections)


def _later(current: Packed | None, hlc: int, seq: int) -> bool:
    """Whether an op stamped ``(hlc, seq)`` wins over ``current`` (one device: its stamp is
    ``(hlc, seq)``)."""
    return current is None or (current.hlc, current.seq) < (hlc, seq)
