"""A protocol's registers packed: the form the registry stores them in, sends them whole in, and a
tablet keeps them in.

The flat form, a MessagePack map of path to register, spells out in every register the device
that wrote it and, for a row's field, the row's UUID and the field's name: three quarters of its
bytes. Packed, a protocol's devices are listed once and each register names its device by place
in that list; a collection lists its field names once, and each of its rows is its registers in
that order (nil where the row has none, and ending at its last), under the row's UUID. A
filled protocol takes some 2.5 KB instead of 7.6, and what a registry writes, compresses and
sends, and a tablet writes, shrinks with it:

    [count, [actor, ...], {field: register, ...},
     {collection: [[field, ...], {row: [register or nil, ...]}]}]

where ``register`` is ``[hlc, actor's place, seq, value, changed]`` and ``count`` the number of
registers. ``changed`` is the registry's change number when the register won, or 0 for one that
won in the push that created the protocol (the registry keeps that push's number beside the
registers, and reads them with it: ``unpack_registers(..., created)``; a tablet reads none of
them). Both forms are read (``unpack_registers``): a registry keeps rows it has not packed
yet, and a device too old to read this form is sent the flat one.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from schemas.operations import Register

__all__ = ["PackedRegister", "PackedRows", "array_head", "encode_packed", "is_packed",
           "pack_registers", "register_count", "unpack_registers"]

_FLAT = msgspec.msgpack.Decoder(dict[str, Register])
_encode = msgspec.msgpack.Encoder().encode


class PackedRegister(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A register as packed. Untracked by the garbage collector, as ``Register`` is: a push
    makes tens of thousands, and tuples would have the collector walk them all again and
    again."""

    hlc: int
    actor: Annotated[int, msgspec.Meta(ge=0)]  # a place in the list of actors
    seq: int
    value: Any
    changed: int


class _Collection(msgspec.Struct, array_like=True, frozen=True, gc=False):
    names: list[str]
    rows: dict[str, list[PackedRegister | None]]


class _Registers(msgspec.Struct, array_like=True, frozen=True, gc=False):
    count: int
    actors: list[str]
    fields: dict[str, PackedRegister]
    collections: dict[str, _Collection]


_PACKED = msgspec.msgpack.Decoder(_Registers)
_ARRAY_OF_4 = 0x94  # what a packed form begins with; a flat one is a map
_UNSIGNED_WIDTHS = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}  # uint 8 to uint 64

class PackedRows:
    """One collection's rows in the packed form: its field names in the order first written,
    and each row its registers in that order (None where the row has none, and ending at its
    last), under the row's UUID."""

    __slots__ = ("names", "places", "rows")

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.places: dict[str, int] = {}
        self.rows: dict[str, list[PackedRegister | None]] = {}

    def slot(self, row: list[PackedRegister | None], name: str) -> int:
        """The place of ``name`` in ``row``, given to the name the first time it is written,
        with ``row`` made long enough to hold it."""
        place = self.places.get(name)
        if place is None:
            place = self.places[name] = len(self.names)
            self.names += (name,)
        if place >= len(row):
            row.extend([None] * (place + 1 - len(row)))
        return place

    def fits_in_order(self, names: tuple[str, ...]) -> bool:
        """Whether a row of ``names`` is its registers in that order with nothing between,
        as nearly every new row is: the names are the collection's first ones, or the
        collection's names followed by new ones, which the collection then takes."""
        known = self.names
        if known[:len(names)] == names:
            return True
        if names[:len(known)] != known:
            return False
        for name in names[len(known):]:
            self.places[name] = len(self.names)
            self.names += (name,)
        return True


def encode_packed(count: int, actors: list[str], fields: dict[str, PackedRegister],
                  collections: dict[str, PackedRows]) -> bytes:
    """The packed form of ``count`` registers (see the module's layout)."""
    return _encode((count, actors, fields, {collection: (rows.names, rows.rows)
                                             for collection, rows in collections.items()}))


