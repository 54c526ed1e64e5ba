"""The audit log: every registry state change chained by hashes, anchored by checkpoints the
registry signs; tampering is named, and so is cutting off its newest entries."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import click
import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session

from client_lib import Tablet
from field_sync.keys import key_fingerprint, public_key_pem
from field_sync.registry_pin import RegistryPin
from field_sync.signing import sign_canonical
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.audit_command import run_audit_verify
from field_sync_cli.errors import translate
from field_sync_cli.local_server import LocalServer
from schemas.signing import AuditCheckpoint
from server.authority.audit import append
from server.authority.audit_anchor import current_checkpoint
from server.authority.keys import RegistryKeys, read_registry_public_key
from server.data.database import Database
from server.sync.oplog import pack, unpack
from tests.databases import copy_database, dispose_database, execute, fresh_database, query
from tests.live import PASSPHRASE, complete_protocol, fresh_code, team, wrong_code

JSON = {"Accept": "application/json"}
INTERVAL = "FIELD_SYNC_AUDIT_CHECKPOINT_INTERVAL_MS"
IMPORTED = b"\n".join([
    b'{"kind": "entity", "tin": "301245678", "name": "Toshkent un kombinati"}',
    b'{"kind": "site", "id": "site-audit", "entity_tin": "301245678", "name": "Mill", '
    b'"lat": "41.3", "lon": "69.2", "radius_m": "200"}',
    b'{"kind": "instrument", "id": "std-audit", "type": "weights", "serial": "W-1", '
    b'"verified_until": "2099-12-31"}'])

EXPECTED_ACTIONS = {
    # action: who did it
    "templates_installed": "registry", "inspector_created": "admin", "inspector": "admin",
    "enrollment_code": "admin", "enrolled": "device", "assignment": "admin",
    "entity": "admin", "site": "admin", "instrument": "admin", "imported": "admin",
    "push": "device", "registered": "device", "totp_failed": "device", "totp_locked": "device",
    "supervisor": "admin", "annulled": "supervisor", "key_rotated": "device",
    "key_revoked": "admin", "device_revoked": "admin",
}
"""Every kind of state change the scripted session below makes."""


@dataclass(frozen=True)
class Audited:
    """A registry after a session of every admin, device and supervisor action, stopped."""

    url: str
    folder: Path
    server: LocalServer
    log: list[dict[str, object]]
    """The audit log as ``GET /v1/supervisor/audit`` gave it."""
    kept: AuditCheckpoint
    """The checkpoint a supervisor fetched and kept at the end."""
    tablet_file: Path
    protocol: str
    """A protocol signed, registered and annulled."""


def _session(server: LocalServer, folder: Path, opened: list[Tablet]) -> tuple[str, Path]:
    """Every kind of state change, through the API as each party makes it."""
    admin = AdminClient(server.url, server.admin_token)
    admin_headers = {**JSON, "Authorization": f"Bearer {server.admin_token}"}
    assignment, (a, b) = team(admin, server, folder, 2, opened)
    imported = httpx.post(f"{server.url}/v1/admin/import", params={"format": "jsonl"},
                          content=IMPORTED, headers=admin_headers, timeout=30)
    assert imported.status_code == 200 and imported.json()["stored"] == 3, imported.text

    protocol = complete_protocol(a, assignment, "TR-AUDIT-1")
    with a.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    a.sign(protocol, fresh_code(a))
    assert a.sync().ok and a.status(protocol)[0] == "registered"
    wrong = complete_protocol(b, assignment, "TR-AUDIT-2")
    with b.edit(wrong) as edit:
        edit.set("conclusion", "compliant")
    for _ in range(5):  # the fifth wrong code locks the inspector's codes out
        b.sign(wrong, wrong_code(b))
        assert b.sync().ok

    appointed = httpx.post(f"{server.url}/v1/admin/supervisors/", timeout=30,
                           json={"id": "sup-audit", "full_name": "Supervisor"},
                           headers=admin_headers)
    supervisor = {**JSON, "Authorization": f"Bearer {appointed.json()['token']}"}
    annulled = httpx.post(f"{server.url}/v1/supervisor/protocols/{protocol}/annul",
                          json={"reason": "wrong site"}, headers=supervisor, timeout=30)
    assert annulled.status_code == 200, annulled.text
    old_kid = a.store.get("kid")
    a.rotate_key()
    revoked = httpx.post(f"{server.url}/v1/admin/keys/{old_kid}/revoke", timeout=30,
                         json={"after_ms": 1}, headers=admin_headers)
    assert revoked.status_code == 200, revoked.text
    gone = httpx.post(f"{server.url}/v1/admin/devices/{b.device_id}/revoke",
                      headers=admin_headers, timeout=30)
    assert gone.status_code == 200, gone.text
    assert a.sync().ok  # the tablet keeps the newest checkpoint
    admin.close()
    return protocol, folder / f"{a.inspector.id if a.inspector else ''}.sqlite"


@pytest.fixture(scope="module")
def every_checkpoint() -> Iterator[None]:
    """Registries started here sign a checkpoint whenever their log has grown, not at most one
    a second: what the tests check against is then the log's very head."""
    os.environ[INTERVAL] = "0"
    yield
    del os.environ[INTERVAL]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory,
            every_checkpoint: None) -> Iterator[Audited]:
    folder = tmp_path_factory.mktemp("audited")
    url = fresh_database(folder / "registry")
    opened: list[Tablet] = []
    # A registry of its own, stopped before the copies: nothing writes while they are taken.
    with LocalServer(folder / "registry", secrets.token_urlsafe(16), db_url=url) as server:
        try:
            protocol, tablet_file = _session(server, folder, opened)
        finally:
            for tablet in opened:
                tablet.close()
        log = httpx.get(f"{server.url}/v1/supervisor/audit", params={"limit": 1000},
                        headers={**JSON, "Authorization": f"Bearer {server.admin_token}"},
                        timeout=30).json()
        kept = httpx.get(f"{server.url}/v1/audit/checkpoint", headers=JSON, timeout=30)
        assert kept.status_code == 200, kept.text
    yield Audited(url, folder, server, log, msgspec.json.decode(kept.content,
                                                                  type=AuditCheckpoint),
                  tablet_file, protocol)
    dispose_database(url)


