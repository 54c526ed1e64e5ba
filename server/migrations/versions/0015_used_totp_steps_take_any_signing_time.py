"""used one-time-code steps take any signing time

A used time step is a signing time over 30 seconds. The column was a 32-bit integer, which a
signing time past the year 4010 overflows; a signing time is any 64-bit count of milliseconds
on the wire, so the step is a 64-bit integer now. The rows are kept as they are.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('used_totp_step', schema=None) as batch_op:
        batch_op.alter_column('step', existing_type=sa.Integer(), type_=sa.BigInteger(),
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('used_totp_step', schema=None) as batch_op:
        batch_op.alter_column('step', existing_type=sa.BigInteger(), type_=sa.Integer(),
                              existing_nullable=False)
