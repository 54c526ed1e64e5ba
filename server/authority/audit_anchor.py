"""Signed checkpoints of the audit log: what makes cutting off its newest entries visible.

The hash chain catches an entry changed, removed from the middle or moved, but not the newest
ones cut off: what is left is still a chain. As transparency logs do (RFC 9162's signed tree
heads, the signed notes of Go's checksum database), the registry signs checkpoints (the newest
entry's number and hash, the time) with its registry key and hands them out: on
``GET /v1/audit/checkpoint``, to every tablet that syncs, to supervisors. Whoever keeps one can
show later that the log once reached that entry with that hash, and ``field-sync audit verify``
checks the log against the newest checkpoint the registry recorded and against any one given
to it.

A checkpoint is signed on demand, when the log has grown since the newest one, and at most one
in ``audit_checkpoint_interval_ms`` (a second by default): never per push, as a checkpoint
covers any number of entries, and each one signed is a write (an fsync on SQLite, where writers
queue). Issuing one is not itself audited: an entry for it would move the head it signs. The
registry refuses to sign a checkpoint for a log that no longer reaches its newest one: it would
be signing the cut.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlmodel import Session, col, select

from field_sync.key_handover import signed_form
from field_sync.registry_pin import RegistryPin
from field_sync.signing import sign_canonical
from schemas.signing import AuditCheckpoint, KeyHandover
from server.authority.audit import GENESIS, AuditBreak
from server.authority.keys import RegistryKeys
from server.data.database import Database
from server.data.tables import AuditCheckpointRow, AuditEntryRow, ChangeCounter

__all__ = ["AuditLogCut", "check_checkpoint", "current_checkpoint", "newest_checkpoint"]


class AuditLogCut(RuntimeError):
    """The audit log no longer reaches a checkpoint the registry signed."""


# Read as plain rows on the session's connection: every sync asks for a checkpoint.
_HEAD = select(AuditEntryRow.seq, AuditEntryRow.hash).order_by(
    col(AuditEntryRow.seq).desc()).limit(1)
_NEWEST = sa.select(*(col(getattr(AuditCheckpointRow, name))
                     for name in AuditCheckpoint.__struct_fields__)).order_by(
    col(AuditCheckpointRow.seq).desc()).limit(1)
_COUNTER = ChangeCounter.__table__  # type: ignore[attr-defined]  # SQLModel's table
_LOCK_COUNTER = _COUNTER.select().where(_COUNTER.c.id == 1).with_for_update()


def _head(session: Session) -> tuple[int, str]:
    """The newest entry's number and hash (0 and the genesis hash for an empty log)."""
    newest = session.connection().execute(_HEAD).first()
    return (0, GENESIS) if newest is None else (newest[0], newest[1])


def newest_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The newest checkpoint the registry recorded, if any."""
    row = session.connection().execute(_NEWEST).first()
    return None if row is None else AuditCheckpoint(*row)


def _still_current(newest: AuditCheckpoint, head: tuple[int, str], now_ms: int,
                   interval_ms: int) -> bool:
    """Whether ``newest`` is the one to give: the log has not changed since, or it is too soon
    to sign another."""
    return (newest.seq, newest.head_hash) == head or now_ms - newest.at_ms < interval_ms


def _when(checkpoint: AuditCheckpoint) -> str:
    return dt.datetime.fromtimestamp(checkpoint.at_ms / 1000, dt.UTC).isoformat(
        timespec="seconds")


def _missed(session: Session, checkpoint: AuditCheckpoint) -> AuditBreak | None:
    """Why the log does not reach ``checkpoint`` with the same hash, if it does not."""
    if checkpoint.seq == 0:
        return None if checkpoint.head_hash == GENESIS else AuditBreak(
            0, "the checkpoint of the empty log has another hash than the empty log's")
    entry = session.get(AuditEntryRow, checkpoint.seq)
    if entry is None:
        last = _head(session)[0]
        return AuditBreak(checkpoint.seq, f"the log ends at entry {last}, but the registry "
                          f"signed on {_when(checkpoint)} that it reached entry "
                          f"{checkpoint.seq}: its newest entries were cut off")
    if entry.hash != checkpoint.head_hash:
        return AuditBreak(checkpoint.seq, f"entry {checkpoint.seq} is not the one the registry "
                          f"signed on {_when(checkpoint)}: the log was rewritten up to it")
    return None


def check_checkpoint(session: Session, checkpoint: AuditCheckpoint, pin: RegistryPin,
                     handovers: Sequence[KeyHandover] = ()) -> AuditBreak | None:
    """Why ``checkpoint`` does not hold, if it does not: it must be signed by the pinned
    registry key or one the ``handovers`` lead to from it, and the log must reach its entry
    with the same hash (the chain itself is ``server.authority.audit.verify_chain``'s)."""
    if not pin.signed(checkpoint, handovers):
        return AuditBreak(checkpoint.seq, "the checkpoint is not signed by the registry key")
    return _missed(session, checkpoint)


def _issue(session: Session, keys: RegistryKeys, now_ms: int,
           interval_ms: int) -> AuditCheckpoint:
    # Taking the change counter's row queues this behind every writer (on SQLite the write
    # transaction already does), so the head read next is the committed one and no append
    # moves it before the checkpoint is stored.
    session.connection().execute(_LOCK_COUNTER)
    seq, head_hash = _head(session)
    newest = newest_checkpoint(session)
    if newest is not None:
        if _still_current(newest, (seq, head_hash), now_ms, interval_ms):
            return newest  # another request signed one meanwhile
        if (missed := _missed(session, newest)) is not None:
            raise AuditLogCut(missed.reason)
    unsigned = AuditCheckpoint(seq=seq, head_hash=head_hash, at_ms=now_ms,
                               registry_key=keys.public_pem)
    checkpoint = msgspec.structs.replace(unsigned,
                                         signature=sign_canonical(keys.signing,
                                                                  signed_form(unsigned)))
    session.add(AuditCheckpointRow(**msgspec.structs.asdict(checkpoint)))
    return checkpoint


def current_checkpoint(database: Database, keys: RegistryKeys, now_ms: int,
                       interval_ms: int = 0) -> AuditCheckpoint:
    """A signed checkpoint of the log's newest entry: the newest one recorded while the log has
    not grown since (or while it is younger than ``interval_ms``), else a new one, recorded;
    ``AuditLogCut`` if the log no longer reaches the newest one recorded."""
    with database.read() as session:
        newest = newest_checkpoint(session)
        if newest is not None and _still_current(newest, _head(session), now_ms, interval_ms):
            return newest
    with database.write() as session:
        return _issue(session, keys, now_ms, interval_ms)
