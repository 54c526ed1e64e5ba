"""Partial replication: a tablet holds its own region's data and nothing of another's, until
the administrator puts its inspector on the other region's inspection.

Against a real ``field-sync serve`` (tests/live.py), with real tablets (``client_lib.Tablet``)
whose stores are inspected after each sync.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, Protocol
from schemas.reference import Entity, ReferenceInstrument, Site
from schemas.signing import LocationFix
from tests.live import PASSPHRASE, complete_protocol

pytestmark = pytest.mark.e2e

ATTESTED = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()
VERIFIED = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=200)).isoformat()


def enrolled(admin: AdminClient, server: LocalServer, folder: Path, inspector: str,
             opened: list[Tablet]) -> Tablet:
    """A tablet enrolled for a new, attested inspector (not yet synced)."""
    admin.create_inspector(inspector, f"Inspector {inspector}")
    admin.put_reference("inspector", inspector, {
        "id": inspector, "full_name": f"Inspector {inspector}", "attested_until": ATTESTED})
    tablet = Tablet(folder / f"{inspector}.sqlite", PASSPHRASE)
    opened.append(tablet)
    tablet.enroll(admin.enrollment_code(inspector), server.url)
    return tablet


def new_tin() -> str:
    return "9" + "".join(secrets.choice("0123456789") for _ in range(8))


@dataclass
class Region:
    """One region's inspection: its inspector and tablet, assignment, site, entity and the
    standard issued to its inspector."""

    inspector: str
    tablet: Tablet
    assignment: Assignment
    site: Site
    entity: Entity
    instrument: ReferenceInstrument


def region(admin: AdminClient, server: LocalServer, folder: Path, opened: list[Tablet],
           name: str, lat: str, lon: str) -> Region:
    suffix = secrets.token_hex(4)
    inspector = f"insp-{name}-{suffix}"
    tablet = enrolled(admin, server, folder, inspector, opened)
    entity = Entity(new_tin(), f"{name} bozori MChJ", f"{name}, Markaziy koʻcha 1")
    site = Site(f"site-{name}-{suffix}", entity.tin, f"{name} dehqon bozori", lat, lon, "150")
    instrument = ReferenceInstrument(f"std-{name}-{suffix}", "weights E2", f"E2-{suffix}",
                                     VERIFIED, inspector)
    admin.put_reference("entity", entity.tin, {"tin": entity.tin, "name": entity.name,
                                               "address": entity.address})
    admin.put_reference("site", site.id, {
        "id": site.id, "entity_tin": site.entity_tin, "name": site.name, "lat": site.lat,
        "lon": site.lon, "radius_m": site.radius_m})
    admin.put_reference("instrument", instrument.id, {
        "id": instrument.id, "type": instrument.type, "serial": instrument.serial,
        "verified_until": instrument.verified_until, "inspector_id": inspector})
    assignment = Assignment(f"asg-{name}-{suffix}", f"{name} market scales", (inspector,),
                            site_id=site.id)
    admin.put_assignment(assignment)
    return Region(inspector, tablet, assignment, site, entity, instrument)


def ids(protocols: list[Protocol]) -> set[str]:
    return {protocol.id for protocol in protocols}


@dataclass
class Regions:
    one: Region
    two: Region
    shared: ReferenceInstrument
    protocol_one: str
    protocol_two: str


@pytest.fixture
def regions(admin: AdminClient, server: LocalServer, tmp_path: Path,
            opened: list[Tablet]) -> Regions:
    """Tashkent and Samarkand, each with a protocol filled on its own tablet and synced; a
    standard shared by all (no inspector). Region 2's protocol had a row removed before."""
    one = region(admin, server, tmp_path, opened, "toshkent", "41.275000", "69.204000")
    two = region(admin, server, tmp_path, opened, "samarqand", "39.654000", "66.975000")
    shared_id = f"std-shared-{secrets.token_hex(4)}"
    shared = ReferenceInstrument(shared_id, "thermometer", "T-1", VERIFIED)
    admin.put_reference("instrument", shared_id, {
        "id": shared_id, "type": shared.type, "serial": shared.serial,
        "verified_until": VERIFIED})
    for each in (one, two):
        assert each.tablet.sync().ok
    protocol_two = complete_protocol(two.tablet, two.assignment.id, "SAM-1")
    with two.tablet.edit(protocol_two) as edit:
        edit.set("findings", "Tarozi plombasi buzilgan")
        edit.add_row("reference_instruments", {
            "instrument_id": two.instrument.id, "type": "weights E2",
            "serial": two.instrument.serial, "verified_until": VERIFIED})
        gone = edit.add_row("instruments", {"type": "meter", "serial": "GONE-1"})
    with two.tablet.edit(protocol_two) as edit:
        edit.remove_row("instruments", gone)
    protocol_one = complete_protocol(one.tablet, one.assignment.id, "TOSH-1")
    for each in (two, one, two, one):
        assert each.tablet.sync().ok
    return Regions(one, two, shared, protocol_one, protocol_two)


