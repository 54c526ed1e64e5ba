"""Revocation means revocation, against a real `field-sync serve` process (and a real
PostgreSQL on the suite's second pass): revoking a device, or suspending its inspector, revokes
its signing keys from that moment; supervisors' tokens are revoked too; every act is audited."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from client_lib import RegistryRefused, Tablet
from field_sync.verify import trust_list_is_signed, verify_offline
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from server import Database
from server.authority.audit import verify_chain
from tests.live import PASSPHRASE, fresh_code, team
from tests.test_signing_server import (
    assert_registered,
    new_protocol,
    online_verdict,
    refusal,
    registry_pin,
    sign_and_sync,
    trust_list,
)

pytestmark = pytest.mark.e2e


def _call(server: LocalServer, method: str, path: str, token: str | None = None,
          body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or server.admin_token}",
               "Accept": "application/json"}
    return httpx.request(method, f"{server.url}{path}", headers=headers, json=body, timeout=30)


def _next_second() -> None:
    """Wait for the next whole second: seals date signatures to the second, so a seal made
    before a revocation shows so only when made in an earlier second."""
    time.sleep(1 - time.time() % 1 + 0.01)


def _audited(server: LocalServer, action: str, subject: str) -> list[dict[str, Any]]:
    """The audit entries of ``action`` on ``subject``; the whole chain verified first."""
    database = Database(server.db_url)
    try:
        with database.read() as session:
            assert verify_chain(session)[1] is None
    finally:
        database.dispose()
    entries: list[dict[str, Any]] = []
    while page := _call(server, "GET", "/v1/supervisor/audit?limit=1000&after="
                        f"{entries[-1]['seq'] if entries else 0}").json():
        entries += page
    return [entry for entry in entries
            if entry["action"] == action and entry["subject"] == subject]


def _revoked_after(server: LocalServer, kid: str) -> int:
    listed = trust_list(server)
    assert trust_list_is_signed(listed, registry_pin(server))
    return next(key.revoked_after_ms for key in listed.keys if key.kid == kid)


def test_revoking_a_device_revokes_its_keys_from_that_moment(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    kid = tablet.store.get("kid")
    before = new_protocol(tablet, assignment)
    earlier = sign_and_sync(tablet, before, fresh_code(tablet))
    after = new_protocol(tablet, assignment)
    _next_second()

    revoked = _call(server, "POST", f"/v1/admin/devices/{tablet.device_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    after_ms = _revoked_after(server, kid)
    assert earlier.signed is not None
    assert earlier.signed.statement.signed_at_ms <= after_ms <= time.time_ns() // 1_000_000
    (entry,) = _audited(server, "device_revoked", tablet.device_id)
    assert f'"revoked_after_ms":{after_ms}' in entry["detail"] and kid in entry["detail"]

    # What it signed before stays genuine; what its key signs from now on is revoked.
    listed = trust_list(server)
    pin = registry_pin(server)
    assert verify_offline(earlier.signed.seal, listed, pin).verdict == "genuine"
    assert online_verdict(server, earlier.signed.seal)["verdict"] == "genuine"
    late = tablet.sign(after, fresh_code(tablet))  # the tablet, offline, does not know yet
    assert late.signed is not None
    assert verify_offline(late.signed.seal, listed, pin).verdict == "revoked"
    assert online_verdict(server, late.signed.seal)["verdict"] == "revoked"
    report = tablet.sync()
    assert report.error.startswith("401 device_revoked"), report
    # Revoking again changes nothing: the first moment stands.
    assert _call(server, "POST", f"/v1/admin/devices/{tablet.device_id}/revoke").json() == \
        revoked.json()
    assert _revoked_after(server, kid) == after_ms


def test_suspending_an_inspector_revokes_every_device_of_theirs(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet, colleague) = team(admin, server, tmp_path, 2, opened)
    inspector = tablet.inspector.id if tablet.inspector else ""
    second = Tablet(tmp_path / "second.sqlite", PASSPHRASE)  # the inspector's other tablet
    opened.append(second)
    second.enroll(admin.enrollment(inspector).code, server.url)
    assert second.sync().ok
    kids = {tablet.store.get("kid"), second.store.get("kid")}
    before = new_protocol(tablet, assignment)
    earlier = sign_and_sync(tablet, before, fresh_code(tablet))
    after = new_protocol(tablet, assignment)
    _next_second()

    # Not through the reference data: that would suspend without revoking anything.
    sneaked = _call(server, "PUT", f"/v1/admin/reference/inspector/{inspector}", body={
        "id": inspector, "full_name": "Suspended", "suspended": True})
    assert (sneaked.status_code, sneaked.json()["code"]) == (400, "suspension_by_endpoint")
    assert tablet.sync().ok and tablet.inspector and not tablet.inspector.suspended
    assert _call(server, "POST", f"/v1/admin/inspectors/{inspector}/suspend",
                 body={"reason": ""}).status_code == 400
    suspended = _call(server, "POST", f"/v1/admin/inspectors/{inspector}/suspend",
                      body={"reason": "attestation under review"})
    assert suspended.status_code == 200, suspended.text
    revoked = {kid: _revoked_after(server, kid) for kid in kids}
    after_ms = revoked[tablet.store.get("kid")]
    assert after_ms > 0 and set(revoked.values()) == {after_ms}
    assert _revoked_after(server, colleague.store.get("kid")) == 0  # a colleague signs on
    (entry,) = _audited(server, "inspector_suspended", inspector)
    assert "attestation under review" in entry["detail"]

    # Its devices still sync (nothing saved on them is lost), but what they sign is refused,
    # and the seal of it is revoked; what they signed before stays genuine.
    late = tablet.sign(after, fresh_code(tablet))
    assert late.signed is not None
    assert tablet.sync().ok
    assert refusal(tablet, after) == "key_revoked"
    assert tablet.inspector is not None and tablet.inspector.suspended
    assert online_verdict(server, late.signed.seal)["verdict"] == "revoked"
    assert verify_offline(late.signed.seal, trust_list(server),
                          registry_pin(server)).verdict == "revoked"
    assert earlier.signed is not None
    assert online_verdict(server, earlier.signed.seal)["verdict"] == "genuine"
    # No way round it: no new key, no new device, and the reference data keeps it suspended.
    with pytest.raises(RegistryRefused) as rotation:
        second.rotate_key()
    assert rotation.value.code == "inspector_suspended"
    code = _call(server, "POST", f"/v1/admin/inspectors/{inspector}/enrollment-codes")
    assert (code.status_code, code.json()["code"]) == (409, "inspector_suspended")
    admin.put_reference("inspector", inspector, {"id": inspector, "full_name": "Renamed",
                                                 "attested_until": "2099-12-31"})
    assert second.sync().ok and second.inspector and second.inspector.suspended

    # Reinstated, a device enrolls a new key and signs again; the old keys stay revoked.
    assert _call(server, "POST", f"/v1/admin/inspectors/{inspector}/reinstate").json() == {
        "inspector_id": inspector, "suspended": False}
    assert len(_audited(server, "inspector_reinstated", inspector)) == 1
    second.rotate_key()
    assert second.sync().ok
    other = new_protocol(second, assignment)
    assert_registered(server, second, other, sign_and_sync(second, other, fresh_code(second)))
    assert {kid: _revoked_after(server, kid) for kid in kids} == revoked


def test_a_revoked_supervisor_token_is_refused(server: LocalServer) -> None:
    supervisor = f"sup-{time.time_ns()}"
    appointed = _call(server, "POST", "/v1/admin/supervisors/",
                      body={"id": supervisor, "full_name": "Supervisor"})
    token = appointed.json()["token"]
    assert _call(server, "GET", "/v1/registry/protocols", token).status_code == 200
    # Only the administrator revokes, and only a supervisor there is.
    assert _call(server, "POST", f"/v1/admin/supervisors/{supervisor}/revoke",
                 token).status_code == 401
    assert _call(server, "POST", "/v1/admin/supervisors/nobody/revoke").status_code == 404

    revoked = _call(server, "POST", f"/v1/admin/supervisors/{supervisor}/revoke")
    assert revoked.status_code == 200, revoked.text
    for path in ("/v1/registry/protocols", "/v1/supervisor/audit"):
        refused = _call(server, "GET", path, token)
        assert (refused.status_code, refused.json()["code"]) == (401, "not_supervisor")
    assert _call(server, "POST", f"/v1/admin/supervisors/{supervisor}/revoke").json() == \
        revoked.json()
    assert len(_audited(server, "supervisor_revoked", supervisor)) == 1
