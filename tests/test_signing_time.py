"""A signature's time cannot be chosen freely: never before anything the registry can tell came
before it, never after it reached the registry (give or take the clock bound). The registry
refuses every backdated or future-dated signature with a stable code, against a real
`field-sync serve` process; the tablet refuses offline what it can tell; an honest tablet whose
clock heard a teammate's later stamp signs after it and registers; and the core's rules hold
exactly at their bounds."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib import SigningTimeRefused, Tablet
from field_sync import canonical_bytes, physical_ms
from field_sync.confirmation import biometric_challenge
from field_sync.seal import make_seal, read_seal
from field_sync.signing import b64url, sign_canonical, verify_canonical
from field_sync.signing_time import (
    EARLIER_OP,
    KEY,
    LOCATION,
    REGISTRY_TIME,
    SIGNED_OP,
    Floor,
    check_signing_time,
)
from field_sync.signing_time import (
    SigningTimeRefused as OutOfBounds,
)
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment
from schemas.signing import LocationFix, RegistryTime, SignedProtocol, SigningStatement
from tests.live import (
    AUTHENTICATORS,
    PASSPHRASE,
    BiometricEnrollment,
    SoftwareAuthenticator,
    complete_protocol,
    fresh_code,
    team,
    totp_code,
)
from tests.test_signing_server import (
    assert_nothing_registered,
    assert_registered,
    new_protocol,
    pending_freeze,
    push,
    trust_list,
    with_signed,
)

DAY_MS = 86_400_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def forged(tablet: Tablet, signed: SignedProtocol, **changes: object) -> SignedProtocol:
    """The tablet's signature with ``changes`` to its statement, signed by the device key, its
    seal made for the statement's time and its one-time code the right one for that time: a
    signature a tablet with its clock set as it liked would make."""
    statement = msgspec.structs.replace(signed.statement, **changes)
    statement = msgspec.structs.replace(
        statement, confirmation=totp_code(tablet, at_ms=statement.signed_at_ms))
    claim = msgspec.structs.replace(read_seal(signed.seal).claim,
                                    signed_at=statement.signed_at_ms // 1000)
    seal = make_seal(claim, tablet.keys.sign, bytes.fromhex(statement.kid),
                     tablet.store.get("public_url"))
    return SignedProtocol(statement, b64url(tablet.keys.sign(canonical_bytes(statement))), seal)


def test_a_signature_dated_outside_what_the_registry_knows_is_refused(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """Each bound, broken by a signature its device key really made, with the one-time code of
    its time: refused with the bound's code, nothing registered, and the genuine signature
    still registers afterwards."""
    assignment, (a, b) = team(admin, server, tmp_path, 2, opened)
    told_early = a.store.registry_time()
    protocol = complete_protocol(a, assignment, f"TR-2026-{secrets.randbelow(10**7):07d}")
    with a.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    assert a.sync().ok
    told_after_push = a.store.registry_time()
    assert b.sync().ok
    with b.edit(protocol) as edit:  # a teammate's edit, the latest op the signature covers
        edit.set("findings", "seal of the scale broken")
    assert b.sync().ok and a.sync().ok
    own_latest = physical_ms(a.store.highest_stamp())
    teammates = physical_ms(b.store.highest_stamp())
    told, b_told = a.store.registry_time(), b.store.registry_time()
    assert told_early is not None and told_after_push is not None and told is not None
    assert b_told is not None
    assert told_early.at_ms < own_latest and max(own_latest, told_after_push.at_ms) < teammates
    key_from = next(key.valid_from_ms for key in trust_list(server).keys
                    if key.kid == a.store.get("kid"))

    before = admin.protocol(protocol)
    freeze = a.sign(protocol, fresh_code(a))
    assert freeze.signed is not None
    genuine, op = freeze.signed, pending_freeze(a, protocol)
    signed_at = genuine.statement.signed_at_ms
    fix = LocationFix("41.311081", "69.240562", "8", signed_at + 1_000)
    cases: dict[str, tuple[SignedProtocol, str]] = {
        "before the registry time it was told": (
            forged(a, genuine, signed_at_ms=told.at_ms - 1), "signed_before_registry_time"),
        "before an earlier op of its device, carrying an older registry time": (
            forged(a, genuine, signed_at_ms=told_early.at_ms, registry_time=told_early),
            "signed_before_earlier_op"),
        "before a teammate's op it signs": (
            forged(a, genuine, signed_at_ms=max(own_latest, told_after_push.at_ms),
                   registry_time=told_after_push), "signed_before_its_ops"),
        "before its location fix": (forged(a, genuine, location=fix), "signed_before_location"),
        "before its key was enrolled": (
            forged(a, genuine, signed_at_ms=key_from - 1), "key_not_yet_valid"),
        "a day back": (forged(a, genuine, signed_at_ms=signed_at - DAY_MS),
                       "key_not_yet_valid"),
        "ten minutes after it reaches the registry": (
            forged(a, genuine, signed_at_ms=_now_ms() + 10 * 60_000), "signed_in_future"),
        "without a registry time": (forged(a, genuine, registry_time=None),
                                    "registry_time_missing"),
        "with a teammate's registry time": (forged(a, genuine, registry_time=b_told),
                                            "registry_time_invalid"),
        "with a registry time it was never told": (
            forged(a, genuine, registry_time=msgspec.structs.replace(
                told, at_ms=told.at_ms - 1)), "registry_time_invalid"),
    }
    outcomes = {case: push(server, a, [with_signed(op, signature)])
                for case, (signature, _) in cases.items()}
    assert outcomes == {case: [("rejected", code)] for case, (_, code) in cases.items()}
    assert_nothing_registered(admin, server, a, protocol, before, genuine.seal, sync=False)
    report = a.sync()
    assert report.ok and report.rejected == 0, report
    assert_registered(server, a, protocol, freeze)


class _Clock:
    """A tablet's wall clock, which a test sets forward or back."""

    def __init__(self) -> None:
        self.shift_ms = 0

    def __call__(self) -> int:
        return _now_ms() + self.shift_ms


