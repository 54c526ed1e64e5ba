"""pack the op log: one row a push and protocol instead of one row an op

The ops of one push and protocol become one row, keyed by ``(doc, changed)``, with the device,
the lowest and highest seq, and the ops as MessagePack ``[[seq, path, value, hlc], ...]``. The
row's key replaces ``protocol_push``. A held op's seq becomes 64-bit, as the log's are. Each value's MessagePack bytes are kept as they were, so
the digests earlier push entries of the audit log recorded still hold.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 10:00:00.000000
"""

import logging
from collections.abc import Iterator, Sequence
from itertools import groupby, islice
from typing import Any

import msgspec
import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration.progress")  # shown by db upgrade
_CHUNK = 10_000
_encoder = msgspec.msgpack.Encoder()


def _packed_table(name: str) -> sa.Table:
    return op.create_table(
        name,
        sa.Column('doc', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('changed', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('min_seq', sa.BigInteger(), nullable=False),
        sa.Column('max_seq', sa.BigInteger(), nullable=False),
        sa.Column('ops', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('doc', 'changed'),
    )


def _per_op_table(name: str) -> sa.Table:
    return op.create_table(
        name,
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('doc', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('value', sa.LargeBinary(), nullable=False),
        sa.Column('hlc', sa.BigInteger(), nullable=False),
        sa.Column('changed', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('actor', 'seq'),
    )


def _chunks(statement: str) -> Iterator[Sequence[Any]]:
    """The rows ``statement`` selects, streamed a chunk at a time."""
    # Per statement: a connection's own execution_options() would stream every later one too.
    result = op.get_bind().execute(sa.text(statement).execution_options(stream_results=True))
    yield from result.partitions(_CHUNK)


def _write(table: sa.Table, rows: list[dict[str, Any]], done: int, what: str) -> int:
    op.get_bind().execute(table.insert(), rows)
    _log.info("op log: %d %s", done + len(rows), what)  # progress: a big log takes minutes
    return done + len(rows)


def _rename_primary_key(table: str, old: str) -> None:
    # PostgreSQL keeps a renamed table's key under its old name; SQLite's keys have none.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER INDEX {old}_pkey RENAME TO {table}_pkey')


def _packed_row(key: tuple[str, int, str], ops: list[Sequence[Any]]) -> dict[str, Any]:
    """The packed row of one push and protocol, from its per-op rows in seq order."""
    doc, changed, actor = key
    return {'doc': doc, 'changed': changed, 'actor': actor, 'min_seq': ops[0][3],
            'max_seq': ops[-1][3], 'ops': _encoder.encode(
                [(seq, path, msgspec.Raw(bytes(value)), hlc)
                 for *_, seq, path, value, hlc in ops])}


def upgrade() -> None:
    packed = _packed_table('op_log_packed')
    rows = (row for chunk in _chunks(
        'SELECT doc, changed, actor, seq, path, value, hlc FROM op_log '
        'ORDER BY changed, doc, actor, seq') for row in chunk)
    pushes = (_packed_row(key, list(ops)) for key, ops in groupby(rows, key=lambda row: row[:3]))
    done = 0
    while batch := list(islice(pushes, _CHUNK)):
        done = _write(packed, batch, done, 'rows packed')
    op.drop_table('protocol_push')
    with op.batch_alter_table('op_log', schema=None) as batch_op:
        batch_op.drop_index('ix_op_log_changed_doc')
    op.drop_table('op_log')
    op.rename_table('op_log_packed', 'op_log')
    _rename_primary_key('op_log', 'op_log_packed')
    with op.batch_alter_table('op_log', schema=None) as batch_op:
        batch_op.create_index('ix_op_log_actor_max_seq', ['actor', 'max_seq'], unique=False)
        batch_op.create_index('ix_op_log_changed', ['changed'], unique=False)
    with op.batch_alter_table('held_op', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), type_=sa.BigInteger(),
                              existing_nullable=False)


def downgrade() -> None:
    """Back to one row an op. Push entries that the audit log recorded after the upgrade carry
    the digest of the packed rows, which ``audit verify`` of the earlier release does not read."""
    with op.batch_alter_table('held_op', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), type_=sa.Integer(),
                              existing_nullable=False)
    per_op = _per_op_table('op_log_per_op')
    decoder = msgspec.msgpack.Decoder(list[tuple[int, str, msgspec.Raw, int]])
    done = 0
    for chunk in _chunks('SELECT doc, changed, actor, ops FROM op_log ORDER BY changed, doc'):
        rows = [{'actor': actor, 'seq': seq, 'doc': doc, 'path': path, 'value': bytes(value),
                 'hlc': hlc, 'changed': changed}
                for doc, changed, actor, packed in chunk
                for seq, path, value, hlc in decoder.decode(packed)]
        if rows:
            done = _write(per_op, rows, done, 'ops unpacked')
    op.create_table(
        'protocol_push',
        sa.Column('doc', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('changed', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('doc', 'changed'),
    )
    op.execute('INSERT INTO protocol_push (doc, changed) SELECT doc, changed FROM op_log')
    with op.batch_alter_table('op_log', schema=None) as batch_op:
        batch_op.drop_index('ix_op_log_changed')
        batch_op.drop_index('ix_op_log_actor_max_seq')
    op.drop_table('op_log')
    op.rename_table('op_log_per_op', 'op_log')
    _rename_primary_key('op_log', 'op_log_per_op')
    with op.batch_alter_table('op_log', schema=None) as batch_op:
        batch_op.create_index('ix_op_log_changed_doc', ['changed', 'doc'], unique=False)