def pack_registers(registers: dict[str, Register]) -> bytes:
    """``registers`` (path to register) in the packed form."""
    actors: dict[str, int] = {}
    fields: dict[str, PackedRegister] = {}
    collections: dict[str, PackedRows] = {}
    row_prefix: str | None = None
    row: list[PackedRegister | None] = []
    rows = PackedRows()
    device, actor = None, 0
    for path, register in registers.items():
        if register.actor is not device:  # most registers of a protocol are one device's
            device = register.actor
            actor = actors.setdefault(device, len(actors))
        packed = PackedRegister(register.hlc, actor, register.seq, register.value,
                                register.changed)
        prefix, slash, name = path.rpartition("/")
        if not slash:
            fields[name] = packed
            continue
        if prefix != row_prefix:  # a row's fields mostly come one after another
            collection, _, row_id = prefix.partition("/")
            if not row_id or "/" in row_id:
                raise ValueError(f"{path!r} is neither a field nor a row's field")
            if collection not in collections:
                collections[collection] = PackedRows()
            rows = collections[collection]
            row = rows.rows.setdefault(row_id, [])
            row_prefix = prefix
        # ``row[rows.slot(row, name)] = packed``, inline for the usual cases: this runs once
        # a register, and the call would cost more than the rest of it
        place = rows.places.get(name)
        if place == len(row):  # the usual case: a row's fields in the order first written
            row.append(packed)
        elif place is not None and place < len(row):
            row[place] = packed
        else:
            row[rows.slot(row, name)] = packed
    return encode_packed(len(registers), list(actors), fields, collections)


def is_packed(data: bytes | msgspec.Raw) -> bool:
    """Whether stored registers are in the packed form (else they are flat)."""
    view = memoryview(data)
    return len(view) > 0 and view[0] == _ARRAY_OF_4


def unpack_registers(data: bytes, created: int = 0) -> dict[str, Register]:
    """Registers, path to register, from either form; a packed register whose ``changed`` is 0
    won in the push that created the protocol, change number ``created``."""
    if not is_packed(data):
        return _FLAT.decode(data)
    packed = _PACKED.decode(data)
    actors = packed.actors
    registers = {name: Register(r.hlc, actors[r.actor], r.seq, r.value, r.changed or created)
                 for name, r in packed.fields.items()}
    for collection, rows in packed.collections.items():
        names = rows.names
        for row_id, row in rows.rows.items():
            if len(row) > len(names):
                raise ValueError(f"a row of {collection} has more registers than it has names")
            prefix = f"{collection}/{row_id}/"
            for name, r in zip(names, row, strict=False):  # a row may lack the last names
                if r is not None:
                    registers[prefix + name] = Register(r.hlc, actors[r.actor], r.seq, r.value,
                                                        r.changed or created)
    return registers


def register_count(data: bytes | msgspec.Raw) -> int:
    """How many registers stored registers hold, in either form, read off their first bytes:
    the packed form's count, or the size of the flat form's map."""
    view = memoryview(data)
    if is_packed(data):
        return _unsigned(view, 1)
    if 0x80 <= view[0] <= 0x8F:  # fixmap
        return view[0] & 0x0F
    if view[0] in (0xDE, 0xDF):  # map 16, map 32
        return int.from_bytes(view[1:3] if view[0] == 0xDE else view[1:5], "big")
    raise ValueError("not registers in either form")


def _unsigned(view: memoryview, at: int) -> int:
    """The MessagePack unsigned integer at ``at``."""
    head = view[at]
    if head < 0x80:  # positive fixint
        return head
    width = _UNSIGNED_WIDTHS.get(head)
    if width is None:
        raise ValueError("not registers in either form")
    return int.from_bytes(view[at + 1:at + 1 + width], "big")


def array_head(length: int) -> bytes:
    """The MessagePack head of an array of ``length`` items (for arrays built of bytes that
    are MessagePack already)."""
    if length < 16:
        return bytes((0x90 | length,))
    return (b"\xdc" + length.to_bytes(2, "big")) if length < 2**16 else \
        (b"\xdd" + length.to_bytes(4, "big"))
