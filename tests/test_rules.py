"""The six registry rules (docs/protocol/signing.md) as pure functions: ``check_rules`` on
hand-built contexts.

Every test starts from a context that breaks no rule (``context()``) and changes one thing, so
a breach can only come from the rule the test is about. The signing instant is 2026-03-01
20:30 UTC, which is already 2026-03-02 01:30 in Tashkent (+05:00): a rule that took the date
in UTC would judge the day before.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from geopy.distance import geodesic
from msgspec.structs import replace

from field_sync import DocumentState, InvalidOperation, form_of, pack
from field_sync.paths import ASSIGNMENT, TEMPLATE
from field_sync.rules import (
    Breach,
    GeofencePolicy,
    RuleContext,
    check_rules,
    fence_reach,
    signing_date,
)
from schemas import Assignment, Inspector, Op, Protocol, Template, builtin_templates
from schemas.reference import ReferenceInstrument, Site
from schemas.signing import LocationFix, SigningStatement, TotpConfirmation

pytestmark = pytest.mark.database_free

TEMPLATE_REF = "metrology_supervision@1"
MSP: Template = next(t for t in builtin_templates() if t.ref == TEMPLATE_REF)

SIGNED_AT = dt.datetime(2026, 3, 1, 20, 30, tzinfo=dt.UTC)
"""The signing instant: 2026-03-01 in UTC, 2026-03-02 in Tashkent."""
SIGNING_DAY = "2026-03-02"
DAY_BEFORE = "2026-03-01"
"""The UTC date of the signing instant; the day before in Tashkent."""

SITE_LAT, SITE_LON = 41.275, 69.204
SITE = Site(id="site-chilonzor", entity_tin="301245678", name="Chilonzor dehqon bozori",
            lat="41.275000", lon="69.204000", radius_m="150")
SIGNER = Inspector("insp-a", "Aliyev Anvar", region="Toshkent", attested_until="2026-12-31")
STANDARD = ReferenceInstrument("std-weights", "weights E2", "E2-0042", "2026-12-31", "insp-a")
ASSIGNED = Assignment("asg-1", "market scales", ("insp-a", "insp-b"), site_id=SITE.id)
FIELDS: dict[str, Any] = {
    "number": "TR-0001", "started_at": "2026-03-01T10:00:00+05:00",
    "entity_tin": "301245678", "entity_name": "Chilonzor dehqon bozori MChJ",
    "site_address": "Toshkent, Chilonzor 7", "lead_inspector": "insp-a",
    "conclusion": "compliant",
}
INSPECTED = {"type": "scale", "serial": "SN-1"}
USED = {"instrument_id": STANDARD.id, "type": "weights E2", "serial": "E2-0042",
        "verified_until": "2026-12-31"}


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def materialized(fields: dict[str, Any] | None = None,
                 rows: dict[str, list[dict[str, Any]]] | None = None) -> Protocol:
    """A protocol made the way both sides make it: template-checked ops merged in a
    ``DocumentState`` and materialized with the template (computed values filled in)."""
    doc = str(uuid.uuid4())
    writes: list[tuple[str, Any]] = [("", {TEMPLATE: TEMPLATE_REF, ASSIGNMENT: ASSIGNED.id})]
    writes += list((FIELDS if fields is None else fields).items())
    given = {"instruments": [INSPECTED], "reference_instruments": [USED]} if rows is None else rows
    for collection, values in given.items():
        writes += [(f"{collection}/{uuid.uuid4()}", row) for row in values]
    state, form = DocumentState(doc), form_of(MSP)
    for seq, (path, value) in enumerate(writes, start=1):
        op = Op("device-a", seq, doc, path, value, pack(ms(SIGNED_AT) - 60_000, seq))
        form.check_op(op)
        state.apply(op)
    return state.materialize(MSP)


def fix(lat: float | str = SITE_LAT, lon: float | str = SITE_LON, accuracy: str = "10",
        mock: bool = False) -> LocationFix:
    return LocationFix(lat=str(lat), lon=str(lon), accuracy_m=accuracy,
                       at_ms=ms(SIGNED_AT) - 5_000, mock=mock)


def context(*, protocol: Protocol | None = None, signer: Inspector | None = SIGNER,
            signed_by: str = "insp-a", key_owner: str = "insp-a",
            assignment: Assignment | None = ASSIGNED, site: Site | None = SITE,
            instruments: dict[str, ReferenceInstrument] | None = None,
            location: LocationFix | None = None, no_location: bool = False,
            signed_at: dt.datetime = SIGNED_AT, confirmed: bool | None = True,
            geofence: GeofencePolicy | None = None) -> RuleContext:
    """A context that breaks no rule, but for what the arguments change."""
    protocol = protocol or materialized()
    statement = SigningStatement(
        protocol_id=protocol.id, content_hash="00" * 32, vector={"device-a": 9},
        signer=signed_by, device_id="device-a", kid="ab" * 8, signed_at_ms=ms(signed_at),
        confirmation=TotpConfirmation("000000"),
        location=None if no_location else (location or fix()))
    return RuleContext(
        protocol=protocol, template=MSP, statement=statement, signer=signer,
        key_owner=key_owner, assignment=assignment, site=site,
        instruments={STANDARD.id: STANDARD} if instruments is None else instruments,
        confirmed=confirmed, geofence=geofence or GeofencePolicy())


def codes(found: list[Breach]) -> list[tuple[int, str]]:
    return [(breach.rule, breach.code) for breach in found]


def at_distance(metres: float, bearing: float, lat: float = SITE_LAT,
                lon: float = SITE_LON) -> tuple[str, str]:
    """The point ``metres`` from (lat, lon) along ``bearing`` (geodesic), as decimal strings
    with every digit of the float."""
    point = geodesic(meters=metres).destination((lat, lon), bearing)
    return repr(point.latitude), repr(point.longitude)


def test_the_baseline_context_breaks_no_rule() -> None:
    """A complete protocol, an attested signer on the team signing with their own key inside
    the geofence with a verified standard and a confirmation that verified: nothing to say."""
    assert check_rules(context()) == []


def test_breaches_come_in_rule_order_with_their_numbers() -> None:
    """One breach of every rule at once, listed 1 to 6."""
    found = check_rules(context(
        protocol=materialized(fields={}), signer=None, signed_by="insp-b", instruments={},
        location=fix(lat="41.3"), confirmed=False))
    assert [breach.rule for breach in found] == sorted(breach.rule for breach in found)
    assert {breach.rule for breach in found} == {1, 2, 3, 4, 5, 6}


def test_each_breach_says_what_is_wrong_in_the_words_people_read() -> None:
    """The sentence of every breach, word for word: the tablet shows it when signing is
    blocked, and the registry's quarantine keeps it for supervisors."""
    lapsed = replace(STANDARD, verified_until=DAY_BEFORE)
    ghost = materialized(rows={"instruments": [INSPECTED], "reference_instruments": [
        {**USED, "instrument_id": "std-ghost"}]})
    far_lat, far_lon = at_distance(200, 90)
    found = {
        "unknown signer": check_rules(context(signer=None)),
        "suspended": check_rules(context(signer=replace(SIGNER, suspended=True))),
        "lapsed": check_rules(context(signer=replace(SIGNER, attested_until=DAY_BEFORE))),
        "unknown standard": check_rules(context(protocol=ghost)),
        "unverified standard": check_rules(context(instruments={lapsed.id: lapsed})),
        "no fix": check_rules(context(no_location=True)),
        "mock fix": check_rules(context(location=fix(mock=True))),
        "not a number": check_rules(context(location=fix(lat="abc"))),
        "off the globe": check_rules(context(location=fix(lat="91"))),
        "coarse": check_rules(context(location=fix(accuracy="60"))),
        "outside": check_rules(context(location=fix(far_lat, far_lon, accuracy="10"))),
        "another's key": check_rules(context(key_owner="insp-b")),
        "off the team": check_rules(context(assignment=replace(ASSIGNED,
                                                                 inspectors=("insp-b",)))),
        "unconfirmed": check_rules(context(confirmed=False)),
    }
    bad_location = [Breach(3, "bad_location", "the location fix is not a valid coordinate")]
    assert found == {
        "unknown signer": [Breach(1, "unknown_signer",
                                  "the signer is not a registered inspector")],
        "suspended": [Breach(1, "signer_suspended", "inspector insp-a is suspended")],
        "lapsed": [Breach(1, "attestation_lapsed",
                          "inspector insp-a's attestation is not valid on 2026-03-02")],
        "unknown standard": [Breach(2, "unknown_instrument",
                                    "reference instrument std-ghost is not known")],
        "unverified standard": [Breach(2, "instrument_unverified", "weights E2 E2-0042 is out "
                                       "of verification on 2026-03-02")],
        "no fix": [Breach(3, "no_location", "signing needs a location fix at the site")],
        "mock fix": [Breach(3, "mock_location", "the location comes from a mock provider")],
        "not a number": bad_location,
        "off the globe": bad_location,
        "coarse": [Breach(3, "coarse_location",
                          "the fix is only accurate to 60 m (at most 50 m counts)")],
        "outside": [Breach(3, "outside_geofence",
                           "signed 200 m from the site; the geofence allows 160 m")],
        "another's key": [Breach(4, "not_signer",
                                 "the signing key belongs to another inspector")],
        "off the team": [Breach(4, "not_assigned",
                                "the signer is not on this inspection's team")],
        "unconfirmed": [Breach(6, "confirmation_failed", "the confirmation does not verify")],
    }


