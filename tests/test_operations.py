"""What an operator watches, on a real ``field-sync serve``: its start-up, its JSON log lines
with request ids and no secret in them, its metrics, and readiness apart from liveness."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from client_lib import Tablet
from field_sync.enrollment import parse_enrollment
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas.signing import TotpConfirmation
from server.data.schema import head_revision
from tests.command import field_sync
from tests.databases import dispose_database, execute, fresh_database, query
from tests.live import AUTHENTICATORS, complete_protocol, fresh_code, team

pytestmark = pytest.mark.e2e

METRICS_TOKEN = "scrape-" + secrets.token_urlsafe(16)
WRONG_ADMIN = "wrong-admin-" + secrets.token_urlsafe(16)
PASSWORD = "hunter2-" + secrets.token_urlsafe(8)


@dataclass
class Operated:
    """A registry driven through a day's work, with every secret that crossed its API."""

    server: LocalServer
    request_id: str
    seal: str = ""
    """The seal of the protocol registered."""
    secrets: dict[str, str] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)
    """One-time codes used (six digits: searched for as whole numbers only)."""

    @property
    def log_lines(self) -> list[dict[str, Any]]:
        text = (self.server.data_dir / "server.log").read_text()
        return [msgspec.json.decode(line) for line in text.splitlines() if line.strip()]


def _sign(tablet: Tablet, assignment: str, number: str, code: TotpConfirmation) -> str:
    """Sign a new protocol and sync; its seal."""
    protocol = complete_protocol(tablet, assignment, number)
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    freeze = tablet.sign(protocol, code)
    tablet.sync()
    assert freeze.signed is not None
    return freeze.signed.seal


def _wrong(code: str) -> TotpConfirmation:
    return TotpConfirmation(f"{(int(code) + 1) % 1_000_000:06d}")


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operated]:
    """One signature registered, one quarantined (its signer's attestation lapsed), one refused
    for a wrong one-time code (which locks, at one failure), and requests carrying secrets."""
    folder = tmp_path_factory.mktemp("operated")
    url = fresh_database(folder)
    options = ("--log-format", "json", "--log-level", "debug", "--totp-max-failures", "1",
               "--metrics-token", METRICS_TOKEN)
    with LocalServer(folder / "registry", "admin-" + secrets.token_urlsafe(24), db_url=url,
                     options=options) as server:
        done = Operated(server, "ready-probe-" + secrets.token_hex(6))
        admin = AdminClient(server.url, server.admin_token)
        opened: list[Tablet] = []
        assignment, (tablet,) = team(admin, server, folder, 1, opened)
        assert tablet.inspector is not None
        inspector = tablet.inspector.id
        right = fresh_code(tablet)
        done.seal = _sign(tablet, assignment, "TR-OPS-1", right)
        admin.put_reference("inspector", inspector, {"id": inspector, "full_name": "Lapsed",
                                                     "attested_until": "2020-01-01"})
        second = fresh_code(tablet)
        _sign(tablet, assignment, "TR-OPS-2", second)
        admin.put_reference("inspector", inspector, {"id": inspector, "full_name": "Back",
                                                     "attested_until": "2099-01-01"})
        tablet.sync()
        wrong = _wrong(fresh_code(tablet).code)
        _sign(tablet, assignment, "TR-OPS-3", wrong)
        enrollment = admin.enrollment(inspector)  # a second code: no otpauth URI this time
        httpx.post(f"{server.url}/v1/admin/inspectors", timeout=30, json={"id": "x", "password":
                   PASSWORD}, headers={"Authorization": f"Bearer {WRONG_ADMIN}"})
        httpx.post(f"{server.url}/v1/admin/inspectors", timeout=30, json={
            "id": "x", "full_name": "X", "password": PASSWORD},
            headers={"Authorization": f"Bearer {server.admin_token}"})
        httpx.get(f"{server.url}/nowhere", timeout=30,
                  headers={"Authorization": f"Bearer {tablet.store.get('token')}"})
        httpx.get(f"{server.url}/ready", headers={"X-Request-Id": done.request_id}, timeout=30)
        done.secrets = {
            "admin token": server.admin_token, "metrics token": METRICS_TOKEN,
            "wrong admin token": WRONG_ADMIN, "password": PASSWORD,
            "device token": tablet.store.get("token"),
            "device token's secret": tablet.store.get("token").partition(".")[2],
            "enrollment code": enrollment.code,
            "TOTP secret": AUTHENTICATORS[inspector].secret,
            "registry key": (folder / "registry" / "registry-key.pem").read_text().splitlines()[1],
            "secret key": (folder / "registry" / "secret-key").read_text().strip()}
        done.codes = [right.code, second.code, wrong.code]
        for opened_tablet in opened:
            opened_tablet.close()
        admin.close()
        yield done
    dispose_database(url)


