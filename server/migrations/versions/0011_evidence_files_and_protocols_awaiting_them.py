"""evidence files, and signed protocols awaiting them

A protocol's attachment fields name files by their SHA-256; the files travel apart and the
registry keeps them in its blob store. ``blob`` lists the files it holds, checked; a signed
protocol whose files have not all arrived is ``awaiting_evidence`` (a status longer than the
sixteen characters the column took, so it takes 32 now), with a row in ``awaited_blob`` for each
file missing, and is registered when the last one arrives. No protocol had attachments before,
so nothing is filled in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('blob',
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('received_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('device_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('awaited_blob',
    sa.Column('protocol_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('protocol_id', 'sha256')
    )
    with op.batch_alter_table('awaited_blob', schema=None) as batch_op:
        batch_op.create_index('ix_awaited_blob_sha256', ['sha256'], unique=False)
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sqlmodel.sql.sqltypes.AutoString(length=16),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=32),
                              existing_nullable=False)


def downgrade() -> None:
    # A protocol still awaiting its files goes back to what it was before it was signed with
    # them in mind: quarantined, with the reason, so nobody takes it for registered.
    op.execute("UPDATE protocol SET status = 'quarantined', "
               "reasons = 'awaiting evidence files when the registry was downgraded' "
               "WHERE status = 'awaiting_evidence'")
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sqlmodel.sql.sqltypes.AutoString(length=32),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=16),
                              existing_nullable=False)
    with op.batch_alter_table('awaited_blob', schema=None) as batch_op:
        batch_op.drop_index('ix_awaited_blob_sha256')
    op.drop_table('awaited_blob')
    op.drop_table('blob')
