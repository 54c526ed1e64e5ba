"""A map written whole, checked in one call.

A whole-row op, and the root op that creates a protocol, write several fields at once, and
the registry checks each of them. A form makes each collection (and the protocol's own fields)
a msgspec struct whose fields take only what the field's check takes, with the text forms of
decimals and row ids (``field_sync.shapes``) and the days of dates checked after it. A good map
is then one ``msgspec.convert``, in C, rather than a Python call a value; a map pushed as
MessagePack is read straight into the struct (``read``), and its forms checked with those of
the whole push at once (``RowType.shaped``). A map it refuses goes the long way
(``Form.check_op``), which says what is wrong, or takes it after all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from operator import attrgetter
from types import GenericAlias
from typing import Any

import msgspec

from field_sync.errors import InvalidOperation
from field_sync.paths import is_field_name
from field_sync.shapes import Shape
from field_sync.values import ValueType
from schemas.packed import array_head

__all__ = ["RowType", "Shaped"]

Shaped = dict[Shape, list[Any]]
"""Values to check against their forms, by form (``None`` among them: a cleared field)."""


class RowType:
    """What a map written whole to one collection may hold."""

    def __init__(self, fields: Mapping[str, ValueType]) -> None:
        # Only names a path may hold: any other name is unknown to the struct, so the long way
        # refuses it with its own reason.
        kept = [(name, field) for name, field in fields.items() if is_field_name(name)]
        # Attributes by place, so that any field name (a keyword, say) makes a struct.
        places = {name: f"f{place}" for place, (name, _) in enumerate(kept)}
        self._struct = msgspec.defstruct(
            "Row", [(places[name], field.kind, msgspec.field(default=None, name=name))
                    for name, field in kept], forbid_unknown_fields=True, gc=False)
        self._read = msgspec.msgpack.Decoder(self._struct).decode
        self._read_all = msgspec.msgpack.Decoder(GenericAlias(list, (self._struct,))).decode
        self._after = tuple((name, attrgetter(places[name]), field.check)
                            for name, field in kept if field.check is not None)
        by_shape: dict[Shape, list[str]] = {}
        for name, field in kept:
            if field.shape is not None:
                by_shape.setdefault(field.shape, []).append(places[name])
        self._shaped = tuple((shape, _getter(attributes)) for shape, attributes in
                             by_shape.items())

    def takes(self, value: dict[str, Any]) -> bool:
        """True if every name of ``value`` is a field of the row and every value is one its
        field takes; False may also mean the long way takes it."""
        row = self._convert(value)
        if row is None or not self.checked(row, value):
            return False
        shaped: Shaped = {}
        self.shaped(row, shaped)
        return all(shape.takes(values) for shape, values in shaped.items())

    def _convert(self, value: dict[str, Any]) -> Any:
        try:
            return msgspec.convert(value, self._struct)
        except msgspec.ValidationError:
            return None

    def read(self, raw: bytes | msgspec.Raw, written: Collection[str]) -> Any:
        """A map in MessagePack, whose names are ``written``, as the row's struct, its values
        passing the checks their types leave to their fields (``checked``); None if the struct
        or a check refuses it. Its forms are the caller's to check (``shaped``)."""
        try:
            row = self._read(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        return row if not self._after or self.checked(row, written) else None

    def read_all(self, raws: list[msgspec.Raw]) -> list[Any] | None:
        """Maps in MessagePack as the row's structs, read in one call, each value passing
        the checks their types leave to their fields (all of which take null, so a name not
        written is checked as null); None if the struct or a check refuses any of them."""
        try:
            rows = self._read_all(array_head(len(raws)) + b"".join(raws))
            for _, get, check in self._after:
                for row in rows:
                    check(get(row))
        except (msgspec.ValidationError, msgspec.DecodeError, InvalidOperation):
            return None
        return list(rows)

    def checked(self, row: Any, written: Collection[str]) -> bool:
        """Whether the values of ``row`` (the struct) whose names are ``written`` pass the
        checks their types leave to their fields (a date's day, say); their forms are the
        caller's to check (``shaped``)."""
        try:
            for name, get, check in self._after:
                if name in written:
                    check(get(row))
        except InvalidOperation:
            return False
        return True

    def shaped(self, row: Any, into: Shaped) -> None:
        """Add the values of ``row`` (the struct) that must have a form to ``into``, by form."""
        for shape, get in self._shaped:
            into.setdefault(shape, []).extend(get(row))

    def shaped_all(self, rows: list[Any], into: Shaped) -> None:
        """``shaped`` for many rows at once."""
        for shape, get in self._shaped:
            into.setdefault(shape, []).extend([value for row in rows for value in get(row)])


def _getter(attributes: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of ``attributes`` of an object, always as a tuple."""
    if len(attributes) > 1:
        return attrgetter(*attributes)
    single = attrgetter(attributes[0])
    return lambda row: (single(row),)