def _enrolled(admin: AdminClient, server: LocalServer, folder: Path, opened: list[Tablet],
              inspector: str, clock: _Clock, authenticator: SoftwareAuthenticator | None = None
              ) -> Tablet:
    admin.create_inspector(inspector, f"Inspector {inspector}")
    admin.put_reference("inspector", inspector, {
        "id": inspector, "full_name": f"Inspector {inspector}", "attested_until": "2099-12-31"})
    transport = BiometricEnrollment(server.url, authenticator) if authenticator else None
    tablet = Tablet(folder / f"{inspector}.sqlite", PASSPHRASE, transport=transport,
                    wall_ms=clock)
    opened.append(tablet)
    enrollment = admin.enrollment(inspector)
    AUTHENTICATORS[inspector] = pyotp.parse_uri(enrollment.totp_uri)
    tablet.enroll(enrollment.code, server.url)
    return tablet


@pytest.fixture
def skewed(admin: AdminClient, server: LocalServer, tmp_path: Path,
           opened: list[Tablet]) -> Iterator[tuple[Tablet, _Clock, str]]:
    """A synced tablet whose wall clock the test sets, with a protocol ready to sign."""
    clock, inspector = _Clock(), f"insp-{secrets.token_hex(4)}"
    tablet = _enrolled(admin, server, tmp_path, opened, inspector, clock)
    assignment = f"assignment-{inspector}"
    admin.put_assignment(Assignment(assignment, "market scales", (inspector,)))
    assert tablet.sync().ok
    yield tablet, clock, new_protocol(tablet, assignment)


def _refused_offline(tablet: Tablet, protocol: str, sign: Callable[[], object]) -> str:
    """The code of ``sign()``'s offline refusal; nothing is frozen or queued."""
    pending = tablet.pending()
    with pytest.raises(SigningTimeRefused) as refused:
        sign()
    assert tablet.pending() == pending and tablet.signature(protocol) is None
    return refused.value.code


def test_the_tablet_refuses_offline_to_sign_at_a_time_the_registry_would_refuse(
    skewed: tuple[Tablet, _Clock, str]
) -> None:
    tablet, clock, protocol = skewed
    told = tablet.store.registry_time()
    assert told is not None
    clock.shift_ms = -DAY_MS  # its clock set a day back after the last sync
    assert tablet.signing_time(protocol) >= told.at_ms  # never before what it was told
    codes = {"a one-time code, with its clock set back a day": _refused_offline(
        tablet, protocol, lambda: tablet.sign(protocol, totp_code(tablet)))}
    clock.shift_ms = 0
    fix_ahead = LocationFix("41.3", "69.2", "8", _now_ms() + 10 * 60_000)
    codes |= {
        "before the registry time it was told": _refused_offline(
            tablet, protocol, lambda: tablet.sign(protocol, totp_code(tablet),
                                                  signed_at_ms=told.at_ms - 1)),
        "a fix dated ten minutes ahead": _refused_offline(
            tablet, protocol, lambda: tablet.sign(protocol, totp_code(tablet), fix_ahead)),
        "ten minutes ahead": _refused_offline(
            tablet, protocol, lambda: tablet.sign(protocol, totp_code(tablet),
                                                  signed_at_ms=_now_ms() + 10 * 60_000)),
    }
    with tablet.store.transaction() as db:  # as an app updated from before registry times
        db.execute("DELETE FROM meta WHERE key = 'registry_time'")
    codes["never told a registry time"] = _refused_offline(
        tablet, protocol, lambda: tablet.sign(protocol, totp_code(tablet)))
    assert codes == {
        "a one-time code, with its clock set back a day": "clock_behind",
        "before the registry time it was told": "signed_before_registry_time",
        "a fix dated ten minutes ahead": "clock_behind",
        "ten minutes ahead": "signed_in_future",
        "never told a registry time": "registry_time_missing",
    }
    assert tablet.sync().ok  # told the time again, it signs
    assert tablet.sign(protocol, fresh_code(tablet)).signed is not None
    assert tablet.sync().ok and tablet.status(protocol) == ("registered", [])


