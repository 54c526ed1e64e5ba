"""Corrections, annulments, supervisors, registry queries and export, against a real server."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from tests.live import TEMPLATE, complete_protocol, fresh_code, pulled_receipts, team


def _signed(tablet: Tablet, assignment: str, number: str, **fields: str) -> tuple[str, str]:
    """A complete protocol, signed and synced; its id and seal."""
    protocol = complete_protocol(tablet, assignment, number)
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
        for name, value in fields.items():
            edit.set(name, value)
    freeze = tablet.sign(protocol, fresh_code(tablet))
    assert tablet.sync().ok and tablet.status(protocol)[0] == "registered"
    assert freeze.signed is not None
    return protocol, freeze.signed.seal


def _verdict(server: LocalServer, seal: str) -> dict[str, str]:
    body: dict[str, str] = httpx.get(f"{server.url}/v1/verify/{seal.rsplit('/', 1)[-1]}",
                                     headers={"Accept": "application/json"}).json()
    return body


@pytest.fixture
def supervisor(admin: AdminClient, server: LocalServer) -> dict[str, str]:
    name = f"sup-{dt.datetime.now(dt.UTC).timestamp():.0f}-{id(admin)}"
    answer = httpx.post(f"{server.url}/v1/admin/supervisors/", json={
        "id": name, "full_name": "Supervisor"}, headers={
        "Authorization": f"Bearer {server.admin_token}", "Accept": "application/json"})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}", "Accept": "application/json"}


def test_a_correction_supersedes_and_an_annulment_annuls(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet],
    supervisor: dict[str, str],
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    original, old_seal = _signed(tablet, assignment, "TR-CORR-1")
    correction = tablet.create_protocol(
        TEMPLATE, assignment, {**tablet.protocol(original).fields, "number": "TR-CORR-2"},
        supersedes=original)
    with tablet.edit(correction) as edit:
        edit.add_row("instruments", {"type": "scale", "serial": "SN-1"})
        edit.set("findings", "the serial was mistyped in TR-CORR-1")
    new_seal = tablet.sign(correction, fresh_code(tablet))
    assert tablet.sync().ok
    assert tablet.protocol(correction).supersedes == original

    old = _verdict(server, old_seal)
    assert old["verdict"] == "superseded"
    assert new_seal.signed is not None
    assert _verdict(server, new_seal.signed.seal)["verdict"] == "genuine"

    # Devices do not annul; a supervisor does, with a reason, and the seal says so.
    refused = httpx.post(f"{server.url}/v1/supervisor/protocols/{correction}/annul",
                         json={"reason": "x"}, headers={"Accept": "application/json",
                                                        "Authorization": "Bearer nope"})
    assert refused.status_code == 401
    annulled = httpx.post(f"{server.url}/v1/supervisor/protocols/{correction}/annul",
                          json={"reason": "issued at the wrong site"}, headers=supervisor)
    assert annulled.status_code == 200, annulled.text
    assert _verdict(server, new_seal.signed.seal)["verdict"] == "annulled"
    audit = httpx.get(f"{server.url}/v1/supervisor/audit?limit=1000", headers=supervisor).json()
    assert any(e["action"] == "annulled" and e["subject"] == correction for e in audit)
    assert any(e["action"] == "superseded" and e["subject"] == original for e in audit)
    # A pull from scratch still carries both receipts: a protocol that is no longer a draft
    # keeps its receipt whatever became of it.
    assert {receipt.protocol_id for receipt in pulled_receipts(server, tablet)} >= {
        original, correction}


def test_queries_and_export(admin: AdminClient, server: LocalServer, tmp_path: Path,
                            opened: list[Tablet], supervisor: dict[str, str]) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    assert tablet.inspector is not None
    numbers = [f"TR-Q-{assignment[-6:]}-{index}" for index in range(3)]
    for number in numbers:
        protocol = complete_protocol(tablet, assignment, number)
        with tablet.edit(protocol) as edit:
            edit.set("conclusion", "compliant")
        tablet.sign(protocol, fresh_code(tablet))  # each signature its own time step
    assert tablet.sync().ok

    url = f"{server.url}/v1/registry/protocols"
    by_number = httpx.get(url, params={"number": numbers[1]}, headers=supervisor).json()
    assert [p["number"] for p in by_number["protocols"]] == [numbers[1]]
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=5))).date().isoformat()
    mine = httpx.get(url, params={"inspector": tablet.inspector.id, "status": "registered",
                                  "signed_from": today, "signed_to": today, "limit": 2},
                     headers=supervisor).json()
    assert len(mine["protocols"]) == 2 and mine["next"]
    rest = httpx.get(url, params={"inspector": tablet.inspector.id, "status": "registered",
                                  "after": mine["next"]}, headers=supervisor).json()
    assert {p["number"] for p in mine["protocols"] + rest["protocols"]} == set(numbers)
    assert all(p["registry_number"] for p in mine["protocols"])
    device = {"Authorization": f"Bearer {tablet.store.get('token')}"}
    assert httpx.get(url, headers=device).status_code == 401
    bad = httpx.get(url, params={"signed_from": "yesterday"}, headers=supervisor)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"
    assert [error["key"] for error in bad.json()["errors"]] == ["signed_from"]

    out = tmp_path / "export.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "field_sync_cli.main", "export", "--server", server.url,
         f"--token={server.admin_token}", "--inspector", tablet.inspector.id, "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["summary"]["number"] for line in lines) == sorted(numbers)
    assert all(line["protocol"]["fields"]["conclusion"] == "compliant" for line in lines)
    assert "exported 3 protocols" in result.stderr
