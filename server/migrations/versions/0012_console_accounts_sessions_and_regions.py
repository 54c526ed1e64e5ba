"""console accounts, sessions and staged imports; regions on protocols and supervisor tokens

Supervisors and administrators sign in to the console with a password and a one-time code
(``account``); their sessions are kept by the registry (``web_session``), and a reference file
waits there between its report and its commit (``staged_import``). A protocol carries its
site's region, so a supervisor limited to regions reads an index range, newest signed first;
reference records carry the name people search them by; a device, when it was last heard from;
the quarantine queue reads its protocols newest first from (status, signed_at_ms, id).
No protocol had a region before (sites had none), so none is filled in; labels are read off the
reference records.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 5_000


def _label(kind: str, body: bytes) -> str:
    """What ``server.data.reference`` labels a record of ``kind`` with (as of this revision)."""
    record = msgspec.msgpack.decode(body)
    if not isinstance(record, dict):
        return ''
    if kind == 'instrument':
        return f"{record.get('type', '')} {record.get('serial', '')}".strip().casefold()[:300]
    return str(record.get('name', '')).casefold()[:300]


def _create_tables() -> None:
    op.create_table('account',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('regions', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('totp_secret', sa.LargeBinary(), nullable=True),
    sa.Column('last_totp_step', sa.BigInteger(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until_ms', sa.BigInteger(), nullable=False),
    sa.Column('invitation_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('invitation_expires_ms', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('disabled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_invitation_hash'), ['invitation_hash'],
                              unique=False)
    op.create_table('web_session',
    sa.Column('id_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_session_expires_at_ms'), ['expires_at_ms'],
                              unique=False)
    op.create_table('staged_import',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staged_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staged_import_created_at_ms'), ['created_at_ms'],
                              unique=False)


def _label_references() -> None:
    bind, last = op.get_bind(), ('', '')
    while chunk := bind.execute(sa.text(
            'SELECT kind, key, body FROM reference WHERE kind > :kind OR (kind = :kind AND '
            'key > :key) ORDER BY kind, key LIMIT :chunk'),
            {'kind': last[0], 'key': last[1], 'chunk': _CHUNK}).all():
        rows = [{'kind': kind, 'key': key, 'label': _label(kind, body)}
                for kind, key, body in chunk]
        if labelled := [row for row in rows if row['label']]:
            bind.execute(sa.text('UPDATE reference SET label = :label WHERE kind = :kind AND '
                                 'key = :key'), labelled)
        last = (chunk[-1][0], chunk[-1][1])


def upgrade() -> None:
    _create_tables()
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_ms', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('supervisor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('regions', sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=False, server_default=''))
    with op.batch_alter_table('reference', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=300),
                                      nullable=False, server_default=''))
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_actor_seq', ['actor', 'seq'], unique=False)
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=100),
                                      nullable=False, server_default=''))
        batch_op.drop_index(batch_op.f('ix_protocol_signed_at_ms'))
        batch_op.create_index('ix_protocol_signed_at_ms_id', ['signed_at_ms', 'id'],
                              unique=False)
        batch_op.create_index('ix_protocol_region_signed_at_ms_id',
                              ['region', 'signed_at_ms', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_protocol_status'))
        batch_op.create_index('ix_protocol_status_signed_at_ms_id',
                              ['status', 'signed_at_ms', 'id'], unique=False)
    _label_references()


def downgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.drop_index('ix_protocol_status_signed_at_ms_id')
        batch_op.create_index(batch_op.f('ix_protocol_status'), ['status'], unique=False)
        batch_op.drop_index('ix_protocol_region_signed_at_ms_id')
        batch_op.drop_index('ix_protocol_signed_at_ms_id')
        batch_op.create_index(batch_op.f('ix_protocol_signed_at_ms'), ['signed_at_ms'],
                              unique=False)
        batch_op.drop_column('region')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_actor_seq')
    for table, column in (('reference', 'label'), ('supervisor', 'regions'),
                          ('device', 'last_seen_ms')):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
    for table in ('staged_import', 'web_session', 'account'):
        op.drop_table(table)