# --- rule 1: attestation on the signing date, not suspended ---------------------------------


def test_rule1_the_signing_date_is_the_sites_calendar_day() -> None:
    """20:30 UTC on 1 March is 01:30 on 2 March in Tashkent; a site in another zone counts
    its own day."""
    assert signing_date(context()) == dt.date(2026, 3, 2)
    elsewhere = replace(SITE, time_zone="UTC")
    assert signing_date(context(site=elsewhere)) == dt.date(2026, 3, 1)
    assert signing_date(context(site=None, assignment=None)) == dt.date(2026, 3, 2)


def test_rule1_attestation_ending_on_the_signing_day_is_valid() -> None:
    """The last day of an attestation is still a day it is valid."""
    signer = replace(SIGNER, attested_until=SIGNING_DAY)
    assert check_rules(context(signer=signer)) == []


def test_rule1_attestation_ending_the_day_before_has_lapsed_though_utc_says_same_day() -> None:
    """Attested until 1 March, signed at 20:30 UTC on 1 March: in Tashkent it is already
    2 March, so the attestation has lapsed."""
    signer = replace(SIGNER, attested_until=DAY_BEFORE)
    found = check_rules(context(signer=signer))
    assert codes(found) == [(1, "attestation_lapsed")]
    assert SIGNING_DAY in found[0].message


