"""What an incremental pull sends of a protocol a device holds already: decoded and encoded
once, then taken by every teammate as bytes.

After a push, a team pulls the same protocols, each device from a cursor of its own. A device
that holds a protocol needs every register the registry changed after its cursor, as the op
that wrote it; or, when the protocol was signed after its cursor, the signed state whole. So a
protocol's latest version is decoded once, each register encoded once as the op a page carries
(kept with the change number it won at), and each teammate's page takes, as bytes, those after
its cursor (``Deltas.since``). A version is known by its protocol and change number: a later
push makes a new one, and the old one ages out of the cache (the least recently used of
``size``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import msgspec

from field_sync.paths import DELETED
from schemas.packed import is_packed
from server.sync.documents import StoredState, decode_state

__all__ = ["Delta", "Deltas"]

_encode = msgspec.msgpack.Encoder().encode
_DELETED = DELETED.encode()


@dataclass(frozen=True)
class Delta:
    """One version of a protocol, as pull pages send it."""

    ops: list[tuple[int, msgspec.Raw]]
    """Each register as the op that wrote it, encoded, with the change number it won at."""
    oldest: int
    """The earliest of those change numbers."""
    frozen_since: int
    """The change number of its signature (0: not signed)."""
    whole: msgspec.Raw
    """Its registers as a device that takes it whole takes them, encoded: as stored (packed)
    when no row was ever removed, else flat without the removed rows."""
    whole_is_packed: bool

    def since(self, base: int) -> list[Any]:
        """The encoded ops a device whose cursor is ``base`` needs (``base`` is before the
        signature, if any)."""
        if base < self.oldest:
            return [op for _, op in self.ops]
        return [op for changed, op in self.ops if changed > base]


class Deltas:
    """The versions pull pages sent last, kept encoded (``Delta``)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[str, int], Delta] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, row: StoredState, changed: int) -> Delta:
        """The delta of ``row`` (a protocol row at change number ``changed``), made once."""
        key = (row.id, changed)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        made = _made(row)
        with self._lock:
            self._kept[key] = made
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return made


def _made(row: StoredState) -> Delta:
    state = decode_state(row)
    ops = [(register.changed, msgspec.Raw(_encode(register.as_op(state.id, path))))
           for path, register in state.registers.items()]
    stored = bytes(row.registers)
    packed = is_packed(stored) and _DELETED not in stored
    return Delta(ops, min((changed for changed, _ in ops), default=0), state.frozen_since(),
                 msgspec.Raw(stored if packed else _encode(state.whole_registers())), packed)
