"""The op log: every op the registry merged, kept as the device sent it.

One row a push and protocol holds that push's ops of that protocol, packed as MessagePack
``[[seq, path, value, hlc], ...]`` in the order they were merged. A push is one device's, so
actor and protocol are said once a row, and a push of 500 protocols writes 500 rows, not one
row an op (13 or so for a filled protocol). The row's key, ``(doc, changed)``, finds a
protocol's ops push by push; ``changed`` alone finds a push's ops, which ``audit verify`` reads;
``(actor, max_seq)`` finds the rows that may hold the seqs a device sends again.

That a device's ``(actor, seq)`` is logged at most once is ingest's to keep: it runs under the
change-number lock, which serializes pushes, and answers an op whose seq is logged
``duplicate`` before it merges anything (``seen_seqs``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from schemas import Op, WholeOp
from server.data.database import Database
from server.data.tables import OpLogRow

__all__ = ["LOG_COLUMNS", "MAX_SEQ", "MAX_STAMP", "insert", "latest_stamp_before", "log_digest",
           "log_rows", "logged_ops", "pack", "pack_whole", "push_ops", "push_rows", "seen_seqs",
           "stored_ops", "unpack"]

MAX_SEQ = 2**62  # seq and stamps live in signed 64-bit columns
"""The highest seq the log takes."""
MAX_STAMP = 2**63 - 1
"""The highest stamp the log takes."""
LOG_COLUMNS = ("doc", "changed", "actor", "min_seq", "max_seq", "ops")
"""The op log's columns, in the order ``log_rows`` gives them."""
LogRow = tuple[str, int, str, int, int, bytes]

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[tuple[int, str, Any, int]])
# The values as the device's MessagePack, undecoded: what a digest covers, and all that finding
# seqs and stamps needs (a row's values are never decoded only to read its seqs).
_stored = msgspec.msgpack.Decoder(list[tuple[int, str, msgspec.Raw, int]])
_seqs = msgspec.msgpack.Decoder(list[tuple[int, msgspec.Raw, msgspec.Raw, int]])


def pack(ops: Sequence[Op]) -> bytes:
    """The ops of one push and protocol, as the ``ops`` column holds them."""
    return _encoder.encode([(op.seq, op.path, op.value, op.hlc) for op in ops])


def unpack(doc: str, actor: str, packed: bytes) -> list[Op]:
    """The ops of one op log row."""
    return [Op(actor, seq, doc, path, value, hlc)
            for seq, path, value, hlc in _decoder.decode(packed)]


def log_rows(changed: int, actor: str,
             merged: dict[str, list[Op]]) -> list[LogRow]:
    """The rows one push adds, one a protocol it merged ops into (in ``LOG_COLUMNS`` order)."""
    rows = []
    for doc, ops in merged.items():
        seqs = [op.seq for op in ops]
        rows.append((doc, changed, actor, min(seqs), max(seqs), pack(ops)))
    return rows


def pack_whole(ops: list[WholeOp]) -> bytes:
    """The ops of a protocol pushed whole, as the ``ops`` column holds them: ``WholeOp`` is
    that form, so ``pack`` of the same ops gives the same bytes."""
    return _encoder.encode(ops)


def insert(session: Session, rows: list[LogRow]) -> None:
    """Add ``log_rows`` to the log."""
    Database.insert_rows(session, OpLogRow, LOG_COLUMNS, rows)


def logged_ops(session: Session, doc: str) -> list[Op]:
    """Every op of ``doc`` the registry ever merged, push by push, as received."""
    rows = session.execute(select(col(OpLogRow.actor), col(OpLogRow.ops))
                           .where(OpLogRow.doc == doc).order_by(col(OpLogRow.changed)))
    return [op for actor, packed in rows for op in unpack(doc, actor, packed)]


def stored_ops(packed: bytes) -> list[tuple[int, str, msgspec.Raw, int]]:
    """``(seq, path, value, hlc)`` of a row's ops, each value as the MessagePack it came in."""
    return _stored.decode(packed)


def push_rows(session: Session, changed: int) -> list[LogRow]:
    """The rows one push added (as ``log_rows`` made them)."""
    rows = session.execute(select_columns(*(col(getattr(OpLogRow, name)) for name in LOG_COLUMNS))
                           .where(col(OpLogRow.changed) == changed))
    return [(doc, changed, actor, low, high, bytes(packed))
            for doc, changed, actor, low, high, packed in rows]


def push_ops(session: Session, changed: int) -> list[Op]:
    """Every op one push merged."""
    return [op for doc, _, actor, _, _, packed in push_rows(session, changed)
            for op in unpack(doc, actor, packed)]


def seen_seqs(session: Session, actor: str, low: int, high: int) -> set[int]:
    """The seqs of ``actor`` between ``low`` and ``high`` that the log holds."""
    rows = session.execute(select(col(OpLogRow.ops)).where(
        OpLogRow.actor == actor, col(OpLogRow.max_seq) >= low, col(OpLogRow.min_seq) <= high))
    return {seq for packed, in rows for seq, *_ in _seqs.decode(packed) if low <= seq <= high}


def latest_stamp_before(session: Session, actor: str, seq: int) -> int:
    """The latest stamp among ``actor``'s logged ops with seqs below ``seq`` (0: none)."""
    rows = session.execute(select(col(OpLogRow.ops)).where(
        OpLogRow.actor == actor, col(OpLogRow.min_seq) < seq))
    return max((hlc for packed, in rows for logged, _, _, hlc in _seqs.decode(packed)
                if logged < seq), default=0)


def log_digest(rows: Iterable[LogRow]) -> str:
    """SHA-256 over one push's op log rows (all but the push's own number), in protocol order:
    what the push's audit entry records, so that a row changed in the log afterwards shows (its
    seq range too, which finding duplicates relies on)."""
    digest = hashlib.sha256()
    for doc, _, actor, low, high, packed in sorted(rows):
        for part in (doc.encode(), actor.encode(), str(low).encode(), str(high).encode(), packed):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()