@pytest.mark.parametrize(("signed_at", "valid"), [
    (dt.datetime(2026, 3, 1, 18, 59, 59, tzinfo=dt.UTC), True),  # 23:59:59 on 1 March
    (dt.datetime(2026, 3, 1, 19, 0, 0, tzinfo=dt.UTC), False),  # 00:00:00 on 2 March
])
def test_rule1_the_day_turns_at_tashkent_midnight(signed_at: dt.datetime, valid: bool) -> None:
    """An attestation ending 1 March holds until 19:00 UTC, midnight in Tashkent."""
    signer = replace(SIGNER, attested_until=DAY_BEFORE)
    found = codes(check_rules(context(signer=signer, signed_at=signed_at)))
    assert found == ([] if valid else [(1, "attestation_lapsed")])


def test_rule1_a_signer_never_attested_cannot_sign() -> None:
    """An empty attestation date is no attestation."""
    signer = replace(SIGNER, attested_until="")
    assert codes(check_rules(context(signer=signer))) == [(1, "attestation_lapsed")]


def test_rule1_a_suspended_signer_cannot_sign_even_when_attested() -> None:
    """Suspension wins over a valid attestation."""
    signer = replace(SIGNER, suspended=True)
    assert codes(check_rules(context(signer=signer))) == [(1, "signer_suspended")]


def test_rule1_an_unknown_signer_cannot_sign() -> None:
    """A signer the registry does not know."""
    assert codes(check_rules(context(signer=None))) == [(1, "unknown_signer")]


# --- rule 2: reference instruments in verification on the signing date -----------------------


