"""an inspector's position, as the verification page and the printed protocol name them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases: SQLite's batch mode would copy the table and drop the
# old one, which the foreign keys of devices, keys and teams pointing at it refuse.
def upgrade() -> None:
    op.add_column('inspector', sa.Column('position', sqlmodel.sql.sqltypes.AutoString(length=200),
                                         nullable=False, server_default=''))


def downgrade() -> None:
    op.execute('ALTER TABLE inspector DROP COLUMN position')
