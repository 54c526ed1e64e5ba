"""Canonical encoding and content hashes.

Hashes and signatures are computed over one byte form, the same on every platform: JSON with
keys sorted, no insignificant white space, strings in Unicode NFC, and no floats at all (measured
values travel as decimal strings). See ``tests/vectors/canonical.json`` for the test vectors an
implementation in another language must reproduce.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import msgspec

from field_sync.errors import EncodingError

__all__ = ["canonical_bytes", "content_hash", "normalize"]

_encoder = msgspec.json.Encoder(order="sorted")
_MAX_DEPTH = 32


def normalize(value: Any, depth: int = 0) -> Any:
    """``value`` with every string in NFC, or ``EncodingError`` if it has no canonical form."""
    if depth > _MAX_DEPTH:
        raise EncodingError("value nests too deeply")
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    if isinstance(value, dict):
        normalized = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError(f"map key {key!r} is not a string")
            normalized[unicodedata.normalize("NFC", key)] = normalize(item, depth + 1)
        return normalized
    if isinstance(value, list | tuple):
        return [normalize(item, depth + 1) for item in value]
    raise EncodingError(f"{type(value).__name__} has no canonical form; use a decimal string")


def canonical_bytes(value: Any) -> bytes:
    """The canonical byte form of ``value``."""
    try:
        return _encoder.encode(normalize(value))
    except UnicodeEncodeError as exc:  # a lone surrogate has no UTF-8 form
        raise EncodingError(f"text that is not valid Unicode: {exc.reason}") from exc


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical form, as lower-case hex."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()
