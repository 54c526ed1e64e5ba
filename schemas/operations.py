"""Operations: every edit of a protocol, as it travels and as it is stored.

An op id is ``(actor, seq)``: ``actor`` is the device, ``seq`` counts up by one per op on that
device, so a server deduplicates for free and a version vector ``{actor: max seq}`` names a state
exactly. ``hlc`` is the hybrid logical clock stamp that orders concurrent writes.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from schemas.bounds import KEY_LENGTH

__all__ = ["PATH_LENGTH", "Op", "Register", "VersionVector"]

PATH_LENGTH = 200

VersionVector = dict[str, int]
"""``{actor: highest seq}``: names a state of a protocol exactly."""


class Op(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False):
    """One edit: set ``path`` of protocol ``doc`` to ``value``.

    ``path`` is a top-level field (``conclusion``), a row field
    (``measurements/<row uuid>/indication``), a whole row (``instruments/<row uuid>``, with a map
    of field values, written together), the protocol itself (``""``, with a map of top-level
    fields: the op that creates a protocol writes ``_template`` and ``_assignment`` there, with
    the first values), or one of the meta paths: ``_template``, ``_assignment``, ``_freeze``
    (signs it) and ``<collection>/<row uuid>/_deleted`` (removes a row).
    Values are strings, integers, booleans, null, or, for a whole row, a map of them.
    ``actor``, ``doc`` and ``path`` are bounded by the registry's columns; what is wrong with
    an op within those bounds (its seq, stamp, value…) is answered for that op alone.
    Untracked by the garbage collector (``gc=False``): an op refers to nothing that could
    refer back to it, and batches of tens of thousands would otherwise be walked by it.
    """

    actor: Annotated[str, msgspec.Meta(max_length=KEY_LENGTH)]
    seq: int
    doc: Annotated[str, msgspec.Meta(max_length=KEY_LENGTH)]
    path: Annotated[str, msgspec.Meta(max_length=PATH_LENGTH)]
    value: Any
    hlc: int

    @property
    def id(self) -> tuple[str, int]:
        """The op id ``(actor, seq)``."""
        return (self.actor, self.seq)


class Register(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The value a field holds and the op that wrote it: a protocol's state is a map of path to
    register (``field_sync.merge``), stored so by the registry and sent so to a device that
    takes a protocol whole.

    Untracked by the garbage collector (``gc=False``): a register never refers back to
    anything that holds it, and a registry holds hundreds of thousands of them while it merges
    a batch, which the collector would otherwise walk again and again."""

    hlc: int
    actor: str
    seq: int
    value: Any
    changed: int = 0
    """The registry's change number when this register won. Only the registry reads it: on a
    device it is 0, except in registers of protocols taken whole (``PullResponse.states``),
    which keep the registry's."""

    @property
    def stamp(self) -> tuple[int, str, int]:
        """The total order of writes: hybrid clock, then actor, then seq."""
        return (self.hlc, self.actor, self.seq)

    def as_op(self, doc: str, path: str) -> Op:
        """This register as the op that writes it (how the registry ships state)."""
        return Op(self.actor, self.seq, doc, path, self.value, self.hlc)
