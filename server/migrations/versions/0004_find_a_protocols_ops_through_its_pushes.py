"""find a protocol's ops through its pushes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'protocol_push',
        sa.Column('doc', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('changed', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('doc', 'changed'),
    )
    op.execute('INSERT INTO protocol_push (doc, changed) SELECT DISTINCT doc, changed FROM op_log')
    with op.batch_alter_table('op_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_op_log_doc'))
        batch_op.drop_index(batch_op.f('ix_op_log_changed'))
        batch_op.create_index('ix_op_log_changed_doc', ['changed', 'doc'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('op_log', schema=None) as batch_op:
        batch_op.drop_index('ix_op_log_changed_doc')
        batch_op.create_index(batch_op.f('ix_op_log_changed'), ['changed'], unique=False)
        batch_op.create_index(batch_op.f('ix_op_log_doc'), ['doc'], unique=False)
    op.drop_table('protocol_push')
