"""keep each protocol's latest stamp: what a device that takes it whole has heard

A pull sends a protocol whole as the bytes the registry stores, and with it the protocol's
template, assignment and the latest stamp among its registers, so a device files it without
reading its registers. The stamp is a column, filled here from the registers of every protocol.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 14:00:00.000000
"""

import logging
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration.progress")  # shown by db upgrade
_CHUNK = 5_000


class _Stamp(msgspec.Struct, array_like=True):
    """A stored register's first element, its hybrid clock stamp; the rest is not read."""

    hlc: int


_registers = msgspec.msgpack.Decoder(dict[str, _Stamp])


def upgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latest_hlc', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    bind, last, done = op.get_bind(), '', 0
    while chunk := bind.execute(sa.text(
            'SELECT id, registers FROM protocol WHERE id > :last ORDER BY id LIMIT :chunk'),
            {'last': last, 'chunk': _CHUNK}).all():
        bind.execute(sa.text('UPDATE protocol SET latest_hlc = :latest WHERE id = :id'), [
            {'id': id, 'latest': max((r.hlc for r in _registers.decode(registers).values()),
                                     default=0)}
            for id, registers in chunk])
        last, done = chunk[-1][0], done + len(chunk)
        _log.info("protocols: %d stamped", done)  # progress: a big registry takes minutes


def downgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.drop_column('latest_hlc')