@pytest.fixture
def copy(audited: Audited, tmp_path: Path) -> Iterator[str]:
    """A copy of the audited registry's database, to tamper with."""
    url = copy_database(audited.url, tmp_path / "copy")
    yield url
    dispose_database(url)


@pytest.fixture(autouse=True)
def no_pin_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FIELD_SYNC_REGISTRY_KEY_PIN", "FIELD_SYNC_REGISTRY_KEY"):
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class Outcome:
    """What ``audit verify`` said, and its exit status."""

    returncode: int
    stdout: str
    stderr: str


def audit_verify(url: str, folder: Path, checkpoint: str | None = None,
                 registry_key: str | None = None) -> Outcome:
    """The command's logic, in this process, its errors as the command line ends on them (the
    command line itself is run below too)."""
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            return Outcome(run_audit_verify(url, folder, checkpoint, registry_key),
                           out.getvalue(), "")
        except Exception as exc:  # what the command group turns into one line
            error = exc if isinstance(exc, click.ClickException) else translate(exc)
            assert error is not None, exc
            return Outcome(error.exit_code, out.getvalue(), error.format_message())


def command_line(url: str, folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``field-sync audit verify``, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "field_sync_cli.main", "audit", "verify",
                           "--data-dir", str(folder), "--db", url, *extra],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={name: value for name, value in os.environ.items()
                               if not name.startswith("FIELD_SYNC_REGISTRY_KEY")})


def keyed(audited: Audited, url: str, checkpoint: str | None = None) -> Outcome:
    """``audit verify`` with the registry's data directory, whose key checks checkpoints."""
    return audit_verify(url, audited.folder / "registry", checkpoint)


def kept_file(checkpoint: AuditCheckpoint, folder: Path) -> Path:
    path = folder / "checkpoint.json"
    path.write_bytes(msgspec.json.encode(checkpoint))
    return path


def cut(url: str, entries: int) -> int:
    """Delete the newest ``entries`` audit entries; the newest entry's number left."""
    (last,), = query(url, "SELECT max(seq) FROM audit_entry")
    execute(url, "DELETE FROM audit_entry WHERE seq > :keep", keep=last - entries)
    return int(last) - entries


# -- every state change is audited ------------------------------------------------------------


def test_every_state_change_is_audited(audited: Audited) -> None:
    actions = {str(entry["action"]): str(entry["actor"]).split(":")[0] for entry in audited.log}
    assert actions == EXPECTED_ACTIONS
    failures = [entry for entry in audited.log if entry["action"] == "totp_failed"]
    assert len(failures) == 5
    secretless = " ".join(str(entry["detail"]) for entry in audited.log
                          if entry["action"] in ("enrollment_code", "inspector_created"))
    assert "otpauth" not in secretless and "code_hash" not in secretless


