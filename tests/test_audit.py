"""The audit log: every registry state change chained by hashes; tampering is named."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from tests.live import complete_protocol, team, totp_code


def _verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "field_sync_cli.main", "audit", "verify",
                           "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60, check=False)


def _copy(server: LocalServer, folder: Path) -> Path:
    """A consistent copy of the live registry's database (SQLite's online backup)."""
    folder.mkdir()
    with sqlite3.connect(server.data_dir / "field-sync.db") as live, \
            sqlite3.connect(folder / "field-sync.db") as copy:
        live.backup(copy)
    live.close()
    copy.close()
    return folder


def test_audit_verify_passes_then_names_the_tampered_entry(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    protocol = complete_protocol(tablet, assignment, "TR-AUDIT")
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    tablet.sign(protocol, totp_code(tablet))
    assert tablet.sync().ok

    intact = _copy(server, tmp_path / "intact")
    result = _verify(intact)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact" in result.stdout

    # Someone edits a merged op directly in the database: the push entry no longer holds.
    ops = _copy(server, tmp_path / "ops")
    with sqlite3.connect(ops / "field-sync.db") as db:
        db.execute("UPDATE op_log SET hlc = hlc + 1 WHERE doc = ?", (protocol,))
    db.close()
    result = _verify(ops)
    assert result.returncode == 1
    assert "ops it merged were changed" in result.stdout

    # Someone rewrites an audit entry's content: its hash no longer holds.
    entries = _copy(server, tmp_path / "entries")
    with sqlite3.connect(entries / "field-sync.db") as db:
        seq = db.execute("SELECT seq FROM audit_entry WHERE action = 'registered' "
                         "AND subject = ?", (protocol,)).fetchone()[0]
        db.execute("UPDATE audit_entry SET detail = '{}' WHERE seq = ?", (seq,))
    db.close()
    result = _verify(entries)
    assert result.returncode == 1
    assert f"entry {seq}:" in result.stdout

    # Someone deletes an entry: the gap is named.
    gone = _copy(server, tmp_path / "gone")
    with sqlite3.connect(gone / "field-sync.db") as db:
        db.execute("DELETE FROM audit_entry WHERE seq = 2")
    db.close()
    result = _verify(gone)
    assert result.returncode == 1 and "entry 2" in result.stdout
