"""The operator guide, run: the registry started with the systemd unit's own command line and
settings, on PostgreSQL with several workers; the nginx example checked by ``nginx -t``; the
backup and restore drills of ``docs/operators/backup.md`` run as written, against a registry
holding protocols, on SQLite and on PostgreSQL.

Each drill runs in the pass of its database (SQLite's in the SQLite pass, PostgreSQL's when the
suite runs on PostgreSQL), with the page's variables (``FIELD_SYNC_DATA_DIR``, ``BACKUP_DIR``,
``FIELD_SYNC_DB``) set to the test's registry.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from tests.databases import ON_POSTGRES, dispose_database, fresh_database
from tests.doc_blocks import DOCS, README_ADDRESS, titled
from tests.live import complete_protocol, team

DEPLOY = DOCS / "examples" / "deploy"
BACKUP = DOCS / "operators" / "backup.md"
KEYS = DOCS / "operators" / "keys.md"
BIN = Path(sys.prefix) / "bin"
"""Where this environment's ``field-sync`` is, as ``/opt/field-sync/bin`` is in the guide."""


def _drill_env(data_dir: Path, backups: Path, db_url: str) -> dict[str, str]:
    """The environment the guide's commands run in: the page's variables, and the registry's
    tools (``field-sync``; PostgreSQL's client programs) on the path."""
    kept = {name: value for name, value in os.environ.items()
            if not name.startswith("FIELD_SYNC_")}
    tools = [str(BIN), *sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1:]]
    env = {**kept, "PATH": os.pathsep.join([*tools, kept.get("PATH", "")]),
           "FIELD_SYNC_DATA_DIR": str(data_dir), "BACKUP_DIR": str(backups)}
    return {**env, "FIELD_SYNC_DB": db_url} if db_url else env


