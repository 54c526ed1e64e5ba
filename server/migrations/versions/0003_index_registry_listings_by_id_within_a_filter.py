"""index registry listings by id within a filter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A listing filters on one of these columns and pages by id: (column, id) serves both, and
# also every lookup the single-column index served.
_COLUMNS = ('entity_tin', 'inspector_id', 'site_id')


def upgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        for column in _COLUMNS:
            batch_op.drop_index(batch_op.f(f'ix_protocol_{column}'))
            batch_op.create_index(f'ix_protocol_{column}_id', [column, 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        for column in _COLUMNS:
            batch_op.drop_index(f'ix_protocol_{column}_id')
            batch_op.create_index(batch_op.f(f'ix_protocol_{column}'), [column], unique=False)
