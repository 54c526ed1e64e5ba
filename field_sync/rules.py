"""The seven registry rules, written once and run on both sides (docs/protocol/signing.md).

On the tablet a broken rule blocks signing, offline, with the list of reasons; on the registry a
signed protocol that breaks one is quarantined with the same reasons. Each rule is a function of
what both sides hold (the protocol, the signing statement, the reference data) and returns the
breaches it finds; ``check_rules`` runs them all.

1. The signer's attestation is valid on the signing date, and the signer is not suspended.
2. Every reference instrument used has a metrological verification valid on that date.
3. The signing fix lies inside the site's geofence (geodesic distance, accuracy allowance capped;
   a too-coarse or mock fix does not count).
4. The signing key belongs to the signer, who is on the inspection's team.
5. Required template fields are present and valid (computed values are recomputed, never typed).
6. The confirmation verifies (the registry decides; the tablet cannot check a one-time code).
7. The evidence: every required attachment is there, and no photo was taken away from the site
   (a photo's place, from its EXIF data or the tablet's fix, outside the geofence by more than
   its accuracy; ``field_sync.evidence``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import msgspec

from field_sync.evidence import evidence_of, outside_site
from field_sync.forms import form_of
from field_sync.geo import decimal_or_none, distance_m
from schemas.documents import Protocol
from schemas.reference import Assignment, Inspector, ReferenceInstrument, Site
from schemas.signing import SigningStatement
from schemas.templates import Template

__all__ = ["Breach", "GeofencePolicy", "RuleContext", "check_rules", "fence_reach", "signing_date"]


class Breach(msgspec.Struct, frozen=True):
    """A broken rule: its number (1–7), a stable code and a sentence for people."""

    rule: int
    code: str
    message: str


@dataclass(frozen=True)
class GeofencePolicy:
    """How much a fix's reported accuracy may widen a geofence."""

    max_accuracy_m: Decimal = Decimal(50)
    """A fix reported less accurate than this does not count at all."""
    allowance_cap_m: Decimal = Decimal(30)
    """At most this much of the accuracy is added to the radius."""


@dataclass(frozen=True)
class RuleContext:
    """Everything the rules look at, as the tablet or the registry holds it."""

    protocol: Protocol
    template: Template
    statement: SigningStatement
    signer: Inspector | None
    key_owner: str
    """The inspector the signing key (or device) belongs to."""
    assignment: Assignment | None
    site: Site | None
    instruments: Mapping[str, ReferenceInstrument]
    confirmed: bool | None = None
    """True or False once the registry checked the confirmation; None on the tablet."""
    geofence: GeofencePolicy = field(default_factory=GeofencePolicy)


def signing_date(context: RuleContext) -> dt.date:
    """The signing day in the site's time zone (Asia/Tashkent, +05:00, by default)."""
    zone = ZoneInfo(context.site.time_zone if context.site else "Asia/Tashkent")
    return dt.datetime.fromtimestamp(context.statement.signed_at_ms / 1000, zone).date()


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _attestation(context: RuleContext) -> list[Breach]:
    signer, day = context.signer, signing_date(context)
    if signer is None:
        return [Breach(1, "unknown_signer", "the signer is not a registered inspector")]
    if signer.suspended:
        return [Breach(1, "signer_suspended", f"inspector {signer.id} is suspended")]
    until = _day(signer.attested_until)
    if until is None or until < day:
        return [Breach(1, "attestation_lapsed",
                       f"inspector {signer.id}'s attestation is not valid on {day}")]
    return []


def _instruments(context: RuleContext) -> list[Breach]:
    day, found = signing_date(context), []
    used = context.protocol.collections.get("reference_instruments", {})
    for row in used.values():
        # A row that names no instrument (a draft's) matches none, whatever the ids are.
        instrument = context.instruments.get(row["instrument_id"]) \
            if "instrument_id" in row else None
        if instrument is None:
            found.append(Breach(2, "unknown_instrument",
                                f"reference instrument {row.get('instrument_id')} is not known"))
            continue
        until = _day(instrument.verified_until)
        if until is None or until < day:
            found.append(Breach(2, "instrument_unverified",
                                f"{instrument.type} {instrument.serial} is out of verification "
                                f"on {day}"))
    return found


def fence_reach(radius_m: Decimal, accuracy_m: Decimal,
                policy: GeofencePolicy | None = None) -> Decimal:
    """How far from a site's centre its geofence admits a fix reported accurate to
    ``accuracy_m``: the radius widened by the accuracy, up to the policy's cap."""
    return radius_m + min(accuracy_m, (policy or GeofencePolicy()).allowance_cap_m)


def _geofence(context: RuleContext) -> list[Breach]:
    site, fix = context.site, context.statement.location
    if site is None:
        return []
    if fix is None:
        return [Breach(3, "no_location", "signing needs a location fix at the site")]
    if fix.mock:
        return [Breach(3, "mock_location", "the location comes from a mock provider")]
    numbers = [decimal_or_none(text) for text in (fix.lat, fix.lon, fix.accuracy_m, site.lat,
                                                  site.lon, site.radius_m)]
    if any(number is None for number in numbers):
        return [Breach(3, "bad_location", "the location fix is not a valid coordinate")]
    lat, lon, accuracy, site_lat, site_lon, radius = (Decimal(n or 0) for n in numbers)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and accuracy >= 0):
        return [Breach(3, "bad_location", "the location fix is not a valid coordinate")]
    policy = context.geofence
    if accuracy > policy.max_accuracy_m:
        return [Breach(3, "coarse_location",
                       f"the fix is only accurate to {fix.accuracy_m} m "
                       f"(at most {policy.max_accuracy_m} m counts)")]
    distance = distance_m(site_lat, site_lon, lat, lon)
    allowed = fence_reach(radius, accuracy, policy)
    if distance > allowed:
        return [Breach(3, "outside_geofence",
                       f"signed {distance:.0f} m from the site; the geofence allows {allowed} m")]
    return []


def _signer(context: RuleContext) -> list[Breach]:
    statement, found = context.statement, []
    if context.key_owner != statement.signer:
        found.append(Breach(4, "not_signer", "the signing key belongs to another inspector"))
    if context.assignment is None or statement.signer not in context.assignment.inspectors:
        found.append(Breach(4, "not_assigned", "the signer is not on this inspection's team"))
    return found


def _fields(context: RuleContext) -> list[Breach]:
    return [Breach(5, violation.code, f"{violation.path}: {violation.message}")
            for violation in form_of(context.template).violations(context.protocol)]


def _confirmation(context: RuleContext) -> list[Breach]:
    if context.confirmed is False:
        return [Breach(6, "confirmation_failed", "the confirmation does not verify")]
    return []


def _evidence(context: RuleContext) -> list[Breach]:
    found = []
    for item in evidence_of(context.template, context.protocol):
        if item.attachment is None:
            if item.field.required:
                found.append(Breach(7, "attachment_missing",
                                    f"{item.path}: a required attachment is missing"))
            continue
        away = outside_site(item.attachment, context.site)
        if away is not None:
            found.append(Breach(7, "evidence_elsewhere",
                                f"{item.path}: taken {away.distance_m:.0f} m from the site; the "
                                f"geofence allows {away.allowed_m} m"))
    return found


RULES: tuple[Callable[[RuleContext], list[Breach]], ...] = (
    _attestation, _instruments, _geofence, _signer, _fields, _confirmation, _evidence)


def check_rules(context: RuleContext) -> list[Breach]:
    """Every breach of the seven rules, in rule order; empty when signing may proceed."""
    return [breach for rule in RULES for breach in rule(context)]