def test_a_registry_without_a_public_url_says_where_seals_point(operated: Operated) -> None:
    (line,) = [line for line in operated.log_lines if "public URL" in line["event"]]
    assert line["level"] == "warning"
    assert f"{operated.server.url}/V/" in line["event"]


def test_every_log_line_is_one_json_object_from_one_logger(operated: Operated) -> None:
    lines = operated.log_lines
    assert {"field_sync.server", "field_sync.access", "uvicorn.error",
            "alembic.runtime.migration"} <= {line["logger"] for line in lines}
    for line in lines:
        assert {"event", "level", "timestamp", "logger"} <= line.keys(), line


def test_every_line_a_request_causes_carries_its_id(operated: Operated) -> None:
    lines = operated.log_lines
    started = next(index for index, line in enumerate(lines)
                   if line["event"] == "Application startup complete.")
    serving = lines[started + 1:]
    assert serving and all("request_id" in line for line in serving if
                           not line["event"].startswith("Uvicorn running")), serving
    probe = [line for line in serving if line.get("request_id") == operated.request_id]
    assert [line["logger"] for line in probe][-1] == "field_sync.access"
    assert len(probe) >= 2  # the migration check's lines, then the request's own
    response = httpx.get(f"{operated.server.url}/nowhere", timeout=30)
    assert response.status_code == 404
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])


def test_no_secret_reaches_the_log(operated: Operated) -> None:
    log = (operated.server.data_dir / "server.log").read_text()
    assert len(log.splitlines()) > 25  # debug level: the test has something to search
    for name, secret in operated.secrets.items():
        assert secret and secret not in log, name
    for code in operated.codes:
        assert not re.search(rf"(?<![\d.]){code}(?!\d)", log), code
    assert "otpauth" not in log


