"""Operations: every edit of a protocol, as it travels and as it is stored.

An op id is ``(actor, seq)``: ``actor`` is the device, ``seq`` counts up by one per op on that
device, so a server deduplicates for free and a version vector ``{actor: max seq}`` names a state
exactly. ``hlc`` is the hybrid logical clock stamp that orders concurrent writes.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Op", "VersionVector"]

VersionVector = dict[str, int]
"""``{actor: highest seq}``: names a state of a protocol exactly."""


class Op(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False):
    """One edit: set ``path`` of protocol ``doc`` to ``value``.

    ``path`` is a top-level field (``conclusion``), a row field
    (``measurements/<row uuid>/indication``), a whole row (``instruments/<row uuid>``, with a map
    of field values, written together), or one of the meta paths: ``_template`` (creates the
    protocol), ``_assignment`` and ``<collection>/<row uuid>/_deleted`` (removes a row).
    Values are strings, integers, booleans, null, or, for a whole row, a map of them.
    Untracked by the garbage collector (``gc=False``): an op refers to nothing that could
    refer back to it, and batches of tens of thousands would otherwise be walked by it.
    """

    actor: str
    seq: int
    doc: str
    path: str
    value: Any
    hlc: int

    @property
    def id(self) -> tuple[str, int]:
        """The op id ``(actor, seq)``."""
        return (self.actor, self.seq)
