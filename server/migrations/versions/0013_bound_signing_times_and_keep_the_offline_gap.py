"""bound signing times: each device's latest stamp; and keep each signature's offline gap

A signature may not be dated before an op its device made earlier, so the registry keeps each
device's latest stamp among the ops it holds (merged or kept aside), and the seq of the op that
carries it, read here off the op log and the ops held aside. Supervisors see how long after its
signing time a signature reached the registry: the column is filled here for protocols signed
before, from their receipt's time or, for a quarantined one, from the audit entry that
quarantined it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00.000000
"""

import logging
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration.progress")  # shown by db upgrade
_CHUNK = 5_000
# An op log row's ops, [[seq, path, value, hlc], ...]: only seqs and stamps are read.
_ops = msgspec.msgpack.Decoder(list[tuple[int, msgspec.Raw, msgspec.Raw, int]])


def _latest_stamps() -> dict[str, tuple[int, int]]:
    """Each device's latest stamp among its logged and held ops, with that op's seq."""
    bind, latest = op.get_bind(), {}
    after, done = ('', -1), 0

    def note(actor: str, seq: int, hlc: int) -> None:
        if hlc > latest.get(actor, (0, 0))[0]:
            latest[actor] = (hlc, seq)

    while chunk := bind.execute(sa.text(
            'SELECT doc, changed, actor, ops FROM op_log WHERE doc > :doc OR '
            '(doc = :doc AND changed > :changed) ORDER BY doc, changed LIMIT :chunk'),
            {'doc': after[0], 'changed': after[1], 'chunk': _CHUNK}).all():
        for _, _, actor, ops in chunk:
            for seq, _, _, hlc in _ops.decode(ops):
                note(actor, seq, hlc)
        after, done = (chunk[-1][0], chunk[-1][1]), done + len(chunk)
        _log.info("op log rows: %d read for the devices' latest stamps", done)
    for actor, seq, hlc in bind.execute(sa.text('SELECT actor, seq, hlc FROM held_op')):
        note(actor, seq, hlc)
    return latest


def upgrade() -> None:
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latest_hlc', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('latest_hlc_seq', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offline_gap_ms', sa.BigInteger(), nullable=True))
    latest = _latest_stamps()
    if latest:
        op.get_bind().execute(sa.text(
            'UPDATE device SET latest_hlc = :hlc, latest_hlc_seq = :seq WHERE id = :id'),
            [{'id': actor, 'hlc': hlc, 'seq': seq} for actor, (hlc, seq) in latest.items()])
    op.execute('UPDATE protocol SET offline_gap_ms = (SELECT receipt.registered_at_ms FROM '
               'receipt WHERE receipt.protocol_id = protocol.id) - signed_at_ms '
               'WHERE signed_at_ms > 0')
    op.execute("UPDATE protocol SET offline_gap_ms = (SELECT max(audit_entry.at_ms) FROM "
               "audit_entry WHERE audit_entry.subject = protocol.id AND "
               "audit_entry.action = 'quarantined') - signed_at_ms "
               "WHERE signed_at_ms > 0 AND offline_gap_ms IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.drop_column('offline_gap_ms')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_column('latest_hlc_seq')
        batch_op.drop_column('latest_hlc')