def test_a_device_pulls_its_region_and_nothing_of_another(regions: Regions) -> None:
    """Region 1's tablet holds its inspector, its assignment, its site and entity, its own
    and the shared standards, its protocol; of region 2 nothing at all."""
    one, two, tablet = regions.one, regions.two, regions.one.tablet
    assert tablet.inspector is not None
    assert (tablet.inspector.id, tablet.inspector.attested_until) == (one.inspector, ATTESTED)
    assert tablet.assignments() == [one.assignment]
    assert tablet.store.reference("site", Site) == [one.site]
    assert tablet.store.reference("entity", Entity) == [one.entity]
    instruments = {i.id: i for i in tablet.store.reference("instrument", ReferenceInstrument)}
    assert instruments[one.instrument.id] == one.instrument
    assert instruments[regions.shared.id] == regions.shared
    assert two.instrument.id not in instruments
    assert {i.inspector_id for i in instruments.values()} <= {one.inspector, ""}
    assert ids(tablet.protocols()) == {regions.protocol_one}
    assert tablet.store.documents() == [(regions.protocol_one, "metrology_supervision@1",
                                         one.assignment.id)]


def test_region_two_sees_its_own_and_not_region_one(regions: Regions) -> None:
    """The other way round too: each side is fenced."""
    one, two, tablet = regions.one, regions.two, regions.two.tablet
    assert tablet.assignments() == [two.assignment]
    assert tablet.store.reference("site", Site) == [two.site]
    assert tablet.store.reference("entity", Entity) == [two.entity]
    held = {i.id for i in tablet.store.reference("instrument", ReferenceInstrument)}
    assert {two.instrument.id, regions.shared.id} <= held
    assert one.instrument.id not in held
    assert ids(tablet.protocols()) == {regions.protocol_two}


def test_joining_another_regions_inspection_brings_it_whole(admin: AdminClient,
                                                            regions: Regions) -> None:
    """The administrator adds region 1's inspector to region 2's assignment: the next sync
    brings that assignment, its site and entity, and its existing protocol exactly as region
    2 holds it (the row removed before the join is not there). Region 2's inspector's own
    standard stays with region 2."""
    one, two, tablet = regions.one, regions.two, regions.one.tablet
    joined = Assignment(two.assignment.id, two.assignment.title, (two.inspector, one.inspector),
                        site_id=two.site.id)
    admin.put_assignment(joined)
    assert tablet.sync().ok

    by_id = {a.id: a for a in tablet.assignments()}
    assert set(by_id) == {one.assignment.id, two.assignment.id}
    assert set(by_id[two.assignment.id].inspectors) == {one.inspector, two.inspector}
    assert tablet.store.reference("site", Site) == sorted([one.site, two.site],
                                                          key=lambda s: s.id)
    assert {e.tin: e for e in tablet.store.reference("entity", Entity)} == {
        one.entity.tin: one.entity, two.entity.tin: two.entity}
    assert ids(tablet.protocols()) == {regions.protocol_one, regions.protocol_two}
    theirs, ours = two.tablet.protocol(regions.protocol_two), tablet.protocol(
        regions.protocol_two)
    assert ours == theirs
    assert [row["serial"] for row in ours.collections["instruments"].values()] == ["SN-1"]
    assert ours.fields["findings"] == "Tarozi plombasi buzilgan"
    assert tablet.content_hash(regions.protocol_two) == two.tablet.content_hash(
        regions.protocol_two)
    held = {i.id for i in tablet.store.reference("instrument", ReferenceInstrument)}
    assert two.instrument.id not in held