def test_rule2_a_standard_whose_verification_lapsed_between_filling_and_signing() -> None:
    """The row was filled while the standard was verified (the row still says 2026-12-31); by
    the signing day (2 March in Tashkent) the registry's record ends on 1 March: refused, by
    the registry's date, not the typed one, and on the site's day, not UTC's."""
    lapsed = replace(STANDARD, verified_until=DAY_BEFORE)
    found = check_rules(context(instruments={lapsed.id: lapsed}))
    assert codes(found) == [(2, "instrument_unverified")]
    assert "E2-0042" in found[0].message


def test_rule2_verification_ending_on_the_signing_day_is_valid() -> None:
    """The last day of a verification is a day it is valid."""
    last_day = replace(STANDARD, verified_until=SIGNING_DAY)
    assert check_rules(context(instruments={last_day.id: last_day})) == []


def test_rule2_an_unknown_standard_is_refused() -> None:
    """A row naming a standard the registry does not have."""
    protocol = materialized(rows={"instruments": [INSPECTED], "reference_instruments": [
        USED, {**USED, "instrument_id": "std-ghost", "serial": "G-1"}]})
    found = check_rules(context(protocol=protocol))
    assert codes(found) == [(2, "unknown_instrument")]
    assert "std-ghost" in found[0].message


def test_rule2_every_lapsed_standard_is_named() -> None:
    """Two standards out of verification: two breaches."""
    other = ReferenceInstrument("std-thermo", "thermometer", "T-7", DAY_BEFORE, "insp-a")
    lapsed = replace(STANDARD, verified_until="2025-01-01")
    protocol = materialized(rows={"instruments": [INSPECTED], "reference_instruments": [
        USED, {**USED, "instrument_id": other.id, "serial": "T-7"}]})
    found = check_rules(context(protocol=protocol,
                                instruments={lapsed.id: lapsed, other.id: other}))
    assert codes(found) == [(2, "instrument_unverified")] * 2


def test_rule2_an_unknown_standard_does_not_hide_the_standards_after_it() -> None:
    """An unknown standard, then a lapsed one: both named, in the protocol's order."""
    lapsed = replace(STANDARD, verified_until=DAY_BEFORE)
    protocol = materialized(rows={"instruments": [INSPECTED], "reference_instruments": [
        {**USED, "instrument_id": "std-ghost"}, USED]})
    found = check_rules(context(protocol=protocol, instruments={lapsed.id: lapsed}))
    assert codes(found) == [(2, "unknown_instrument"), (2, "instrument_unverified")]


def test_rule2_a_row_that_names_no_standard_is_no_standard() -> None:
    """A used-standard row without its instrument id (a draft's) matches no instrument, not
    even one whose id is empty or reads "None"."""
    protocol = materialized(rows={"instruments": [INSPECTED], "reference_instruments": [
        {key: value for key, value in USED.items() if key != "instrument_id"}]})
    instruments = {name: replace(STANDARD, id=name) for name in ("", "None")}
    found = check_rules(context(protocol=protocol, instruments=instruments))
    assert [breach for breach in found if breach.rule == 2] == [
        Breach(2, "unknown_instrument", "reference instrument None is not known")]


def test_rule2_an_inspected_instrument_out_of_verification_is_a_finding_not_a_block() -> None:
    """The "instruments" collection holds what was inspected: its lapsed verification is what
    the inspector found, and signing goes ahead."""
    protocol = materialized(rows={"reference_instruments": [USED], "instruments": [
        {**INSPECTED, "verified_until": "2024-06-30", "seal_intact": False}]})
    assert check_rules(context(protocol=protocol)) == []


def test_rule2_no_standard_used_needs_no_verification() -> None:
    """A protocol without reference instruments has nothing for rule 2 to check."""
    protocol = materialized(rows={"instruments": [INSPECTED]})
    assert check_rules(context(protocol=protocol, instruments={})) == []


# --- rule 3: the signing fix inside the geofence -------------------------------------------

BEARINGS = list(range(0, 360, 7))


@pytest.mark.parametrize("bearing", BEARINGS)
def test_rule3_a_millimetre_inside_the_widened_fence_is_inside(bearing: int) -> None:
    """Radius 150 + accuracy 10 (under the cap of 30): a fix 159.999 m away in any direction
    counts as at the site."""
    lat, lon = at_distance(159.999, bearing)
    assert check_rules(context(location=fix(lat, lon, accuracy="10"))) == []


