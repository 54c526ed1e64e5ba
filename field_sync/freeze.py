"""Signing freezes a protocol.

A freeze records the version vector of the state that was signed and the content hash of its
canonical encoding. The registry's copy of a frozen protocol is exactly that state, rebuilt from
the ops the vector covers and checked against the hash. An op the vector does not cover is never
merged into it: the registry keeps it aside and answers ``protocol_signed``. A correction is a
new protocol that supersedes the old one.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from field_sync.errors import InvalidOperation
from field_sync.paths import FREEZE
from schemas import Op, VersionVector
from schemas.signing import SignedProtocol

__all__ = ["Freeze", "covers", "parse_freeze"]

_HASH = re.compile(r"^[0-9a-f]{64}$")


class Freeze(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The signed state: which ops it holds, the hash of what they make, and the signature."""

    vector: VersionVector
    content_hash: str
    signed: SignedProtocol | None = None
    """The device's signature, confirmation and seal (the registry requires one)."""


def parse_freeze(value: Any) -> Freeze:
    """A freeze from an op's value, or ``InvalidOperation``."""
    try:
        freeze = msgspec.convert(value, Freeze)
    except msgspec.ValidationError as exc:
        raise InvalidOperation(f"bad freeze: {exc}", code="bad_value") from exc
    if not _HASH.match(freeze.content_hash) or not freeze.vector or any(
        seq < 1 for seq in freeze.vector.values()
    ):
        raise InvalidOperation("a freeze needs a SHA-256 hex hash and a non-empty vector",
                               code="bad_value")
    statement = freeze.signed.statement if freeze.signed else None
    if statement is not None and (statement.vector != freeze.vector
                                  or statement.content_hash != freeze.content_hash):
        raise InvalidOperation("the signed statement names another state than the freeze",
                               code="bad_value")
    return freeze


def covers(freeze: Freeze, op: Op) -> bool:
    """True when ``op`` belongs to the frozen state (or is the freeze itself)."""
    return op.seq <= freeze.vector.get(op.actor, 0) or op.path == FREEZE