def test_a_tablet_that_heard_a_later_stamp_signs_after_it_and_registers(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """A teammate whose clock runs two minutes ahead (within the bound) edits the protocol: the
    tablet's clock moves past that stamp, and it signs no earlier, so the registry takes it.
    A one-time code for now could not match that time: the tablet says so offline."""
    suffix = secrets.token_hex(4)
    authenticator, ahead = SoftwareAuthenticator(), _Clock()
    signer = _enrolled(admin, server, tmp_path, opened, f"insp-{suffix}-a", _Clock(),
                       authenticator)
    teammate = _enrolled(admin, server, tmp_path, opened, f"insp-{suffix}-b", ahead)
    assignment = f"assignment-{suffix}"
    admin.put_assignment(Assignment(assignment, "fuel dispensers",
                                    (f"insp-{suffix}-a", f"insp-{suffix}-b")))
    assert signer.sync().ok
    protocol = new_protocol(signer, assignment)
    assert teammate.sync().ok
    ahead.shift_ms = 2 * 60_000
    with teammate.edit(protocol) as edit:
        edit.set("findings", "checked twice")
    assert teammate.sync().ok and signer.sync().ok
    heard = physical_ms(teammate.store.highest_stamp())
    assert heard > _now_ms() + 60_000

    assert _refused_offline(signer, protocol,
                            lambda: signer.sign(protocol, totp_code(signer))) == "clock_behind"
    at = signer.signing_time(protocol)
    assert at >= heard
    freeze = signer.sign(protocol, authenticator.assertion(
        signer.biometric_challenge(protocol, at)), signed_at_ms=at)
    report = signer.sync()
    assert report.ok and report.rejected == 0, report
    assert_registered(server, signer, protocol, freeze)


# -- the core, exactly at its bounds -----------------------------------------------------------


@pytest.mark.database_free
@pytest.mark.parametrize("floor", [EARLIER_OP, SIGNED_OP, LOCATION, KEY, REGISTRY_TIME])
def test_each_floor_holds_to_the_millisecond(floor: Floor) -> None:
    check_signing_time(1_000, [(floor, 1_000)], 1_000)  # at the floor and at the latest: taken
    with pytest.raises(OutOfBounds) as refused:
        check_signing_time(999, [(KEY, 0), (floor, 1_000)], 5_000)
    assert refused.value.code == floor.code
    with pytest.raises(OutOfBounds) as late:
        check_signing_time(1_001, [(floor, 1_000)], 1_000)
    assert late.value.code == "signed_in_future"


@pytest.mark.database_free
def test_a_biometric_challenge_binds_the_content_and_the_signing_time() -> None:
    digest = "ab" * 32
    challenge = biometric_challenge(digest, 1_700_000_000_000)
    assert challenge == hashlib.sha256(
        b'["field-sync/biometric/1","' + digest.encode() + b'",1700000000000]').digest()
    assert challenge != biometric_challenge(digest, 1_700_000_000_001)
    assert challenge != biometric_challenge("cd" * 32, 1_700_000_000_000)


@pytest.mark.database_free
def test_a_statement_signed_before_registry_times_still_verifies() -> None:
    """A statement as tablets signed it before the registry time was added encodes to the same
    bytes, so its signature still verifies; one that carries it is signed over it."""
    old = (b'{"confirmation":{"code":"492039","type":"totp"},"content_hash":"' + b"0" * 64
           + b'","device_id":"d1","kid":"00112233aabbccdd","protocol_id":"p1","signed_at_ms":'
           b'1700000000000,"signer":"i1","vector":{"d1":3}}')
    key = ec.generate_private_key(ec.SECP256R1())
    statement = msgspec.json.decode(old, type=SigningStatement)
    assert canonical_bytes(statement) == old
    signature = sign_canonical(key, msgspec.json.decode(old))
    assert verify_canonical(key.public_key(), statement, signature)
    told = msgspec.structs.replace(statement, registry_time=RegistryTime("d1", 1, "m"))
    assert b'"registry_time":{"at_ms":1,"device_id":"d1","mac":"m"}' in canonical_bytes(told)
    assert not verify_canonical(key.public_key(), told, signature)
