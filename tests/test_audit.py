"""The audit log: every registry state change chained by hashes; tampering is named."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import msgspec

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from server.oplog import pack, unpack
from tests.databases import copy_database, dispose_database, execute, query
from tests.live import complete_protocol, team, totp_code


def _verify(url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "field_sync_cli.main", "audit", "verify",
                           "--data-dir", str(folder), "--db", url],
                          capture_output=True, text=True, timeout=60, check=False)


def test_audit_verify_passes_then_names_the_tampered_entry(
    tmp_path: Path, db_url: str, opened: list[Tablet]
) -> None:
    # A registry of its own, stopped before the copies: nothing writes while they are taken.
    with LocalServer(tmp_path / "registry", secrets.token_urlsafe(16), db_url=db_url) as server:
        admin = AdminClient(server.url, server.admin_token)
        assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
        protocol = complete_protocol(tablet, assignment, "TR-AUDIT")
        with tablet.edit(protocol) as edit:
            edit.set("conclusion", "compliant")
        tablet.sign(protocol, totp_code(tablet))
        assert tablet.sync().ok
        admin.close()

    copies: list[str] = []

    def copy(name: str) -> str:
        copies.append(copy_database(db_url, tmp_path / name))
        return copies[-1]

    try:
        intact = copy("intact")
        result = _verify(intact, tmp_path / "intact")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "intact" in result.stdout

        # Someone edits a merged op directly in the database: the push entry no longer holds.
        ops = copy("ops")
        (changed, actor, packed), *_ = query(
            ops, "SELECT changed, actor, ops FROM op_log WHERE doc = :doc", doc=protocol)
        edited = [msgspec.structs.replace(op, hlc=op.hlc + 1)
                  for op in unpack(protocol, actor, packed)]
        execute(ops, "UPDATE op_log SET ops = :ops WHERE doc = :doc AND changed = :changed",
                ops=pack(edited), doc=protocol, changed=changed)
        result = _verify(ops, tmp_path / "ops")
        assert result.returncode == 1
        assert "ops it merged were changed" in result.stdout

        # ... or narrows a row's seq range, which would let those ops be logged again.
        seqs = copy("seqs")
        execute(seqs, "UPDATE op_log SET max_seq = min_seq WHERE doc = :doc", doc=protocol)
        result = _verify(seqs, tmp_path / "seqs")
        assert result.returncode == 1
        assert "ops it merged were changed" in result.stdout

        # Someone rewrites an audit entry's content: its hash no longer holds.
        entries = copy("entries")
        (seq,), = query(entries, "SELECT seq FROM audit_entry WHERE action = 'registered' "
                        "AND subject = :doc", doc=protocol)
        execute(entries, "UPDATE audit_entry SET detail = '{}' WHERE seq = :seq", seq=seq)
        result = _verify(entries, tmp_path / "entries")
        assert result.returncode == 1
        assert f"entry {seq}:" in result.stdout

        # Someone deletes an entry: the gap is named.
        gone = copy("gone")
        execute(gone, "DELETE FROM audit_entry WHERE seq = 2")
        result = _verify(gone, tmp_path / "gone")
        assert result.returncode == 1 and "entry 2" in result.stdout
    finally:
        for url in copies:
            dispose_database(url)