def _run(block: str, env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _tablet(server: LocalServer, folder: Path, opened: list[Tablet]) -> tuple[str, Tablet]:
    """A newly enrolled tablet of a new assignment, synced once."""
    admin = AdminClient(server.url, server.admin_token)
    try:
        assignment, (tablet,) = team(admin, server, folder, 1, opened)
    finally:
        admin.close()
    return assignment, tablet


def _protocols(tablet: Tablet, assignment: str, numbers: list[str]) -> list[str]:
    """Protocols of these numbers, pushed; their ids."""
    made = [complete_protocol(tablet, assignment, number) for number in numbers]
    assert tablet.sync().ok
    return made


def _drill(server: LocalServer, tmp_path: Path, opened: list[Tablet], database: str) -> str:
    """Two protocols, the backup, a third protocol, the restore drill; the drill's output."""
    env = _drill_env(server.data_dir, tmp_path / "backups", server.db_url)
    assignment, tablet = _tablet(server, tmp_path, opened)
    _protocols(tablet, assignment, ["TR-BACKED-UP-1", "TR-BACKED-UP-2"])
    _run(titled(BACKUP, f"{database}: back up"), env)
    _protocols(tablet, assignment, ["TR-AFTER"])
    return _run(titled(BACKUP, f"{database}: restore drill"), env)


@pytest.mark.e2e
@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's drill runs in the SQLite pass")
def test_the_sqlite_backup_restores_what_was_there(tmp_path: Path, opened: list[Tablet]) -> None:
    """The online backup of a serving registry, restored into a scratch directory: the audit
    chain verifies, and it holds the two protocols backed up, not the one made after."""
    with LocalServer(tmp_path / "data", secrets.token_urlsafe(16)) as server:
        drill = _drill(server, tmp_path, opened, "SQLite")
    assert "audit log intact" in drill
    assert re.search(r"^draft\|2$", drill, re.MULTILINE), drill


@pytest.mark.e2e
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's drill runs when the suite does")
def test_the_postgresql_backup_restores_what_was_there(tmp_path: Path,
                                                       opened: list[Tablet]) -> None:
    """pg_dump of a serving registry, pg_restore into a scratch database beside it: migrations
    at head, the audit chain verifies, and it holds the two protocols backed up, not the one
    made after."""
    url = fresh_database(tmp_path / "data")
    drill_url = url.rsplit("/", 1)[0] + "/registry_drill"
    try:
        with LocalServer(tmp_path / "data", secrets.token_urlsafe(16), db_url=url) as server:
            drill = _drill(server, tmp_path, opened, "PostgreSQL")
    finally:
        dispose_database(drill_url)
        dispose_database(url)
    assert "audit log intact" in drill
    assert re.search(r"^ draft\s*\|\s*2$", drill, re.MULTILINE), drill


def _fingerprint(published: str) -> str:
    """The fingerprint ``sha256sum`` printed, checked to be the one the registry publishes."""
    (fingerprint,) = re.findall(r"^([0-9a-f]{64})  -$", published, re.MULTILINE)
    assert f'"fingerprint":"{fingerprint}"' in published, published
    return fingerprint


@pytest.mark.e2e
@pytest.mark.skipif(ON_POSTGRES, reason="the key's files are the same on either database")
def test_the_key_ceremony_hands_the_registry_over_as_written(tmp_path: Path) -> None:
    """Back up, publish, rotate, restart, check: the key file's fingerprint is the one the
    registry publishes, before and after; a checkpoint signed after the rotation verifies
    under the fingerprint published before; the backup holds both keys and the hand-over."""
    data, token = tmp_path / "data", secrets.token_urlsafe(16)
    with LocalServer(data, token) as server:
        env = {**_drill_env(data, tmp_path / "backups", ""), "FIELD_SYNC_SERVER": server.url}
        _run(titled(KEYS, "registry key: back up"), env)
        old = _fingerprint(_run(titled(KEYS, "registry key: publish"), env, tmp_path))
    assert "handed over" in _run(titled(KEYS, "registry key: rotate"), env)
    with LocalServer(data, token, port=server.port):
        checked = _run(titled(KEYS, "registry key: check the hand-over"),
                       {**env, "OLD_FINGERPRINT": old}, tmp_path)
        new = _fingerprint(_run(titled(KEYS, "registry key: publish"), env, tmp_path))
    assert "audit log intact" in checked and new != old
    assert {path.name for path in (tmp_path / "backups" / "registry-key").iterdir()} == {
        "registry-key.pem", f"registry-key-{old}.pem", f"registry-key-{new}.pem",
        "registry-key-handovers.json"}


class UnitServer(LocalServer):
    """The registry as ``field-sync.service`` starts it: its ``ExecStart`` with the settings
    of ``field-sync.env``, the database and data directory the test's, and a free port."""

    def __init__(self, data_dir: Path, db_url: str) -> None:
        super().__init__(data_dir, admin_token="", db_url=db_url)
        unit = (DEPLOY / "field-sync.service").read_text()
        (self.exec_start,) = re.findall(r"^ExecStart=(.+)$", unit, re.MULTILINE)
        self.settings = dict(re.findall(r"^(FIELD_SYNC_\w+)=(.*)$",
                                        (DEPLOY / "field-sync.env").read_text(), re.MULTILINE))

    def command(self) -> list[str]:
        # The port is a free one, and two workers are the two cores of a test machine.
        command = shlex.split(self.exec_start.replace(README_ADDRESS.split(":")[1],
                                                      str(self.port))
                              .replace("--workers 4", "--workers 2"))
        assert command[0] == "/opt/field-sync/bin/field-sync"
        return [str(BIN / "field-sync"), *command[1:]]

    def environment(self) -> dict[str, str]:
        kept = {name: value for name, value in os.environ.items()
                if not name.startswith("FIELD_SYNC_")}
        return {**kept, **self.settings, "FIELD_SYNC_DB": self.db_url,
                "FIELD_SYNC_DATA_DIR": str(self.data_dir)}


@pytest.fixture
def unit_server(tmp_path: Path) -> Iterator[UnitServer]:
    url = fresh_database(tmp_path / "data")
    server = UnitServer(tmp_path / "data", url)
    try:
        server.start(timeout_s=120)  # workers start one after the other on a busy machine
        server.admin_token = (server.data_dir / "admin-token").read_text().strip()
        yield server
    finally:
        server.stop()
        dispose_database(url)


@pytest.mark.e2e
@pytest.mark.skipif(not ON_POSTGRES, reason="the deployment is on PostgreSQL")
def test_the_systemd_unit_serves_on_postgresql_with_its_workers(
        unit_server: UnitServer, tmp_path: Path, opened: list[Tablet]) -> None:
    """The unit's command line and settings: several workers answer on one port, a tablet
    enrolls and syncs through them, and seals point at the public address set."""
    assert "--workers 4" in unit_server.exec_start
    workers = {httpx.get(f"{unit_server.url}/health", timeout=10).json()["worker"]
               for _ in range(40)}
    assert len(workers) >= 2, workers
    assignment, tablet = _tablet(unit_server, tmp_path, opened)
    (protocol,) = _protocols(tablet, assignment, ["TR-DEPLOYED"])
    admin = AdminClient(unit_server.url, unit_server.admin_token)
    try:
        assert admin.protocol(protocol).protocol.fields["number"] == "TR-DEPLOYED"
    finally:
        admin.close()
    assert tablet.store.get("public_url") == unit_server.settings["FIELD_SYNC_PUBLIC_URL"]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registry.example.uz")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    cert, private = folder / "fullchain.pem", folder / "privkey.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, private


@pytest.mark.database_free
def test_the_nginx_example_passes_nginx_t(tmp_path: Path) -> None:
    """``docs/examples/deploy/nginx.conf`` as a site of a stock nginx, its certificate paths
    pointing at a real certificate: ``nginx -t`` finds the configuration valid."""
    nginx = shutil.which("nginx", path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if nginx is None:
        pytest.fail("nginx is not installed: ./dev installs Debian's (apt-get install nginx)")
    cert, key = _self_signed(tmp_path)
    site = tmp_path / "field-sync.conf"
    site.write_text((DEPLOY / "nginx.conf").read_text()
                    .replace("/etc/letsencrypt/live/registry.example.uz/fullchain.pem", str(cert))
                    .replace("/etc/letsencrypt/live/registry.example.uz/privkey.pem", str(key)))
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                    f"events {{}}\nhttp {{\n    access_log off;\n    include {site};\n}}\n")
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(main)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
