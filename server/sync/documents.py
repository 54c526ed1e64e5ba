"""How a protocol's merged state is kept in its registry row."""

from __future__ import annotations

from typing import Protocol

import msgspec

from field_sync import DocumentState
from schemas import VersionVector
from schemas.packed import pack_registers, unpack_registers
from server.sync.new_protocol import NewProtocol

__all__ = ["StoredState", "decode_state", "encode_registers", "encode_vector",
           "encode_vector_of"]

_vector_decoder = msgspec.msgpack.Decoder(VersionVector)
_encoder = msgspec.msgpack.Encoder()


class StoredState(Protocol):
    """A protocol row, or a plain row of its ``id``, ``registers``, ``vector`` and
    ``created``."""

    @property
    def id(self) -> str: ...

    @property
    def created(self) -> int: ...

    @property
    def registers(self) -> bytes: ...

    @property
    def vector(self) -> bytes: ...


def decode_state(row: StoredState) -> DocumentState:
    """The merged state stored in ``row``."""
    return DocumentState(row.id, unpack_registers(row.registers, row.created),
                         _vector_decoder.decode(row.vector))


def encode_registers(state: DocumentState | NewProtocol) -> bytes:
    """The stored form of a state's registers: packed."""
    return state.encode() if isinstance(state, NewProtocol) else pack_registers(state.registers)


def encode_vector(state: DocumentState | NewProtocol) -> bytes:
    """The stored form of a state's version vector."""
    return _encoder.encode(state.vector)


def encode_vector_of(actor: str, seq: int) -> bytes:
    """The stored form of the version vector of one device's ops up to ``seq``."""
    return _encoder.encode({actor: seq})
