"""page pulls through an index of protocols by assignment, change and id

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:30:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.create_index('ix_protocol_assignment_changed_id',
                              ['assignment_id', 'changed', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_protocol_assignment_id'))


def downgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_protocol_assignment_id'), ['assignment_id'],
                              unique=False)
        batch_op.drop_index('ix_protocol_assignment_changed_id')
