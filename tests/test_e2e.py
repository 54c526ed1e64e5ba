"""End to end: `field-sync serve` as a real process on loopback, tablets over real HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from client_lib import HttpTransport, ProtocolSigned, Tablet
from field_sync import content_hash
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment
from tests.live import PASSPHRASE, TEMPLATE, complete_protocol, team, totp_code

pytestmark = pytest.mark.e2e


def test_two_tablets_offline_edits_converge_with_registry(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a, b) = team(admin, server, tmp_path, 2, opened)
    protocol = a.create_protocol(TEMPLATE, assignment,
                                 {"number": "TR-1", "entity_tin": "301245678"})
    with a.edit(protocol) as edit:
        scale = edit.add_row("instruments", {"type": "scale", "serial": "SN-1"})
    assert a.sync().ok and b.sync().ok
    assert b.protocol(protocol).collections["instruments"][scale]["serial"] == "SN-1"

    # Offline: each tablet edits a different field of the same row, and one adds a row.
    with a.edit(protocol) as edit:
        edit.update_row("instruments", scale, {"serial": "SN-448201"})
        edit.set("conclusion", "compliant")
    with b.edit(protocol) as edit:
        edit.update_row("instruments", scale, {"verified_until": "2027-01-31"})
        reading = edit.add_row("measurements", {"instrument": scale, "nominal": "5.000",
                                                "indication": "5.004", "mpe": "0.005",
                                                "unit": "kg"})
    assert a.protocol(protocol).collections["instruments"][scale].get("verified_until") is None

    for tablet in (a, b, a):
        report = tablet.sync()
        assert report.ok and report.rejected == 0, report

    record = admin.protocol(protocol)
    row = record.protocol.collections["instruments"][scale]
    assert (row["serial"], row["verified_until"]) == ("SN-448201", "2027-01-31")
    assert record.protocol.fields["conclusion"] == "compliant"
    measured = record.protocol.collections["measurements"][reading]
    assert (measured["error"], measured["pass"]) == ("0.004", True)
    assert a.content_hash(protocol) == b.content_hash(protocol) == record.content_hash
    assert record.content_hash == content_hash(record.protocol)


def test_sync_without_network_keeps_everything_for_later(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    protocol = a.create_protocol(TEMPLATE, assignment, {"number": "TR-2"})
    path = a.store.path
    a.close()
    opened.clear()

    offline = Tablet(path, PASSPHRASE, transport=HttpTransport("http://127.0.0.1:9", timeout_s=2))
    report = offline.sync()
    assert report.offline and not report.ok
    assert offline.pending() == 1
    offline.close()

    # The same file, reopened with the network back: nothing was lost.
    again = Tablet(path, PASSPHRASE)
    assert again.sync().ok
    assert again.pending() == 0
    assert admin.protocol(protocol).protocol.fields["number"] == "TR-2"
    again.close()


def test_refused_changes_stay_on_the_tablet_with_their_reason(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a, b) = team(admin, server, tmp_path, 2, opened)
    protocol = a.create_protocol(TEMPLATE, assignment, {"number": "TR-3"})
    assert a.sync().ok and b.sync().ok
    # The administrator moves the assignment to inspector A alone; B's edit made offline is
    # now outside B's scope and the registry refuses it. B keeps it, visible, with the reason.
    assert a.inspector is not None
    admin.put_assignment(Assignment(assignment, "market scales", (a.inspector.id,)))
    with b.edit(protocol) as edit:
        edit.set("findings", "written after losing the assignment")
    report = b.sync()
    assert report.rejected == 1
    (refused,) = b.rejections()
    assert refused.code == "out_of_scope"
    assert refused.op.value == "written after losing the assignment"
    assert "findings" not in admin.protocol(protocol).protocol.fields


def test_demo_command_passes_against_a_running_server(server: LocalServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "field_sync_cli.main", "demo", "--server", server.url,
         f"--admin-token={server.admin_token}"],  # a token may begin with "-"
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo passed" in result.stdout


def test_demo_command_starts_its_own_server(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "field_sync_cli.main", "demo", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "registry" / "field-sync.db").exists()


def test_a_signed_protocol_holds_exactly_the_signed_state(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a, b, c) = team(admin, server, tmp_path, 3, opened)
    protocol = complete_protocol(a, assignment, "TR-SIGN")
    assert a.sync().ok and b.sync().ok and c.sync().ok

    # B's edit reaches the registry before A's freeze, but A never saw it: it is set aside.
    with b.edit(protocol) as edit:
        edit.set("findings", "B, merged before the freeze arrived")
    assert b.sync().rejected == 0
    with a.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    freeze = a.sign(protocol, totp_code(a))
    with pytest.raises(ProtocolSigned):
        a.edit(protocol)
    # C edits offline after A signed: refused when it arrives, kept on C and in the registry.
    with c.edit(protocol) as edit:
        edit.set("prescription", "C, written after the signature")

    assert a.sync().rejected == 0
    assert c.sync().rejected == 1
    b.sync()

    record = admin.protocol(protocol)
    assert record.content_hash == freeze.content_hash
    assert record.protocol.fields["conclusion"] == "compliant"
    assert "findings" not in record.protocol.fields
    assert "prescription" not in record.protocol.fields
    assert {op.value for op in record.held} == {"B, merged before the freeze arrived",
                                                "C, written after the signature"}
    for tablet in (a, b, c):
        assert tablet.content_hash(protocol) == freeze.content_hash
    (refused_b,) = b.rejections()
    (refused_c,) = c.rejections()
    assert refused_b.code == refused_c.code == "protocol_signed"
    receipt = a.receipt(protocol)
    assert receipt is not None and receipt.content_hash == freeze.content_hash
    assert c.receipt(protocol) == receipt
    assert freeze.signed is not None
    assert c.verify(freeze.signed.seal).genuine  # offline, with the trust list C cached
    assert a.status(protocol) == ("registered", [])