def test_after_joining_edits_flow_both_ways(admin: AdminClient, regions: Regions) -> None:
    """Once on the team, region 1's tablet edits region 2's protocol and region 2 sees it."""
    one, two = regions.one, regions.two
    admin.put_assignment(Assignment(two.assignment.id, two.assignment.title,
                                    (two.inspector, one.inspector), site_id=two.site.id))
    assert one.tablet.sync().ok
    with one.tablet.edit(regions.protocol_two) as edit:
        edit.set("basis", "Reja 2026/14")
    assert one.tablet.sync().ok
    assert two.tablet.sync().ok
    assert two.tablet.protocol(regions.protocol_two).fields["basis"] == "Reja 2026/14"


def test_an_assignment_moved_to_another_existing_site_brings_that_site(
        admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]) -> None:
    """An assignment moved to another, older site brings that site and its entity to the
    tablet with the assignment, so rule 3 has a fence to check offline."""
    first = region(admin, server, tmp_path, opened, "buxoro", "39.767000", "64.423000")
    other = region(admin, server, tmp_path, opened, "xiva", "41.378000", "60.364000")
    tablet = first.tablet
    assert tablet.sync().ok
    assert tablet.store.reference("site", Site) == [first.site]
    moved = Assignment(first.assignment.id, first.assignment.title, (first.inspector,),
                       site_id=other.site.id)
    admin.put_assignment(moved)
    assert tablet.sync().ok
    assert tablet.assignments() == [moved]
    assert other.site in tablet.store.reference("site", Site)
    assert other.entity in tablet.store.reference("entity", Entity)
    protocol = complete_protocol(tablet, moved.id, "BUX-1")
    far = LocationFix(lat=first.site.lat, lon=first.site.lon, accuracy_m="5", at_ms=0)
    assert "outside_geofence" in {b.code for b in tablet.check_signing(protocol, far)}


def test_reference_data_changed_after_a_sync_arrives_with_the_next_pull(
        admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]) -> None:
    """A pull that brings no assignment still brings the reference rows of the tablet's
    scope changed since its last sync: a renamed site, an entity's new address, a standard
    verified again."""
    first = region(admin, server, tmp_path, opened, "nukus", "42.460000", "59.610000")
    tablet = first.tablet
    assert tablet.sync().ok
    site = Site(first.site.id, first.site.entity_tin, "Nukus yangi bozori", first.site.lat,
                first.site.lon, first.site.radius_m)
    entity = Entity(first.entity.tin, first.entity.name, "Nukus, Doslik koʻchasi 5")
    later = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=400)).isoformat()
    instrument = ReferenceInstrument(first.instrument.id, first.instrument.type,
                                     first.instrument.serial, later, first.inspector)
    admin.put_reference("site", site.id, {
        "id": site.id, "entity_tin": site.entity_tin, "name": site.name, "lat": site.lat,
        "lon": site.lon, "radius_m": site.radius_m})
    admin.put_reference("entity", entity.tin, {"tin": entity.tin, "name": entity.name,
                                               "address": entity.address})
    admin.put_reference("instrument", instrument.id, {
        "id": instrument.id, "type": instrument.type, "serial": instrument.serial,
        "verified_until": later, "inspector_id": first.inspector})
    report = tablet.pull()
    assert report.ok and report.pulled == 0
    assert tablet.store.reference("site", Site) == [site]
    assert entity in tablet.store.reference("entity", Entity)
    assert instrument in tablet.store.reference("instrument", ReferenceInstrument)
