"""A filled, signed protocol to print, made without a registry: the tests of the printed
protocol read it back with poppler, and ``bench/document.py`` times its rendering."""

from __future__ import annotations

import uuid
from decimal import Decimal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from field_sync import canonical_bytes, content_hash
from field_sync.document import Person, PrintedProtocol
from field_sync.seal import claim_for, key_id, make_seal
from field_sync.signing import b64url
from schemas import Protocol, builtin_templates
from schemas.signing import LocationFix, SignedProtocol, SigningStatement, TotpConfirmation

__all__ = ["MEASUREMENTS", "PUBLIC_URL", "SIGNED_AT_MS", "filled_protocol"]

PUBLIC_URL = "https://verify.tris.gov.uz"
SIGNED_AT_MS = 1_795_672_800_000
MEASUREMENTS = [  # (instrument serial, nominal, indication, mpe): errors and pass computed
    ("SN-448201", "20.000", "20.030", "0.020"), ("SN-448201", "10.000", "10.005", "0.010"),
    ("SN-448201", "5.000", "4.998", "0.010"), ("SN-448202", "50.000", "50.010", "0.050"),
    ("SN-448202", "30.000", "29.960", "0.030"), ("SN-448202", "15.000", "15.000", "0.020"),
    ("SN-448203", "2.000", "2.001", "0.002"), ("SN-448203", "1.000", "0.996", "0.002"),
    ("SN-448203", "0.500", "0.500", "0.001"),
]


def _row_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _collections() -> dict[str, dict[str, dict[str, object]]]:
    serials = sorted({serial for serial, *_ in MEASUREMENTS})
    instruments = {_row_id(serial): {"type": "tarozi / весы", "serial": serial,
                                     "manufacturer": "Oʻzbekiston “Metrolog” MChJ",
                                     "verified_until": "2027-03-31", "seal_intact": True}
                   for serial in serials}
    measurements = {}
    for index, (serial, nominal, indication, mpe) in enumerate(MEASUREMENTS):
        error = Decimal(indication) - Decimal(nominal)
        measurements[_row_id(f"m{index}")] = {
            "instrument": _row_id(serial), "nominal": nominal, "indication": indication,
            "mpe": mpe, "unit": "kg", "error": str(error), "pass": abs(error) <= Decimal(mpe)}
    return {
        "team": {_row_id("lead"): {"inspector_id": "insp-0042", "role": "lead"},
                 _row_id("member"): {"inspector_id": "insp-0043", "role": "member"}},
        "reference_instruments": {_row_id("ref"): {
            "instrument_id": "std-17", "type": "toshlar toʻplami (F1)", "serial": "W-2231",
            "verified_until": "2027-01-15"}},
        "instruments": instruments, "measurements": measurements}


def filled_protocol(key: ec.EllipticCurvePrivateKey | None = None) -> PrintedProtocol:
    """A metrology supervision protocol with three scales and nine measurements, signed by
    ``key`` (a new one if not given)."""
    template = next(t for t in builtin_templates() if t.code == "MSP")
    protocol = Protocol(
        id="0f5c2a1e-8d4b-4c1a-9e3f-2b7d6c5a4e31", template=template.ref,
        assignment="inspection-7",
        fields={"number": "TR-2026-0000042", "started_at": "2026-11-26T09:30:00+05:00",
                "entity_tin": "301245678", "entity_name": "“Gʻuzor don mahsulotlari” MChJ",
                "site_name": "Chilonzor dehqon bozori",
                "site_address": "Toshkent sh., Chilonzor tumani, Bunyodkor koʻchasi, 7",
                "basis": "Agentlikning 2026-yil 20-noyabrdagi 412-sonli buyrugʻi",
                "lead_inspector": "insp-0042",
                "findings": "Uchta tarozidan ikkitasida xatolik ruxsat etilgan chegaradan "
                            "oshgan. Taʼmirlash kerak. Ўлчов воситалари қайта текширилсин; "
                            "ғалла ва ҳўл мева тарозилари алоҳида қайд этилди.",
                "conclusion": "non_compliant",
                "prescription": "30 kun ichida tarozilarni qiyoslashdan oʻtkazish.",
                "representative_name": "Aʼzam Gʻulomov",
                "representative_position": "direktor", "representative_response":
                "acknowledged"},
        collections=_collections())
    key = key or ec.generate_private_key(ec.SECP256R1())
    kid = key_id(key.public_key())
    statement = SigningStatement(
        protocol_id=protocol.id, content_hash=content_hash(protocol), vector={"tablet-7": 31},
        signer="insp-0042", device_id="tablet-7", kid=kid.hex(), signed_at_ms=SIGNED_AT_MS,
        confirmation=TotpConfirmation("492039"),
        location=LocationFix("41.285117", "69.203462", "6", SIGNED_AT_MS - 20_000))

    def sign(data: bytes) -> bytes:
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    seal = make_seal(claim_for(protocol, template, SIGNED_AT_MS), sign, kid, PUBLIC_URL)
    signed = SignedProtocol(statement, b64url(sign(canonical_bytes(statement))), seal)
    return PrintedProtocol(
        protocol, template, signed, registry_number="2026-00000123",
        people={"insp-0042": Person("Dilnoza Rahimova", "Bosh davlat inspektori"),
                "insp-0043": Person("Oʻtkir Gʻaniyev", "Davlat inspektori")},
        verification_address=f"{PUBLIC_URL}/check")
