"""The registry rules end to end: refused offline on the tablet, quarantined by the registry."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest

from client_lib import SigningRefused, Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment
from schemas.signing import LocationFix
from tests.live import complete_protocol, team, totp_code

SITE = {"id": "", "entity_tin": "301245678", "name": "Chilonzor yoqilgʻi quyish shoxobchasi",
        "lat": "41.275000", "lon": "69.204000", "radius_m": "150"}


def _fix(lat: str, lon: str, accuracy: str = "10", mock: bool = False) -> LocationFix:
    return LocationFix(lat=lat, lon=lon, accuracy_m=accuracy, at_ms=time.time_ns() // 10**6,
                       mock=mock)


def _codes(error: pytest.ExceptionInfo[SigningRefused]) -> set[str]:
    return {breach.code for breach in error.value.breaches}


def test_refused_offline_then_fixed_signed_and_registered(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    site_id = f"site-{assignment}"
    admin.put_reference("site", site_id, {**SITE, "id": site_id})
    assert tablet.inspector is not None
    admin.put_assignment(Assignment(assignment, "fuel station", (tablet.inspector.id,),
                                    site_id=site_id))
    instrument = f"weights-{assignment}"
    admin.put_reference("instrument", instrument, {
        "id": instrument, "type": "weights E2", "serial": "E2-0042",
        "verified_until": (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat(),
        "inspector_id": tablet.inspector.id})
    assert tablet.sync().ok
    protocol = complete_protocol(tablet, assignment, "TR-RULES")
    with tablet.edit(protocol) as edit:
        edit.add_row("reference_instruments", {"instrument_id": instrument, "type": "weights E2",
                                               "serial": "E2-0042", "verified_until": "2026-01-01"})

    # Offline: no conclusion, a lapsed standard, and a fix 2 km away. All named, nothing signed.
    with pytest.raises(SigningRefused) as refused:
        tablet.sign(protocol, totp_code(tablet), _fix("41.293000", "69.204000"))
    assert _codes(refused) == {"required", "instrument_unverified", "outside_geofence"}
    with pytest.raises(SigningRefused) as refused:
        tablet.sign(protocol, totp_code(tablet), _fix("41.275100", "69.204100", mock=True))
    assert "mock_location" in _codes(refused)
    assert tablet.status(protocol) == ("draft", [])

    # The causes fixed: a verified standard, the conclusion, a fix at the site.
    admin.put_reference("instrument", instrument, {
        "id": instrument, "type": "weights E2", "serial": "E2-0042",
        "verified_until": (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=200)).isoformat(),
        "inspector_id": tablet.inspector.id})
    assert tablet.sync().ok
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    tablet.sign(protocol, totp_code(tablet), _fix("41.275900", "69.204000", accuracy="12"))
    assert tablet.sync().ok
    assert tablet.status(protocol) == ("registered", [])


def test_the_registry_quarantines_what_the_tablet_could_not_know(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    protocol = complete_protocol(tablet, assignment, "TR-QUARANTINE")
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", "non_compliant")
    assert tablet.check_signing(protocol) == []
    # While the tablet is offline, the inspector's attestation is found to have lapsed.
    assert tablet.inspector is not None
    admin.put_reference("inspector", tablet.inspector.id, {
        "id": tablet.inspector.id, "full_name": "Lapsed", "attested_until": "2020-01-01"})
    tablet.sign(protocol, totp_code(tablet))
    assert tablet.sync().ok
    status, reasons = tablet.status(protocol)
    assert status == "quarantined"
    assert any("attestation_lapsed" in reason for reason in reasons)
    assert tablet.receipt(protocol) is None
    # Supervisors see it in the quarantine, with the same reasons.
    listed = httpx.get(f"{server.url}/v1/supervisor/quarantine", headers={
        "Authorization": f"Bearer {server.admin_token}", "Accept": "application/json"}).json()
    (shown,) = [p for p in listed["protocols"] if p["id"] == protocol]
    assert (shown["status"], shown["number"], shown["reasons"]) == (
        "quarantined", "TR-QUARANTINE", reasons)
