"""Fixtures for tests against a real `field-sync serve` process on loopback."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cbor2
import msgspec
import pyotp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib import HttpTransport, Tablet
from field_sync.signing import b64url
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, EnrollRequest, EnrollResponse
from schemas.reference import Site
from schemas.signing import BiometricConfirmation, Receipt, TotpConfirmation
from tests.databases import dispose_database, fresh_database

TEMPLATE = "metrology_supervision@1"
PASSPHRASE = b"test passphrase"
AUTHENTICATORS: dict[str, pyotp.TOTP] = {}
"""Each inspector's authenticator app, as provisioned from the otpauth URI."""
RP_ID = "field-sync.local"
ORIGIN = "https://field-sync.local"
"""The registry's WebAuthn relying party and origin, by default."""


def complete_protocol(tablet: Tablet, assignment: str, number: str) -> str:
    """A protocol with every field the template requires but the conclusion, and one
    inspected instrument; returns its id."""
    assert tablet.inspector is not None
    protocol = tablet.create_protocol(TEMPLATE, assignment, {
        "number": number, "started_at": "2026-11-20T10:00:00+05:00",
        "entity_tin": "301245678", "entity_name": "Toshkent un kombinati",
        "site_address": "Toshkent, Chilonzor 7", "lead_inspector": tablet.inspector.id})
    with tablet.edit(protocol) as edit:
        edit.add_row("instruments", {"type": "scale", "serial": "SN-1"})
    return protocol


def pulled_receipts(server: LocalServer, tablet: Tablet) -> list[Receipt]:
    """Every receipt the registry sends the tablet on a pull from scratch (without pushing)."""
    transport = HttpTransport(server.url)
    receipts, cursor, more = [], "", True
    try:
        while more:
            page = transport.pull(tablet.store.get("token"), cursor)
            receipts.extend(page.receipts)
            cursor, more = page.cursor, page.more
    finally:
        transport.close()
    return receipts


def totp_code(tablet: Tablet, at_ms: int | None = None) -> TotpConfirmation:
    """The code the tablet's inspector reads from the authenticator app (now, or at ``at_ms``)."""
    assert tablet.inspector is not None
    app = AUTHENTICATORS[tablet.inspector.id]
    return TotpConfirmation(app.now() if at_ms is None else app.at(at_ms // 1000))


def wrong_code(tablet: Tablet) -> TotpConfirmation:
    """A six-digit code that is none of the codes near now."""
    assert tablet.inspector is not None
    app = AUTHENTICATORS[tablet.inspector.id]
    near = {app.at(time.time() + 30 * drift) for drift in range(-3, 4)}
    return TotpConfirmation(next(code for code in ("000000", "111111", "222222", "333333",
                                                   "444444", "555555", "666666", "777777")
                                 if code not in near))


_USED_STEPS: dict[str, set[int]] = {}


def fresh_code(tablet: Tablet) -> TotpConfirmation:
    """A right code of a time step this inspector has not used yet (the registry accepts each
    step once, within one step of the signing time: up to three signatures in 30 seconds)."""
    assert tablet.inspector is not None
    used = _USED_STEPS.setdefault(tablet.inspector.id, set())
    now_ms = time.time_ns() // 1_000_000
    step = now_ms // 30_000
    chosen = next(candidate for candidate in (step, step + 1, step - 1) if candidate not in used)
    used.add(chosen)
    return totp_code(tablet, at_ms=chosen * 30_000 + 15_000)


@contextmanager
def registry_process(folder: Path) -> Iterator[LocalServer]:
    """A registry process on a fresh database (SQLite in ``folder``, or the test run's
    PostgreSQL), dropped after."""
    url = fresh_database(folder)
    with LocalServer(folder, secrets.token_urlsafe(16), db_url=url) as running:
        yield running
    dispose_database(url)


@contextmanager
def administrator(server: LocalServer) -> Iterator[AdminClient]:
    """The administrator's client of ``server``."""
    client = AdminClient(server.url, server.admin_token)
    yield client
    client.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with registry_process(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture
def admin(server: LocalServer) -> Iterator[AdminClient]:
    with administrator(server) as client:
        yield client


@pytest.fixture
def opened() -> Iterator[list[Tablet]]:
    """Tablets a test opened; closed after it."""
    tablets: list[Tablet] = []
    yield tablets
    for tablet in tablets:
        tablet.close()


def team(admin: AdminClient, server: LocalServer, folder: Path, size: int,
          opened: list[Tablet], site: Site | None = None) -> tuple[str, list[Tablet]]:
    """``size`` enrolled tablets whose inspectors share one new assignment (at ``site``, if
    given), all synced once."""
    suffix = secrets.token_hex(4)
    inspectors = [f"insp-{suffix}-{index}" for index in range(size)]
    tablets = []
    attested = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()
    for inspector in inspectors:
        admin.create_inspector(inspector, f"Inspector {inspector}")
        admin.put_reference("inspector", inspector, {
            "id": inspector, "full_name": f"Inspector {inspector}", "attested_until": attested})
        tablet = Tablet(folder / f"{inspector}.sqlite", PASSPHRASE)
        opened.append(tablet)
        enrollment = admin.enrollment(inspector)
        AUTHENTICATORS[inspector] = pyotp.parse_uri(enrollment.totp_uri)
        tablet.enroll(enrollment.code, server.url)
        tablets.append(tablet)
    assignment = f"assignment-{suffix}"
    if site is not None:
        admin.put_reference("site", site.id, msgspec.to_builtins(site))
    admin.put_assignment(Assignment(assignment, "market scales", tuple(inspectors),
                                    site_id=site.id if site else ""))
    for tablet in tablets:
        assert tablet.sync().ok
    return assignment, tablets




class SoftwareAuthenticator:
    """A WebAuthn platform authenticator in software: a P-256 credential, user presence and
    user verification flags, a signature counter."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = b64url(secrets.token_bytes(16))
        self.sign_count = 0

    def cose_public_key(self) -> str:
        numbers = self.key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big")}  # EC2, ES256, P-256
        return b64url(cbor2.dumps(cose))

    def assertion(self, challenge: bytes, *, user_verified: bool = True,
                  origin: str = ORIGIN, rp_id: str = RP_ID,
                  sign_count: int | None = None) -> BiometricConfirmation:
        if sign_count is None:
            self.sign_count += 1
            sign_count = self.sign_count
        flags = 0x01 | (0x04 if user_verified else 0)  # UP, UV
        authenticator_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
                              + sign_count.to_bytes(4, "big"))
        client_data = json.dumps({"type": "webauthn.get", "challenge": b64url(challenge),
                                  "origin": origin}).encode()
        signature = self.key.sign(authenticator_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return BiometricConfirmation(credential_id=self.credential_id,
                                     authenticator_data=b64url(authenticator_data),
                                     client_data_json=b64url(client_data),
                                     signature=b64url(signature))


class BiometricEnrollment(HttpTransport):
    """HTTP that registers the authenticator's credential with the enrollment, as an app does
    through ``Tablet.enroll(..., biometric_credential_id=, biometric_public_key=)``."""

    def __init__(self, base_url: str, authenticator: SoftwareAuthenticator) -> None:
        super().__init__(base_url)
        self.authenticator = authenticator

    def enroll(self, request: EnrollRequest) -> EnrollResponse:
        return super().enroll(msgspec.structs.replace(
            request, biometric_credential_id=self.authenticator.credential_id,
            biometric_public_key=self.authenticator.cose_public_key()))
