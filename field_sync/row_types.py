"""A map written whole, checked in one call.

A whole-row op, and the root op that creates a protocol, write several fields at once, and
the registry checks each of them. A form makes each collection (and the protocol's own fields)
a msgspec struct whose fields take only what the field's check takes. A good map is then one
``msgspec.convert``, in C, rather than a Python call a value. A map it refuses goes the long
way (``Form.check_op``), which says what is wrong, or takes it after all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from field_sync.errors import InvalidOperation
from field_sync.paths import is_field_name
from field_sync.values import ValueType

__all__ = ["RowType"]


class RowType:
    """What a map written whole to one collection may hold."""

    def __init__(self, fields: Mapping[str, ValueType]) -> None:
        # Only names a path may hold: any other name is unknown to the struct, so the long way
        # refuses it with its own reason.
        kept = [(name, field) for name, field in fields.items() if is_field_name(name)]
        # Attributes by place, so that any field name (a keyword, say) makes a struct.
        self._struct = msgspec.defstruct(
            "Row", [(f"f{place}", kind, msgspec.field(default=None, name=name))
                    for place, (name, (kind, _)) in enumerate(kept)],
            forbid_unknown_fields=True, gc=False)
        self._after = tuple((name, check) for name, (_, check) in kept if check is not None)

    def takes(self, value: dict[str, Any]) -> bool:
        """True if every name of ``value`` is a field of the row and every value is one its
        field takes; False may also mean the long way takes it."""
        try:
            msgspec.convert(value, self._struct)
            for name, check in self._after:
                if name in value:
                    check(value[name])
        except (msgspec.ValidationError, InvalidOperation):
            return False
        return True