def test_the_kept_checkpoints_are_the_registrys(audited: Audited) -> None:
    """The supervisor's and the tablet's checkpoints are signed by the registry key and name
    the log's newest entry; the audit log of the stopped registry verifies against both."""
    tablet = Tablet(audited.tablet_file, PASSPHRASE)
    try:
        kept = tablet.audit_checkpoint()
    finally:
        tablet.close()
    assert kept is not None and kept == audited.kept
    assert kept.seq == max(int(str(entry["seq"])) for entry in audited.log)
    result = command_line(audited.url, audited.folder / "registry", "--checkpoint",
                          msgspec.json.encode(kept).decode())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"furthest at entry {kept.seq}" in result.stdout


def test_a_checkpoint_is_signed_when_the_log_grew_at_most_once_an_interval(
    db_url: str, tmp_path: Path
) -> None:
    database, keys = Database(db_url), RegistryKeys.load(tmp_path)
    database.create_schema()
    try:
        first = current_checkpoint(database, keys, 10_000, 1000)
        assert current_checkpoint(database, keys, 90_000, 1000) == first  # nothing new since
        with database.write() as session:
            append(session, 1, "admin", "inspector", "i1", {}, Database.next_change(session))
        assert current_checkpoint(database, keys, 10_999, 1000) == first  # too soon
        later = current_checkpoint(database, keys, 11_000, 1000)
        assert (later.seq, later.at_ms) == (first.seq + 1, 11_000)
        assert query(db_url, "SELECT seq FROM audit_checkpoint ORDER BY seq") == [
            (first.seq,), (later.seq,)]
    finally:
        database.dispose()


# -- cutting off the newest entries -----------------------------------------------------------


