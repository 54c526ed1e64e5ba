"""keep the push that created each protocol

A protocol's registers that won in the push that created it are stored with ``changed`` 0, the
push's number kept once in the row (``created``): so a protocol pushed whole is packed before
the writer's turn, when its change number is not known yet, and stored as it was packed. A
pull sends a device whose cursor is older than ``created`` the protocol whole, as stored. The
column is filled here from the op log (the first push that merged ops into each protocol); the
registers already stored keep their numbers. The downgrade writes the numbers back into the
registers of protocols created since, and drops the column.

Also the credentials' generation, one row counting changes of devices and their keys: each
process keeps credentials and the trust list in memory while it holds.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:00:00.000000
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The packed form as ``schemas.packed`` makes it, which reads a register's ``changed`` of 0 as
# the protocol's ``created`` when told it.
from schemas.packed import is_packed, pack_registers, unpack_registers

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration.progress")  # shown by db upgrade
_CHUNK = 5_000


def upgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    op.execute('UPDATE protocol SET created = COALESCE((SELECT MIN(op_log.changed) FROM op_log '
               'WHERE op_log.doc = protocol.id), 0)')
    op.create_table('credentials_generation',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('value', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.execute('INSERT INTO credentials_generation (id, value) VALUES (1, 0)')


def downgrade() -> None:
    op.drop_table('credentials_generation')
    bind, last, done = op.get_bind(), '', 0
    while chunk := bind.execute(sa.text(
            'SELECT id, registers, created FROM protocol WHERE id > :last AND created > 0 '
            'ORDER BY id LIMIT :chunk'), {'last': last, 'chunk': _CHUNK}).all():
        rows = [{'id': id, 'registers': pack_registers(unpack_registers(registers, created))}
                for id, registers, created in chunk if is_packed(registers)]
        if rows:
            bind.execute(sa.text('UPDATE protocol SET registers = :registers WHERE id = :id'),
                         rows)
        last, done = chunk[-1][0], done + len(chunk)
        _log.info("protocols: %d renumbered", done)  # progress: a big registry takes minutes
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.drop_column('created')
