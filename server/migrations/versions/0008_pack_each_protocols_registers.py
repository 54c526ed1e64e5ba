"""pack each protocol's registers: its devices, and each collection's field names, listed once

A protocol's registers were kept as a map of path to register, each naming its device and, for a
row's field, the row's UUID and the field's name in full: three quarters of the bytes. Packed
(``schemas.packed``), a filled protocol takes some 2.5 KB instead of 7.6, and a registry writes,
compresses and sends that much less, as a tablet that keeps them as sent writes that much less.
Every protocol is packed here; the downgrade spreads them out again. Both forms are read, so a
row is never unreadable half way.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:00:00.000000
"""

import logging
from collections.abc import Callable, Sequence

import msgspec
import sqlalchemy as sa
from alembic import op

# The packed form as ``schemas.packed`` makes it: a later change to that form is a migration of
# its own, after this one, which reads both forms as that module does.
from schemas.packed import is_packed, pack_registers, unpack_registers

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration.progress")  # shown by db upgrade
_CHUNK = 5_000


def _flat(registers: bytes) -> bytes:
    return msgspec.msgpack.encode(unpack_registers(registers))


def _rewrite(change: Callable[[bytes], bytes], packed: bool, done_as: str) -> None:
    """Rewrite the registers of every protocol not yet in the form wanted, a chunk at a time."""
    bind, last, done = op.get_bind(), '', 0
    while chunk := bind.execute(sa.text(
            'SELECT id, registers FROM protocol WHERE id > :last ORDER BY id LIMIT :chunk'),
            {'last': last, 'chunk': _CHUNK}).all():
        rows = [{'id': id, 'registers': change(registers)} for id, registers in chunk
                if is_packed(registers) != packed]
        if rows:
            bind.execute(sa.text('UPDATE protocol SET registers = :registers WHERE id = :id'),
                         rows)
        last, done = chunk[-1][0], done + len(chunk)
        _log.info("protocols: %d %s", done, done_as)  # progress: a big registry takes minutes


def upgrade() -> None:
    _rewrite(lambda registers: pack_registers(unpack_registers(registers)), True, "packed")


def downgrade() -> None:
    _rewrite(_flat, False, "spread out")