def scrape(server: LocalServer, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]],
                                                   float]:
    response = httpx.get(f"{server.url}/metrics", timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def test_metrics_need_a_token(operated: Operated) -> None:
    for headers in ({}, {"Authorization": f"Bearer {WRONG_ADMIN}"}):
        response = httpx.get(f"{operated.server.url}/metrics", headers=headers, timeout=30)
        assert response.status_code == 401
    assert scrape(operated.server, operated.server.admin_token)


def test_metrics_count_what_the_registry_did(operated: Operated) -> None:
    samples = scrape(operated.server, METRICS_TOKEN)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("field_sync_ops_total", status="accepted", code="") > 10
    assert value("field_sync_ops_total", status="rejected", code="totp_invalid") == 1
    assert value("field_sync_totp_failures_total", code="totp_invalid") == 1
    assert value("field_sync_totp_locked_inspectors") == 1
    assert value("field_sync_protocols", status="registered") == 1
    assert value("field_sync_protocols", status="quarantined") == 1
    assert value("field_sync_quarantined_protocols", rule="1", code="attestation_lapsed") == 1
    assert value("field_sync_pull_pages_total") >= 4
    assert value("field_sync_pull_bytes_total") > 1000
    assert value("field_sync_devices_seen_24h") == 1
    pushes = [labels for (name, labels), count in samples.items()
              if name == "field_sync_requests_total" and ("path", "/v1/push") in labels]
    assert pushes and all(("method", "POST") in labels for labels in pushes)
    assert any(name == "field_sync_request_duration_seconds_bucket" and
               ("path", "/v/{seal:str}") not in labels for name, labels in samples)
    assert ("field_sync_db_pool_size", (("pool", "writer"),)) in samples
    assert ("field_sync_db_connections_in_use", (("pool", "writer"),)) in samples


# -- liveness and readiness, in process --------------------------------------------------------


async def test_liveness_asks_nothing_of_the_database_and_readiness_does(
        client: AsyncTestClient, tmp_path: Path) -> None:  # type: ignore[type-arg]
    assert (await client.get("/ready")).json() == {
        "status": "ready", "checks": {"keys": "ok", "database": "ok", "migrations": "ok"}}
    database = client.app.state.registry.database
    reader, writer = database.reader, database.writer
    database.reader = database.writer = create_engine(f"sqlite:///{tmp_path}/none/there.db")
    try:
        assert (await client.get("/health")).status_code == 200
        response = await client.get("/ready")
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "unreachable"
    finally:
        database.reader, database.writer = reader, writer


async def test_readiness_waits_for_the_migrations(
        client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    assert (await client.get("/ready")).status_code == 200
    writer = client.app.state.registry.database.writer
    with writer.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        response = await client.get("/ready")
        assert response.status_code == 503
        assert response.json()["checks"]["migrations"] == f"at 0001, not {head_revision()}"
        assert (await client.get("/health")).status_code == 200
    finally:
        with writer.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"),
                               {"head": head_revision()})


# -- the operator's commands, against this registry --------------------------------------------

_HALF_BLOCKS = {"█": (0, 0), "▄": (1, 0), "▀": (0, 1), "\xa0": (1, 1), " ": (1, 1)}
"""What each character of a QR printed off a terminal stands for: (top, bottom) dark."""


def read_printed_qr(lines: list[str]) -> str:
    """Decode a QR code printed in half blocks, as a phone would read it off the screen."""
    import zxingcpp
    from PIL import Image

    rows = []
    for line in lines:
        pairs = [_HALF_BLOCKS[character] for character in line]
        rows += [[255 - 255 * top for top, _ in pairs], [255 - 255 * bottom for _, bottom in pairs]]
    image = Image.new("L", (len(rows[0]), len(rows)))
    image.putdata([pixel for row in rows for pixel in row])
    found = zxingcpp.read_barcodes(image.resize((image.width * 6, image.height * 6),
                                                Image.Resampling.NEAREST))
    assert found, "no QR code in what was printed"
    return str(found[0].text)


def _qr_blocks(output: str) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in output.splitlines():
        if line and set(line) <= set(_HALF_BLOCKS):
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def test_an_operator_enrolls_assigns_and_revokes_from_a_shell(operated: Operated) -> None:
    server = operated.server
    env = {"FIELD_SYNC_SERVER": server.url, "FIELD_SYNC_ADMIN_TOKEN": server.admin_token}
    inspector = "insp-shell-" + secrets.token_hex(3)
    added = field_sync("admin", "inspector", "add", inspector, "--name", "Aziz Karimov",
                       "--attested-until", "2030-12-31", env=env)
    assert added.returncode == 0, added.stderr
    issued = field_sync("admin", "enroll-code", inspector, env=env)
    assert issued.returncode == 0, issued.stderr
    code = re.search(r"Enrollment code for \S+: (\S+)", issued.stdout)
    assert code is not None
    (uri,) = [line for line in issued.stdout.splitlines() if line.startswith("otpauth://")]
    code_qr, uri_qr = _qr_blocks(issued.stdout)
    scanned = read_printed_qr(code_qr)  # the registry's address with the code
    assert parse_enrollment(scanned) == (server.url, code.group(1))
    assert scanned in issued.stdout.splitlines()
    assert read_printed_qr(uri_qr) == uri
    again = field_sync("admin", "enroll-code", inspector, env=env)
    assert "otpauth://" not in again.stdout and len(_qr_blocks(again.stdout)) == 1
    assigned = field_sync("admin", "assign", "as-shell", "--title", "Market scales",
                          "--inspector", inspector, env=env)
    assert assigned.returncode == 0, assigned.stderr
    tablet = Tablet(server.data_dir.parent / f"{inspector}.sqlite", b"passphrase")
    try:
        tablet.enroll(scanned)  # all the tablet is told
        assert tablet.sync().ok
        revoked = field_sync("admin", "revoke-device", tablet.device_id, env=env)
        assert revoked.returncode == 0, revoked.stderr
        assert not tablet.sync().ok
    finally:
        tablet.close()


def test_a_lower_cased_seal_is_read_as_it_was_printed(operated: Operated) -> None:
    """A phone's camera app may hand the seal's URL on in lower case."""
    result = field_sync("verify", operated.seal.lower(), "--server", operated.server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GENUINE" in result.stdout and "TR-OPS-1" in result.stdout


def test_a_refusal_is_one_line_and_exit_1(operated: Operated) -> None:
    demo = field_sync("demo", "--server", operated.server.url, "--admin-token", WRONG_ADMIN)
    assert (demo.returncode, demo.stderr.count("\n")) == (1, 1), demo.stderr
    assert "refused" in demo.stderr and "not_admin" in demo.stderr
    assert WRONG_ADMIN not in demo.stderr
    missing = field_sync("admin", "revoke-device", "no-such-device", "--server",
                         operated.server.url, "--admin-token", operated.server.admin_token)
    assert (missing.returncode, missing.stderr.count("\n")) == (1, 1), missing.stderr
    assert "unknown_device" in missing.stderr


def test_a_device_s_last_contact_is_kept_to_the_hour(operated: Operated) -> None:
    """A device's request moves its last contact only when the one kept is an hour old: a
    write an hour a device, not one a request."""
    server, token = operated.server, operated.secrets["device token"]
    device = token.partition(".")[0]
    hour_ms = 3600 * 1000

    def contact(last_seen_ms: int) -> int:
        execute(server.db_url, "UPDATE device SET last_seen_ms = :at WHERE id = :id",
                at=last_seen_ms, id=device)
        # Written behind the registry's back: move the generation its processes read, as the
        # registry's own writes of devices do, so that they read the device again.
        execute(server.db_url, "UPDATE credentials_generation SET value = value + 1")
        pulled = httpx.get(f"{server.url}/v1/pull", timeout=30,
                           headers={"Authorization": f"Bearer {token}"})
        assert pulled.status_code == 200, pulled.text
        ((last_seen,),) = query(server.db_url, "SELECT last_seen_ms FROM device WHERE id = :id",
                                id=device)
        return int(last_seen)

    now_ms = time.time_ns() // 1_000_000
    assert contact(now_ms - hour_ms // 2) == now_ms - hour_ms // 2
    assert contact(now_ms - 2 * hour_ms) >= now_ms


def test_devices_seen_are_counted_from_the_database(operated: Operated) -> None:
    """Every worker, and a restarted registry, counts the same devices: those whose last
    contact, as the database keeps it, is less than a day old."""
    server = operated.server

    def seen() -> float:
        return scrape(server, METRICS_TOKEN)[("field_sync_devices_seen_24h", ())]

    server.stop()  # what this process counted is gone; the database is not
    server.start()
    assert seen() >= 1
    server.stop()
    day_ago = time.time_ns() // 1_000_000 - 25 * 3600 * 1000
    execute(server.db_url, "UPDATE device SET last_seen_ms = :at", at=day_ago)
    server.start()
    assert seen() == 0