@pytest.mark.parametrize("bearing", BEARINGS)
def test_rule3_a_metre_beyond_the_widened_fence_is_outside(bearing: int) -> None:
    """The same fence, a fix 161 m away: outside."""
    lat, lon = at_distance(161, bearing)
    found = check_rules(context(location=fix(lat, lon, accuracy="10")))
    assert codes(found) == [(3, "outside_geofence")]


@pytest.mark.parametrize(("metres", "inside"), [
    (159.6, True), (159.999, True), (160.0004, True), (160.002, False), (160.4, False),
    (160.6, False)])
def test_rule3_just_past_the_fence_is_outside_and_just_inside_is_inside(
        metres: float, inside: bool) -> None:
    """Radius 150 + accuracy 10: 160 m allowed, judged to the millimetre. A fix 0.4 m past it
    is outside (distances rounded to whole metres would call it 160 m, inside), and so is one
    2 mm past it; 0.4 m and 1 mm short of it are inside, and so is 0.4 mm past it (less than
    the millimetre distances are rounded to, so that float noise never moves a fix out). The
    breach names the distance in whole metres."""
    lat, lon = at_distance(metres, 45)
    found = check_rules(context(location=fix(lat, lon, accuracy="10")))
    assert codes(found) == ([] if inside else [(3, "outside_geofence")])
    if not inside:
        assert found[0].message == (f"signed {metres:.0f} m from the site; the geofence "
                                    "allows 160 m")


def test_rule3_a_fix_exactly_on_the_boundary_is_inside_at_every_bearing() -> None:
    """The fence is "at most the radius plus the allowance": a fix geopy puts exactly on the
    boundary (``geodesic(meters=180).destination(site, bearing)``, radius 150, accuracy 45
    capped to 30) counts at every bearing, though the round trip comes back up to 2 nm long:
    distances are compared to the millimetre."""
    refused = {}
    for bearing in BEARINGS:
        lat, lon = at_distance(180, bearing)
        found = check_rules(context(location=fix(lat, lon, accuracy="45")))
        if found:
            refused[bearing] = geodesic((SITE_LAT, SITE_LON), (float(lat), float(lon))).meters
    assert refused == {}


@pytest.mark.parametrize(("metres", "accuracy", "inside"), [
    (170, "45", True),  # 45 counts (≤ 50) but widens by 30 only: 180 allowed
    (200, "45", False),  # the brief's case: 200 m out, 45 m accuracy, radius 150 → outside
    (181, "45", False),
    (175, "20", False),  # accuracy under the cap widens by itself: 170 allowed
    (169, "20", True),
    (150, "0", True),  # a perfect fix gets no allowance; the radius itself is inside
    (151, "0", False),
])
def test_rule3_the_accuracy_allowance_is_capped(metres: float, accuracy: str,
                                                inside: bool) -> None:
    """The allowance is min(accuracy, allowance_cap_m = 30) on top of the radius."""
    lat, lon = at_distance(metres, 45)
    found = codes(check_rules(context(location=fix(lat, lon, accuracy=accuracy))))
    assert found == ([] if inside else [(3, "outside_geofence")])


@pytest.mark.parametrize(("accuracy", "counts"), [("50", True), ("50.01", False),
                                                    ("120", False)])
def test_rule3_a_fix_less_accurate_than_the_policy_allows_does_not_count(
        accuracy: str, counts: bool) -> None:
    """max_accuracy_m is 50: a fix reported at 50.01 m does not count, even at the site."""
    found = codes(check_rules(context(location=fix(accuracy=accuracy))))
    assert found == ([] if counts else [(3, "coarse_location")])


