"""Supervisors through the API, against a real registry: a token limited to a region sees,
exports and acts on that region's protocols only; a quarantined protocol is cleared with a
reason and registered as ingest would have registered it."""

from __future__ import annotations

import csv
import io
import secrets
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas.signing import Receipt
from tests.console_data import (
    Region,
    quarantine,
    quarantine_without_photo,
    regional_team,
    sign_at_site,
)

pytestmark = pytest.mark.e2e


def _appoint(server: LocalServer, regions: list[str]) -> str:
    response = httpx.post(f"{server.url}/v1/admin/supervisors/", json={
        "id": f"sup-{secrets.token_hex(4)}", "full_name": "Nazoratchi", "regions": regions},
        headers={"Authorization": f"Bearer {server.admin_token}", "Accept": "application/json"})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def _get(server: LocalServer, token: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", params=params, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/json"})


def _post(server: LocalServer, token: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/json"})


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory, server: LocalServer
            ) -> tuple[Region, Region, list[Tablet]]:
    opened: list[Tablet] = []
    admin = AdminClient(server.url, server.admin_token)
    folder = tmp_path_factory.mktemp("tablets")
    suffix = secrets.token_hex(3)
    north = regional_team(admin, server, folder, opened, f"Qoraqalpogʻiston {suffix}")
    south = regional_team(admin, server, folder, opened, f"Surxondaryo {suffix}")
    for index in range(2):
        sign_at_site(north, f"TR-N{suffix}-{index}")
        sign_at_site(south, f"TR-S{suffix}-{index}")
    quarantine(admin, north, f"TR-NQ{suffix}")
    quarantine(admin, south, f"TR-SQ{suffix}")
    yield north, south, opened
    for tablet in opened:
        tablet.close()
    admin.close()


