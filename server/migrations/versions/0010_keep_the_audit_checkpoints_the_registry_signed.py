"""keep the audit checkpoints the registry signed: the log must always reach the newest one

A checkpoint is the registry's signed word that its audit log reached an entry with a hash;
tablets, supervisors and exports keep them. The registry keeps every one it issued too, so
that it can tell, and ``audit verify`` can say, when its log is shorter than one of them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_checkpoint',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('head_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('registry_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )


def downgrade() -> None:
    op.drop_table('audit_checkpoint')