def test_cutting_off_the_newest_entries_is_caught(audited: Audited, copy: str) -> None:
    """What the chain alone cannot see: the entries left still chain. The checkpoint the
    registry recorded when it signed one names the cut."""
    left = cut(copy, 3)
    result = keyed(audited, copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"ends at entry {left}" in result.stdout and "cut off" in result.stdout


def test_a_kept_checkpoint_catches_a_cut_that_took_the_registrys_checkpoints_too(
    audited: Audited, copy: str, tmp_path: Path
) -> None:
    cut(copy, 3)
    execute(copy, "DELETE FROM audit_checkpoint")
    assert keyed(audited, copy).returncode == 0  # nothing in the registry tells any more
    for given in (str(kept_file(audited.kept, tmp_path)),
                  msgspec.json.encode(audited.kept).decode()):
        result = keyed(audited, copy, given)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "cut off" in result.stdout


def test_a_rewritten_tail_of_the_same_length_is_caught(audited: Audited, copy: str) -> None:
    """Cut, then chained anew up to the same length: only the kept hash tells."""
    left = cut(copy, 3)
    execute(copy, "DELETE FROM audit_checkpoint")
    database = Database(copy)
    with Session(database.writer) as session:
        for seq in range(left + 1, left + 4):
            append(session, 1, "admin", "inspector", f"nobody-{seq}", {}, seq)
        session.commit()
    database.dispose()
    assert keyed(audited, copy).returncode == 0
    result = keyed(audited, copy, msgspec.json.encode(audited.kept).decode())
    assert result.returncode == 1
    assert f"entry {audited.kept.seq} is not the one the registry signed" in result.stdout


def test_a_checkpoint_is_only_the_registry_keys(audited: Audited, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint someone else signed, or one whose content was changed, proves nothing;
    the key to check with is the data directory's, or the one pinned."""
    forger = ec.generate_private_key(ec.SECP256R1())
    unsigned = msgspec.structs.replace(audited.kept, registry_key=public_key_pem(forger),
                                       signature="", seq=audited.kept.seq + 100)
    forged = msgspec.structs.replace(unsigned, signature=sign_canonical(forger, unsigned))
    changed = msgspec.structs.replace(audited.kept, seq=audited.kept.seq + 100)
    for checkpoint in (forged, changed):
        result = keyed(audited, audited.url, str(kept_file(checkpoint, tmp_path)))
        assert result.returncode == 1
        assert "not signed by the registry key" in result.stdout
    pem = read_registry_public_key(audited.folder / "registry" / "registry-key.pem")
    assert pem is not None
    elsewhere = tmp_path / "elsewhere"  # no key file here: the pin says which key
    assert audit_verify(audited.url, elsewhere,
                        registry_key=RegistryPin.of_key(pem).fingerprint).returncode == 0
    assert audit_verify(audited.url, elsewhere,
                        registry_key=key_fingerprint(forger)).returncode == 1
    unkeyed = audit_verify(audited.url, elsewhere)
    assert unkeyed.returncode == 3 and "--registry-key" in unkeyed.stderr
    own_key = str(audited.folder / "registry" / "registry-key.pem")  # the private key file
    assert audit_verify(audited.url, elsewhere, registry_key=own_key).returncode == 0
    monkeypatch.setenv("FIELD_SYNC_REGISTRY_KEY_PIN", RegistryPin.of_key(pem).fingerprint)
    assert audit_verify(audited.url, elsewhere).returncode == 0


# -- what cannot be read ----------------------------------------------------------------------


def test_what_cannot_be_read_exits_3_and_makes_nothing(audited: Audited,
                                                       tmp_path: Path) -> None:
    nothing = tmp_path / "nothing"
    result = audit_verify(f"sqlite:///{nothing / 'field-sync.db'}", nothing)
    assert result.returncode == 3 and "no such database" in result.stderr
    assert not nothing.exists()
    absent = keyed(audited, audited.url, str(tmp_path / "absent.json"))
    assert absent.returncode == 3 and "absent.json: no such file" in absent.stderr
    (tmp_path / "junk.json").write_text('{"seq": "many"}')
    junk = keyed(audited, audited.url, str(tmp_path / "junk.json"))
    assert junk.returncode == 3 and "not an audit checkpoint" in junk.stderr
    for result in (absent, junk):
        assert len(result.stderr.strip().splitlines()) == 1


# -- the registry and the tablet refuse to go back --------------------------------------------


def test_the_registry_signs_no_checkpoint_of_a_cut_log_and_a_tablet_keeps_its_own(
    audited: Audited, copy: str, tmp_path: Path
) -> None:
    cut(copy, 3)
    with LocalServer(tmp_path / "cut", audited.server.admin_token, db_url=copy,
                     port=audited.server.port) as server:
        refused = httpx.get(f"{server.url}/v1/audit/checkpoint", headers=JSON, timeout=30)
        assert refused.status_code == 500
        assert refused.json()["code"] == "audit_log_cut"
        assert "cut off" in refused.json()["detail"]
        # Its own checkpoints gone too, the registry signs the shorter log; the tablet that
        # kept a longer one keeps it.
        execute(copy, "DELETE FROM audit_checkpoint")
        shorter = httpx.get(f"{server.url}/v1/audit/checkpoint", headers=JSON, timeout=30)
        assert shorter.status_code == 200 and shorter.json()["seq"] < audited.kept.seq
        tablet = Tablet(audited.tablet_file, PASSPHRASE)
        try:
            assert tablet.sync().ok
            assert tablet.audit_checkpoint() == audited.kept
        finally:
            tablet.close()


# -- tampering with entries and the op log ----------------------------------------------------


def test_audit_verify_names_the_tampered_entry(audited: Audited, tmp_path: Path) -> None:
    copies: list[str] = []

    def copied(name: str) -> str:
        copies.append(copy_database(audited.url, tmp_path / name))
        return copies[-1]

    protocol = audited.protocol
    try:
        # Someone edits a merged op directly in the database: the push entry no longer holds.
        ops = copied("ops")
        (changed, actor, packed), *_ = query(
            ops, "SELECT changed, actor, ops FROM op_log WHERE doc = :doc", doc=protocol)
        edited = [msgspec.structs.replace(op, hlc=op.hlc + 1)
                  for op in unpack(protocol, actor, packed)]
        execute(ops, "UPDATE op_log SET ops = :ops WHERE doc = :doc AND changed = :changed",
                ops=pack(edited), doc=protocol, changed=changed)
        result = keyed(audited, ops)
        assert result.returncode == 1
        assert "ops it merged were changed" in result.stdout

        # ... or narrows a row's seq range, which would let those ops be logged again.
        seqs = copied("seqs")
        execute(seqs, "UPDATE op_log SET max_seq = min_seq WHERE doc = :doc", doc=protocol)
        result = keyed(audited, seqs)
        assert result.returncode == 1
        assert "ops it merged were changed" in result.stdout

        # Someone rewrites an audit entry's content: its hash no longer holds.
        entries = copied("entries")
        (seq,), = query(entries, "SELECT seq FROM audit_entry WHERE action = 'registered' "
                        "AND subject = :doc", doc=protocol)
        execute(entries, "UPDATE audit_entry SET detail = '{}' WHERE seq = :seq", seq=seq)
        result = keyed(audited, entries)
        assert result.returncode == 1
        assert f"entry {seq}:" in result.stdout

        # Someone deletes an entry: the gap is named.
        gone = copied("gone")
        execute(gone, "DELETE FROM audit_entry WHERE seq = 2")
        result = keyed(audited, gone)
        assert result.returncode == 1 and "entry 2" in result.stdout
    finally:
        for url in copies:
            dispose_database(url)