def test_a_token_limited_to_a_region_lists_exports_and_reviews_that_region_only(
        server: LocalServer, regions: tuple[Region, Region, list[Tablet]]) -> None:
    north, south, _ = regions
    token = _appoint(server, [north.name])
    listed = _get(server, token, "/v1/registry/protocols", limit=500).json()["protocols"]
    assert {p["region"] for p in listed} == {north.name}
    assert set(north.signed) <= {p["id"] for p in listed}
    # Asking for the other region by name finds nothing either.
    assert _get(server, token, "/v1/registry/protocols",
                region=south.name).json()["protocols"] == []
    exported = _get(server, token, "/v1/registry/export", format="csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {row["region"] for row in rows} == {north.name}
    assert exported.headers["x-total-count"] == str(len(rows))
    quarantined = _get(server, token, "/v1/supervisor/quarantine").json()["protocols"]
    assert [p["region"] for p in quarantined] == [north.name]
    subjects = {entry["subject"] for entry in _get(
        server, token, "/v1/supervisor/audit", limit=1000).json()}
    assert not subjects & set(south.signed)
    assert subjects & set(north.signed)
    assert _get(server, token, f"/v1/protocols/{south.signed[0]}/document.pdf").status_code \
        == 404
    assert _get(server, token, f"/v1/protocols/{north.signed[0]}/document.pdf").status_code \
        == 200
    # Acting on the other region's protocol is as if it did not exist.
    for act in ("annul", "clear"):
        response = _post(server, token, f"/v1/supervisor/protocols/{south.signed[-1]}/{act}",
                         {"reason": "not mine"})
        assert (response.status_code, response.json()["code"]) == (404, "unknown_protocol")


def test_an_unlimited_token_and_the_administrator_see_every_region(
        server: LocalServer, regions: tuple[Region, Region, list[Tablet]]) -> None:
    north, south, _ = regions
    for token in (_appoint(server, []), server.admin_token):
        for region in (north, south):  # (the registry holds other tests' protocols too)
            found = {p["id"] for p in _get(server, token, "/v1/registry/protocols",
                                           region=region.name).json()["protocols"]}
            assert set(region.signed) <= found


def test_search_by_region_kind_entity_name_and_newest_first(
        server: LocalServer, regions: tuple[Region, Region, list[Tablet]]) -> None:
    north, _, _ = regions
    token = server.admin_token
    newest = _get(server, token, "/v1/registry/protocols", region=north.name, order="newest",
                  limit=2).json()
    assert [p["id"] for p in newest["protocols"]] == north.signed[::-1][:2]
    rest = _get(server, token, "/v1/registry/protocols", region=north.name, order="newest",
                limit=2, after=newest["next"]).json()
    assert [p["id"] for p in rest["protocols"]] == north.signed[::-1][2:]
    by_name = _get(server, token, "/v1/registry/protocols", entity="OʻZBEK UN " +
                   north.name.upper().split()[0], template="metrology_supervision").json()
    assert {p["id"] for p in by_name["protocols"]} == set(north.signed)
    by_tin = _get(server, token, "/v1/registry/protocols", entity=north.entity_tin).json()
    assert {p["id"] for p in by_tin["protocols"]} == set(north.signed)
    inspector = north.tablet.inspector
    assert inspector is not None
    registered = {p["id"] for p in _get(server, token, "/v1/registry/protocols",
                                        region=north.name).json()["protocols"]
                  if p["status"] == "registered"}
    for named in (inspector.id, f"INSPECTOR {inspector.id.upper()}"):  # an id, or a name
        found = _get(server, token, "/v1/registry/protocols", inspector=named,
                     status="registered", order="newest").json()["protocols"]
        assert {p["id"] for p in found} == registered
    by_site = _get(server, token, "/v1/registry/protocols", site="UN KOMBINATI (" +
                   north.name.split()[0].upper()).json()
    assert {p["id"] for p in by_site["protocols"]} == set(north.signed)
    assert _get(server, token, "/v1/registry/protocols", order="sideways").status_code == 400
    assert _get(server, token, "/v1/registry/protocols", order="newest",
                after="garbage").json()["code"] == "bad_cursor"


def test_clearing_a_quarantined_protocol_registers_it_for_the_tablet_and_the_public(
        server: LocalServer, regions: tuple[Region, Region, list[Tablet]]) -> None:
    north, _, _ = regions
    token = _appoint(server, [north.name])
    protocol = north.signed[-1]
    assert north.tablet.status(protocol)[0] == "quarantined"
    path = f"/v1/supervisor/protocols/{protocol}/clear"
    refused = _post(server, token, path, {"reason": "   "})
    assert (refused.status_code, refused.json()["code"]) == (400, "reason_required")
    cleared = _post(server, token, path, {"reason": "Inspector reinstated: suspended in error"})
    assert cleared.status_code == 200, cleared.text
    receipt = msgspec.json.decode(cleared.content, type=Receipt)
    assert receipt.protocol_id == protocol and receipt.registry_number
    again = _post(server, token, path, {"reason": "twice"})
    assert (again.status_code, again.json()["code"]) == (409, "not_quarantined")
    # The tablet hears of it on its next sync, with the registry's receipt.
    assert north.tablet.sync().ok
    assert north.tablet.status(protocol) == ("registered", [])
    assert north.tablet.receipt(protocol) == receipt
    # Anyone checking the seal now finds it registered, with its number.
    signed = north.tablet.signature(protocol)
    assert signed is not None
    verdict = httpx.get(f"{server.url}/v1/verify/{signed.seal.rpartition('/')[2]}",
                        headers={"Accept": "application/json"})
    assert verdict.status_code == 200, verdict.text
    assert (verdict.json()["verdict"], verdict.json()["registry_number"]) == (
        "genuine", receipt.registry_number)
    history = [entry["action"] for entry in _get(
        server, server.admin_token, "/v1/supervisor/audit", subject=protocol).json()]
    assert history[-2:] == ["quarantined", "cleared"]
    assert _get(server, token, "/v1/supervisor/quarantine").json()["protocols"] == []


def test_quarantine_filters_by_rule(
        server: LocalServer, regions: tuple[Region, Region, list[Tablet]]) -> None:
    _, south, _ = regions
    token = _appoint(server, [south.name])
    assert len(_get(server, token, "/v1/supervisor/quarantine",
                    rule="attestation_lapsed").json()["protocols"]) == 1
    assert _get(server, token, "/v1/supervisor/quarantine",
                rule="outside_geofence").json()["protocols"] == []


def test_regions_on_a_site_move_its_protocols(
        tmp_path: Path, server: LocalServer, regions: tuple[Region, Region, list[Tablet]]) -> None:
    north, _, _ = regions
    admin = AdminClient(server.url, server.admin_token)
    moved = f"{north.name} (yangi)"
    site = {"id": north.site_id, "entity_tin": north.entity_tin, "name": "Un kombinati",
            "lat": "41.275000", "lon": "69.204000", "radius_m": "150", "region": moved}
    admin.put_reference("site", north.site_id, site)
    try:
        found = _get(server, server.admin_token, "/v1/registry/protocols",
                     region=moved).json()["protocols"]
        assert set(north.signed) <= {p["id"] for p in found}
    finally:
        admin.put_reference("site", north.site_id, {**site, "region": north.name})
        admin.close()


def test_a_protocol_cleared_before_its_photo_arrived_awaits_it(
        server: LocalServer, tmp_path: Path,
        regions: tuple[Region, Region, list[Tablet]]) -> None:
    """202 and the files awaited, not a receipt: registered when the photo comes."""
    _, _, opened = regions
    admin = AdminClient(server.url, server.admin_token)
    try:
        west = regional_team(admin, server, tmp_path, opened, f"Xorazm {secrets.token_hex(3)}")
        protocol, sha256 = quarantine_without_photo(admin, west, "TR-XW", opened)
    finally:
        admin.close()
    token = _appoint(server, [west.name])
    path = f"/v1/supervisor/protocols/{protocol}/clear"
    cleared = _post(server, token, path, {"reason": "Attestation renewed late"})
    assert cleared.status_code == 202, cleared.text
    assert cleared.json() == {"files": [sha256], "status": "awaiting_evidence"}
    again = _post(server, token, path, {"reason": "twice"})
    assert (again.status_code, again.json()["code"]) == (409, "not_quarantined")
    assert west.tablet.sync().ok  # the photo goes, and the registry registers the protocol
    assert west.tablet.status(protocol)[0] == "registered"
    history = [entry["action"] for entry in _get(
        server, server.admin_token, "/v1/supervisor/audit", subject=protocol).json()]
    assert history[-3:] == ["quarantined", "cleared", "registered"]
