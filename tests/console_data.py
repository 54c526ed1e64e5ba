"""A small registry of real protocols for the console's tests, made the way tablets make them:
inspectors of two regions, sites with geofences, protocols signed at the site and registered,
and one quarantined (its inspector's attestation lapsed while the tablet was offline)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment
from schemas.signing import LocationFix
from tests.live import complete_protocol, fresh_code, team

__all__ = ["Region", "regional_team", "sign_at_site", "quarantine"]

SITE_LAT, SITE_LON = "41.275000", "69.204000"


@dataclass
class Region:
    """An inspection team of one region: its assignment, site, tablet and protocols."""

    name: str
    assignment: str
    site_id: str
    entity_tin: str
    tablet: Tablet
    signed: list[str] = field(default_factory=list)


def regional_team(admin: AdminClient, server: LocalServer, folder: Path, opened: list[Tablet],
                  region: str) -> Region:
    """One enrolled inspector of ``region`` on an assignment at a site of that region."""
    assignment, (tablet,) = team(admin, server, folder, 1, opened)
    assert tablet.inspector is not None
    entity = f"{secrets.randbelow(10**9):09d}"
    admin.put_reference("entity", entity, {"tin": entity, "name": f"Oʻzbek un {region}",
                                           "address": "Toshkent, Chilonzor 7"})
    site_id = f"site-{assignment}"
    admin.put_reference("site", site_id, {
        "id": site_id, "entity_tin": entity, "name": f"Un kombinati ({region})",
        "lat": SITE_LAT, "lon": SITE_LON, "radius_m": "150", "region": region})
    admin.put_assignment(Assignment(assignment, f"Bozor tarozilari, {region}",
                                    (tablet.inspector.id,), site_id=site_id))
    assert tablet.sync().ok
    return Region(region, assignment, site_id, entity, tablet)


def _fix() -> LocationFix:
    return LocationFix(lat="41.275400", lon="69.204300", accuracy_m="8",
                       at_ms=time.time_ns() // 10**6)


def sign_at_site(region: Region, number: str, *, sync: bool = True) -> str:
    """A complete protocol with a measurement, signed at the site; synced unless told not."""
    tablet = region.tablet
    protocol = complete_protocol(tablet, region.assignment, number)
    with tablet.edit(protocol) as edit:
        (instrument,) = tablet.protocol(protocol).collections["instruments"]
        edit.add_row("measurements", {"instrument": instrument, "nominal": "20.000",
                                      "indication": "20.030", "mpe": "0.020", "unit": "kg"})
        edit.set("conclusion", "non_compliant")
        edit.set("entity_tin", region.entity_tin)
        edit.set("findings", "Tarozi xatoligi ruxsat etilganidan katta")
    tablet.sign(protocol, fresh_code(tablet), _fix())
    if sync:
        assert tablet.sync().ok
    region.signed.append(protocol)
    return protocol


def quarantine(admin: AdminClient, region: Region, number: str) -> str:
    """A protocol the registry quarantines: its inspector's attestation lapses while the tablet
    signs offline (and is renewed after)."""
    tablet = region.tablet
    assert tablet.inspector is not None
    inspector = {"id": tablet.inspector.id, "full_name": tablet.inspector.full_name,
                 "attested_until": "2099-01-01"}
    admin.put_reference("inspector", tablet.inspector.id,
                        {**inspector, "attested_until": "2020-01-01"})
    protocol = sign_at_site(region, number)
    admin.put_reference("inspector", tablet.inspector.id, inspector)
    assert tablet.status(protocol)[0] == "quarantined"
    return protocol