def test_rule3_the_policy_is_the_contexts() -> None:
    """A stricter policy (max 5 m, cap 2 m) refuses what the default lets through."""
    lat, lon = at_distance(155, 90)
    assert check_rules(context(location=fix(lat, lon, accuracy="8"))) == []
    strict = GeofencePolicy(max_accuracy_m=Decimal(5), allowance_cap_m=Decimal(2))
    assert codes(check_rules(context(location=fix(lat, lon, accuracy="8"), geofence=strict))) \
        == [(3, "coarse_location")]
    assert codes(check_rules(context(location=fix(lat, lon, accuracy="4"), geofence=strict))) \
        == [(3, "outside_geofence")]
    # 153 m away, accurate to 4 m: inside by the default cap (154 m), outside by the cap of 2
    lat, lon = at_distance(153, 90)
    assert check_rules(context(location=fix(lat, lon, accuracy="4"))) == []
    assert codes(check_rules(context(location=fix(lat, lon, accuracy="4"), geofence=strict))) \
        == [(3, "outside_geofence")]


def test_rule3_the_fence_reaches_the_radius_and_the_accuracy_up_to_the_cap() -> None:
    """``fence_reach``, which the protocol's page draws too: the default cap is 30 m."""
    assert fence_reach(Decimal(150), Decimal(10)) == Decimal(160)
    assert fence_reach(Decimal(150), Decimal(45)) == Decimal(180)
    strict = GeofencePolicy(max_accuracy_m=Decimal(5), allowance_cap_m=Decimal(2))
    assert fence_reach(Decimal(150), Decimal(4), strict) == Decimal(152)


def test_rule3_a_mock_fix_does_not_count_even_at_the_site() -> None:
    """Flagged by the platform as coming from a mock provider."""
    assert codes(check_rules(context(location=fix(mock=True)))) == [(3, "mock_location")]


def test_rule3_no_fix_at_a_site_with_a_geofence() -> None:
    """Signing needs a fix when the assignment has a site."""
    assert codes(check_rules(context(no_location=True))) == [(3, "no_location")]


def test_rule3_no_site_no_geofence() -> None:
    """An assignment with no site fixed: no fix needed, none judged."""
    open_assignment = replace(ASSIGNED, site_id="")
    assert check_rules(context(assignment=open_assignment, site=None, no_location=True)) == []


@pytest.mark.parametrize(("lat", "lon", "accuracy"), [
    ("abc", "69.204", "10"),
    ("41.275", "", "10"),
    ("NaN", "69.204", "10"),
    ("41.275", "Infinity", "10"),
    ("91", "69.204", "10"),
    ("-90.0001", "69.204", "10"),
    ("41.275", "180.5", "10"),
    ("41.275", "-181", "10"),
    ("41.275", "69.204", "-1"),
    ("41.275", "69.204", "ten"),
    ("41,275", "69,204", "10"),
])
def test_rule3_garbage_coordinates_are_a_bad_location(lat: str, lon: str,
                                                      accuracy: str) -> None:
    """Not a decimal, not finite, or off the globe: bad_location, and no exception."""
    found = codes(check_rules(context(location=fix(lat, lon, accuracy))))
    assert found == [(3, "bad_location")]


@pytest.mark.parametrize(("lat", "lon"), [("90", "69.204"), ("-90", "69.204"),
                                        ("41.275", "180"), ("41.275", "-180")])
def test_rule3_the_poles_and_the_antimeridian_are_coordinates(lat: str, lon: str) -> None:
    """Latitude ±90 and longitude ±180 are on the globe: a fix there is judged (far outside
    this fence), not refused as a bad location."""
    assert codes(check_rules(context(location=fix(lat, lon)))) == [(3, "outside_geofence")]


def test_rule3_sites_on_the_edges_of_the_map_fence_their_own_fixes() -> None:
    """A site on a pole or the antimeridian, and a fix 100 m from it: inside a 150 m fence."""
    for site_lat, site_lon in ((90, 0), (-90, 0), (0, 180), (0, -180)):
        site = replace(SITE, lat=str(site_lat), lon=str(site_lon))
        lat, lon = at_distance(100, 0 if site_lat < 0 else 180, site_lat, site_lon)
        found = check_rules(context(site=site, location=fix(lat, lon, accuracy="5")))
        assert found == [], (site_lat, site_lon, found)


