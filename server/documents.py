"""How a protocol's merged state is kept in its registry row."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Row

from field_sync import DocumentState
from schemas import VersionVector
from schemas.packed import pack_registers, unpack_registers
from server.tables import ProtocolRow

__all__ = ["decode_state", "encode_registers", "encode_vector"]

_vector_decoder = msgspec.msgpack.Decoder(VersionVector)
_encoder = msgspec.msgpack.Encoder()


def decode_state(row: ProtocolRow | Row[Any]) -> DocumentState:
    """The merged state stored in ``row`` (a protocol row, or a plain row of its ``id``,
    ``registers`` and ``vector``)."""
    return DocumentState(row.id, unpack_registers(row.registers),
                         _vector_decoder.decode(row.vector))


def encode_registers(state: DocumentState) -> bytes:
    """The stored form of a state's registers: packed."""
    return pack_registers(state.registers)


def encode_vector(state: DocumentState) -> bytes:
    """The stored form of a state's version vector."""
    return _encoder.encode(state.vector)
