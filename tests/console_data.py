"""A small registry of real protocols for the console's tests, made the way tablets make them:
inspectors of two regions, sites with geofences, protocols signed at the site and registered,
and one quarantined (its inspector's attestation lapsed while the tablet was offline)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment
from schemas.signing import LocationFix
from tests.evidence import TEMPLATE as PHOTO_TEMPLATE
from tests.evidence import Unreachable, photo, reopened
from tests.live import complete_protocol, fresh_code, team

__all__ = ["Region", "lapsed", "quarantine", "quarantine_without_photo", "regional_team",
           "sign_at_site", "sign_with_photo"]

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


def sign_with_photo(region: Region, number: str, *, sync: bool = True) -> tuple[str, str]:
    """A protocol whose instrument's label photo was taken at the site, signed there; synced
    (its photo uploaded) unless told not. Returns it and the photo's SHA-256."""
    tablet = region.tablet
    assert tablet.inspector is not None
    protocol = tablet.create_protocol(PHOTO_TEMPLATE, region.assignment, {
        "number": number, "started_at": "2026-11-20T10:00:00+05:00",
        "entity_tin": region.entity_tin, "entity_name": f"Oʻzbek un {region.name}",
        "site_address": "Toshkent, Chilonzor 7", "lead_inspector": tablet.inspector.id,
        "conclusion": "compliant"})
    with tablet.edit(protocol) as edit:
        row = edit.add_row("instruments", {"type": "scale", "serial": "SN-1"})
        attached = edit.attach(photo(secrets.randbelow(1000)), f"instruments/{row}/label_photo")
    tablet.sign(protocol, fresh_code(tablet), _fix())
    if sync:
        assert tablet.sync().ok
    region.signed.append(protocol)
    return protocol, attached.attachment.sha256


@contextmanager
def lapsed(admin: AdminClient, region: Region) -> Iterator[None]:
    """The region's inspector's attestation lapsed meanwhile (renewed after)."""
    tablet = region.tablet
    assert tablet.inspector is not None
    inspector = {"id": tablet.inspector.id, "full_name": tablet.inspector.full_name,
                 "attested_until": "2099-01-01"}
    admin.put_reference("inspector", tablet.inspector.id,
                        {**inspector, "attested_until": "2020-01-01"})
    try:
        yield
    finally:
        admin.put_reference("inspector", tablet.inspector.id, inspector)


def quarantine(admin: AdminClient, region: Region, number: str) -> str:
    """A protocol the registry quarantines: its inspector's attestation lapses while the tablet
    signs offline (and is renewed after)."""
    with lapsed(admin, region):
        protocol = sign_at_site(region, number)
    assert region.tablet.status(protocol)[0] == "quarantined"
    return protocol


def quarantine_without_photo(admin: AdminClient, region: Region, number: str,
                             opened: list[Tablet]) -> tuple[str, str]:
    """A protocol the registry quarantines (as ``quarantine``) whose photo has not reached
    it: the tablet pushed the signature with no way to send files. Returns it and the photo's
    SHA-256; the tablet's next sync sends the photo."""
    region.tablet = reopened(region.tablet, opened, blob_transport=Unreachable())
    with lapsed(admin, region):
        protocol, sha256 = sign_with_photo(region, number, sync=False)
        pushed = region.tablet.push()
    assert pushed.accepted and pushed.offline and pushed.uploads.uploaded == 0, pushed
    region.tablet = reopened(region.tablet, opened)
    return protocol, sha256