def test_rule3_across_the_antimeridian_the_distance_is_short() -> None:
    """A site at lon 179.9995 and a fix at lon -179.9995 on the equator are 111 m apart, not
    359.999 degrees: inside a 150 m fence; 0.0015° further west (167 m) is outside."""
    site = replace(SITE, lat="0", lon="179.9995", radius_m="150")
    near = fix("0", "-179.9995", accuracy="5")
    assert geodesic((0, 179.9995), (0, -179.9995)).meters == pytest.approx(111.3, abs=0.1)
    assert check_rules(context(site=site, location=near)) == []
    far = fix("0", "-179.9990", accuracy="5")
    assert codes(check_rules(context(site=site, location=far))) == [(3, "outside_geofence")]


@pytest.mark.parametrize(("metres", "inside"), [(154, True), (156, False)])
def test_rule3_at_high_latitude_the_distance_is_geodesic(metres: float, inside: bool) -> None:
    """At lat 71 a degree of longitude is a third of one at the equator. A fix 154 m due east
    of the site (radius 150, accuracy 5) is inside; an equirectangular approximation that
    forgets cos(lat) would put it ~470 m out. 156 m east is outside."""
    site = replace(SITE, lat="71.0", lon="25.0", radius_m="150")
    lat, lon = at_distance(metres, 90, 71.0, 25.0)
    flat = math.hypot(float(lat) - 71.0, float(lon) - 25.0) * 111_320
    assert flat > 3 * 155  # the flat approximation's verdict would be "outside" either way
    found = codes(check_rules(context(site=site, location=fix(lat, lon, accuracy="5"))))
    assert found == ([] if inside else [(3, "outside_geofence")])


def test_rule3_the_fix_is_judged_against_the_contexts_site() -> None:
    """The fix is judged against the site given in the context, wherever that is."""
    elsewhere = replace(SITE, lat="39.654", lon="66.975")  # Samarkand
    assert codes(check_rules(context(site=elsewhere))) == [(3, "outside_geofence")]


# --- rule 4: the key is the signer's, and the signer is on the team --------------------------


def test_rule4_a_device_of_inspector_a_signing_as_inspector_b() -> None:
    """insp-b is on the team and attested, but the key belongs to insp-a."""
    signer_b = Inspector("insp-b", "Boboyev Bahodir", attested_until="2026-12-31")
    found = check_rules(context(signer=signer_b, signed_by="insp-b", key_owner="insp-a"))
    assert codes(found) == [(4, "not_signer")]


def test_rule4_a_signer_not_on_the_assignments_team() -> None:
    """Their own key, but the inspection was given to others."""
    others = replace(ASSIGNED, inspectors=("insp-b", "insp-c"))
    assert codes(check_rules(context(assignment=others))) == [(4, "not_assigned")]


def test_rule4_an_unknown_assignment_has_no_team() -> None:
    """No assignment: nobody is assigned (and there is no site to fence)."""
    found = check_rules(context(assignment=None, site=None))
    assert codes(found) == [(4, "not_assigned")]


def test_rule4_both_at_once() -> None:
    """Someone else's key, and a signer off the team: both named."""
    signer_c = Inspector("insp-c", "Karimov Karim", attested_until="2026-12-31")
    found = check_rules(context(signer=signer_c, signed_by="insp-c", key_owner="insp-a"))
    assert codes(found) == [(4, "not_signer"), (4, "not_assigned")]


# --- rule 5: required fields present and valid -----------------------------------------------


def test_rule5_every_missing_required_field_is_named_by_its_path() -> None:
    """An empty protocol: each required top-level field, and the inspected instruments that
    need at least one row."""
    found = check_rules(context(protocol=materialized(fields={}, rows={})))
    assert {breach.rule for breach in found} == {5}
    required = {"number", "started_at", "entity_tin", "entity_name", "site_address",
                "lead_inspector", "conclusion"}
    assert {breach.message.split(":")[0] for breach in found if breach.code == "required"} \
        == required
    assert [breach.message.split(":")[0] for breach in found if breach.code == "row_count"] \
        == ["instruments"]


def test_rule5_one_missing_field() -> None:
    """Only the conclusion missing: one breach, at conclusion."""
    fields = {name: value for name, value in FIELDS.items() if name != "conclusion"}
    found = check_rules(context(protocol=materialized(fields=fields)))
    assert codes(found) == [(5, "required")]
    assert found[0].message.startswith("conclusion:")


