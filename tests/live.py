"""Fixtures for tests against a real `field-sync serve` process on loopback."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pyotp
import pytest

from client_lib import HttpTransport, Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment
from schemas.reference import Site
from schemas.signing import Receipt, TotpConfirmation
from tests.databases import dispose_database, fresh_database

TEMPLATE = "metrology_supervision@1"
PASSPHRASE = b"test passphrase"
AUTHENTICATORS: dict[str, pyotp.TOTP] = {}
"""Each inspector's authenticator app, as provisioned from the otpauth URI."""


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


