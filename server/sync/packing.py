"""A run of a protocol pushed whole, packed: its registers as the registry stores them.

``pack_run`` gives the very bytes ``NewProtocol.encode`` gives for the same ops merged one by
one (a test holds the two to it): a collection's names in the order first written, a row its
registers in that order, each register ``[hlc, 0, seq, value, 0]`` (the device's place, and the
change number of the push that creates the protocol: ``schemas.packed``). Each value goes in as
the bytes that came, never decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

__all__ = ["Written", "pack_rows", "pack_run"]

Written = tuple[str, str, dict[str, msgspec.Raw], int, int]
"""One op of a run: a map written whole to a row of a collection (both empty: the protocol's
root), its values by name, each as its MessagePack; and the op's hlc and seq."""

_encode = msgspec.msgpack.Encoder().encode


def pack_run(device: str, run: list[Written]) -> bytes:
    """The packed registers of ``run``, all of whose ops ``device`` made; empty when a row's
    names come in an order the collection does not have (``NewProtocol`` then finds each its
    place)."""
    (_, _, root, hlc, seq), *rows = run
    return pack_rows(device, root, hlc, seq, iter(rows))


def pack_rows(device: str, root: dict[str, msgspec.Raw], hlc: int, seq: int,
              rows: Iterator[Written]) -> bytes:
    """``pack_run`` of the creating op (its map, stamp and seq) and ``rows``."""
    fields = {name: (hlc, 0, seq, raw, 0) for name, raw in root.items()}
    count = len(fields)
    collections: dict[str, list[Any]] = {}  # [names, {row: registers}]
    for collection, row, values, hlc, seq in rows:
        names = tuple(values)
        known = collections.get(collection)
        if known is None:
            known = collections[collection] = [names, {}]
        elif names != known[0] and known[0][:len(names)] != names:
            if names[:len(known[0])] != known[0]:
                return b""  # a new order of names: places found one by one
            known[0] = names  # the names known, and new ones after them
        known[1][row] = [(hlc, 0, seq, raw, 0) for raw in values.values()]
        count += len(names)
    return _encode((count, [device], fields, collections))