@pytest.mark.parametrize("tin", ["30124567", "3012456789", "30124567A"])
def test_rule5_a_stir_is_nine_digits(tin: str) -> None:
    """entity_tin has the pattern ^[0-9]{9}$: eight digits (or ten, or a letter) break it."""
    found = check_rules(context(protocol=materialized(fields={**FIELDS, "entity_tin": tin})))
    assert codes(found) == [(5, "pattern")]
    assert found[0].message.startswith("entity_tin:")


def test_rule5_inspected_instruments_need_a_row() -> None:
    """"instruments" has min_rows 1: a protocol that inspected nothing is not complete."""
    found = check_rules(context(protocol=materialized(rows={"reference_instruments": [USED]})))
    assert codes(found) == [(5, "row_count")]
    assert found[0].message.startswith("instruments:")


def test_rule5_a_required_field_of_a_row_is_named_with_its_row() -> None:
    """A standard's row without its serial: the path is reference_instruments/<row>/serial."""
    row = {key: value for key, value in USED.items() if key != "serial"}
    protocol = materialized(rows={"instruments": [INSPECTED], "reference_instruments": [row]})
    row_id = next(iter(protocol.collections["reference_instruments"]))
    found = check_rules(context(protocol=protocol))
    assert codes(found) == [(5, "required")]
    assert found[0].message.startswith(f"reference_instruments/{row_id}/serial:")


def test_rule5_a_measurement_naming_no_inspected_instrument_is_a_dangling_row() -> None:
    """A measurement row must name a row of "instruments" that is there."""
    measurement = {"nominal": "1.000", "indication": "1.004", "mpe": "0.005", "unit": "kg",
                   "instrument": str(uuid.uuid4())}
    protocol = materialized(rows={"instruments": [INSPECTED], "reference_instruments": [USED],
                                  "measurements": [measurement]})
    row_id = next(iter(protocol.collections["measurements"]))
    found = check_rules(context(protocol=protocol))
    assert codes(found) == [(5, "dangling_row")]
    assert found[0].message.startswith(f"measurements/{row_id}/instrument:")


def test_rule5_computed_values_are_computed_never_typed() -> None:
    """A measurement's error and pass come from the materialization both sides do (so they
    always match); an op typing one is refused before it reaches a protocol."""
    doc, scale, form = str(uuid.uuid4()), str(uuid.uuid4()), form_of(MSP)
    measurement = {"nominal": "1.000", "indication": "1.004", "mpe": "0.005", "unit": "kg",
                   "instrument": scale}
    writes = [("", {TEMPLATE: TEMPLATE_REF, ASSIGNMENT: ASSIGNED.id}), *FIELDS.items(),
              (f"instruments/{scale}", INSPECTED), (f"reference_instruments/{uuid.uuid4()}", USED),
              (f"measurements/{uuid.uuid4()}", measurement)]
    state = DocumentState(doc)
    for seq, (path, value) in enumerate(writes, start=1):
        op = Op("device-a", seq, doc, path, value, pack(ms(SIGNED_AT), seq))
        form.check_op(op)
        state.apply(op)
    protocol = state.materialize(MSP)
    row = next(iter(protocol.collections["measurements"].values()))
    assert (row["error"], row["pass"]) == ("0.004", True)
    assert check_rules(context(protocol=protocol)) == []
    typed = Op("device-a", 99, doc, f"measurements/{uuid.uuid4()}", {"error": "0.000"}, 1)
    with pytest.raises(InvalidOperation) as refused:
        form.check_op(typed)
    assert refused.value.code == "computed_field"


# --- rule 6: the confirmation verifies ----------------------------------------------------------


def test_rule6_a_confirmation_the_registry_could_not_verify() -> None:
    """confirmed=False: the one-time code (or biometric assertion) did not verify."""
    assert codes(check_rules(context(confirmed=False))) == [(6, "confirmation_failed")]


def test_rule6_the_tablet_cannot_judge_the_confirmation() -> None:
    """confirmed=None, as on the tablet (it never holds the TOTP secret): no breach."""
    assert check_rules(context(confirmed=None)) == []


def test_rule6_a_verified_confirmation() -> None:
    """confirmed=True: no breach."""
    assert check_rules(context(confirmed=True)) == []
