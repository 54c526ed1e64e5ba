"""Signing against a real `field-sync serve` process: the registry registers a good signature
and countersigns it, and refuses every bad one with a clear code while changing nothing."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib import HttpTransport, ProtocolSigned, Tablet
from client_lib.errors import RegistryRefused
from field_sync import canonical_bytes, content_hash
from field_sync.freeze import Freeze
from field_sync.keys import load_public_key
from field_sync.paths import FREEZE
from field_sync.registry_pin import RegistryPin
from field_sync.seal import PREFIX, Claim, key_id, make_seal, read_seal, seal_hash
from field_sync.signing import b64url, verify_canonical
from field_sync.verify import trust_list_is_signed, verify_seal
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, Op, ProtocolRecord, PushRequest
from schemas.signing import (
    BiometricConfirmation,
    Receipt,
    SignedProtocol,
    TrustList,
)
from tests.live import (
    PASSPHRASE,
    BiometricEnrollment,
    SoftwareAuthenticator,
    complete_protocol,
    fresh_code,
    pulled_receipts,
    team,
    totp_code,
    wrong_code,
)

pytestmark = pytest.mark.e2e

JSON = {"Accept": "application/json"}


# -- helpers ----------------------------------------------------------------------------------


def new_protocol(tablet: Tablet, assignment: str, conclusion: str = "non_compliant") -> str:
    """A protocol that keeps every registry rule, synced to the registry, ready to sign."""
    protocol = complete_protocol(tablet, assignment, f"TR-2026-{secrets.randbelow(10**7):07d}")
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", conclusion)
    assert tablet.check_signing(protocol) == []
    assert tablet.sync().ok
    return protocol


def refusal(tablet: Tablet, protocol: str) -> str:
    """The code of the registry's refusal of the tablet's latest freeze of ``protocol``."""
    refused = [entry for entry in tablet.rejections()
               if entry.op.doc == protocol and entry.op.path == FREEZE]
    assert refused, "the registry accepted the freeze"
    return max(refused, key=lambda entry: entry.op.seq).code


def sign_and_sync(tablet: Tablet, protocol: str, confirmation: Any) -> Freeze:
    freeze = tablet.sign(protocol, confirmation)
    report = tablet.sync()
    assert report.ok, report
    return freeze


def registry_pin(server: LocalServer) -> RegistryPin:
    """The registry key's pin, from the fingerprint the registry publishes."""
    response = httpx.get(f"{server.url}/v1/registry-key", headers=JSON, timeout=30)
    assert response.status_code == 200, response.text
    return RegistryPin(response.json()["fingerprint"])


def trust_list(server: LocalServer) -> TrustList:
    response = httpx.get(f"{server.url}/v1/trust-list", headers=JSON, timeout=30)
    assert response.status_code == 200, response.text
    return msgspec.json.decode(response.content, type=TrustList)


def online_verdict(server: LocalServer, seal: str) -> dict[str, Any]:
    tail = seal[seal.rfind("/") + 1:]
    response = httpx.get(f"{server.url}/v1/verify/{tail}", headers=JSON, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def push(server: LocalServer, tablet: Tablet, ops: list[Op]) -> list[tuple[str, str]]:
    """Push ``ops`` as the tablet, by hand; ``(status, code)`` per op."""
    transport = HttpTransport(server.url)
    try:
        response = transport.push(tablet.store.get("token"), PushRequest(ops))
    finally:
        transport.close()
    return [(result.status, result.code) for result in response.results]


def pending_freeze(tablet: Tablet, protocol: str) -> Op:
    (entry,) = [entry for entry in tablet.store.outbox("pending", doc=protocol)
                if entry.op.path == FREEZE]
    return entry.op


def with_signed(op: Op, signed: SignedProtocol) -> Op:
    """The freeze op with another signature in it."""
    freeze = msgspec.convert(op.value, Freeze)
    value = msgspec.to_builtins(Freeze(freeze.vector, freeze.content_hash, signed))
    return msgspec.structs.replace(op, value=value)


def assert_nothing_registered(admin: AdminClient, server: LocalServer, tablet: Tablet,
                              protocol: str, before: ProtocolRecord, seal: str,
                              sync: bool = True, verdict: str = "not_registered") -> None:
    """The registry's copy is as it was before the refused freeze, unsigned and unsealed.

    ``sync=False`` when the tablet still holds the genuine freeze, unsent.
    """
    after = admin.protocol(protocol)
    assert after.protocol == before.protocol
    assert after.content_hash == before.content_hash
    assert after.vector == before.vector
    assert after.held == before.held
    assert protocol not in {receipt.protocol_id for receipt in pulled_receipts(server, tablet)}
    if sync:
        assert tablet.sync().ok
        assert tablet.receipt(protocol) is None
        assert tablet.status(protocol) == ("draft", [])
    assert online_verdict(server, seal)["verdict"] == verdict


def assert_still_open(admin: AdminClient, tablet: Tablet, protocol: str) -> None:
    """The registry did not freeze the protocol: an edit is still merged."""
    with tablet.edit(protocol) as edit:
        edit.set("findings", "added after a refused signature")
    report = tablet.sync()
    assert report.ok and report.rejected == 0, report
    assert admin.protocol(protocol).protocol.fields["findings"] == \
        "added after a refused signature"


def assert_registered(server: LocalServer, tablet: Tablet, protocol: str,
                      freeze: Freeze) -> Receipt:
    receipt = tablet.receipt(protocol)
    assert receipt is not None
    assert tablet.status(protocol) == ("registered", [])
    assert freeze.signed is not None
    assert receipt.protocol_id == protocol
    assert receipt.content_hash == freeze.content_hash
    assert receipt.seal_hash == seal_hash(freeze.signed.seal)
    verdict = online_verdict(server, freeze.signed.seal)
    assert verdict["verdict"] == "genuine", verdict
    assert verdict["registry_number"] == receipt.registry_number
    return receipt


def registry_number_of(server: LocalServer, seal: str) -> str:
    number: str = online_verdict(server, seal)["registry_number"]
    return number


# -- TOTP -------------------------------------------------------------------------------------


def test_good_totp_signature_registers_and_the_receipt_verifies(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a, b) = team(admin, server, tmp_path, 2, opened)
    protocol = new_protocol(a, assignment)
    freeze = sign_and_sync(a, protocol, fresh_code(a))
    assert freeze.signed is not None
    assert a.rejections() == []
    receipt = assert_registered(server, a, protocol, freeze)
    assert b.sync().ok
    assert b.receipt(protocol) == receipt  # the receipt reaches the whole team

    record = admin.protocol(protocol)
    assert record.content_hash == freeze.content_hash
    # the receipt is countersigned by the registry key the public trust list names
    trusted = trust_list(server)
    assert trust_list_is_signed(trusted, registry_pin(server))
    unsigned = msgspec.structs.replace(receipt, signature="")
    assert verify_canonical(load_public_key(trusted.registry_key), unsigned, receipt.signature)
    forged = msgspec.structs.replace(unsigned, registry_number="2026-99999999")
    assert not verify_canonical(load_public_key(trusted.registry_key), forged, receipt.signature)
    # the seal verifies offline with that trust list, naming the device and inspector
    seal = freeze.signed.seal
    assert seal.startswith(server.url.upper() + "/V/" + PREFIX)
    verdict = verify_seal(seal, trusted)
    assert verdict.verdict == "genuine"
    assert verdict.key is not None and a.inspector is not None
    assert (verdict.key.inspector_id, verdict.key.device_id) == (a.inspector.id, a.device_id)
    # ...claiming what the protocol says, field by field (tablet and registry build the claim
    # the same way, so it is compared with the protocol itself)
    signed = a.protocol(protocol)
    assert verdict.claim == Claim(
        protocol_id=protocol, number=signed.fields["number"], kind="MSP",
        entity=signed.fields["entity_tin"], result=signed.fields["conclusion"],
        signed_at=freeze.signed.statement.signed_at_ms // 1000,
        content_hash=freeze.content_hash)
    assert signed.fields["number"].startswith("TR-2026-")
    assert (signed.fields["entity_tin"], signed.fields["conclusion"]) == (
        "301245678", "non_compliant")
    assert record.protocol == signed and content_hash(signed) == freeze.content_hash
    # a signed protocol is closed: a later edit is refused and kept aside
    with pytest.raises(ProtocolSigned):
        a.edit(protocol)


def test_wrong_totp_code_is_refused(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    protocol = new_protocol(a, assignment)
    before = admin.protocol(protocol)
    freeze = sign_and_sync(a, protocol, wrong_code(a))
    assert refusal(a, protocol) == "totp_invalid"
    assert freeze.signed is not None
    assert_nothing_registered(admin, server, a, protocol, before, freeze.signed.seal)
    assert_still_open(admin, a, protocol)
    # the inspector types the right code and signs again
    again = sign_and_sync(a, protocol, fresh_code(a))
    assert_registered(server, a, protocol, again)


@pytest.mark.parametrize("minutes", [5, -5])
def test_code_for_another_time_is_refused(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet],
    minutes: int,
) -> None:
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    protocol = new_protocol(a, assignment)
    before = admin.protocol(protocol)
    later = time.time_ns() // 1_000_000 + minutes * 60_000
    freeze = sign_and_sync(a, protocol, totp_code(a, at_ms=later))
    assert refusal(a, protocol) == "totp_invalid"
    assert freeze.signed is not None
    assert_nothing_registered(admin, server, a, protocol, before, freeze.signed.seal)
    assert_still_open(admin, a, protocol)


def test_same_code_on_a_second_protocol_is_a_replay(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    first, second = new_protocol(a, assignment), new_protocol(a, assignment)
    before = admin.protocol(second)
    code = fresh_code(a)
    signed_first = a.sign(first, code)
    signed_second = a.sign(second, code)
    report = a.sync()
    assert report.ok and report.rejected == 1, report
    assert_registered(server, a, first, signed_first)
    assert refusal(a, second) == "totp_replayed"
    assert signed_second.signed is not None
    assert_nothing_registered(admin, server, a, second, before, signed_second.signed.seal)
    assert_still_open(admin, a, second)


def test_same_code_from_another_tablet_of_the_same_inspector_is_a_replay(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """Used steps belong to the inspector, not to the device."""
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    assert a.inspector is not None
    second_tablet = Tablet(tmp_path / "second.sqlite", PASSPHRASE)
    opened.append(second_tablet)
    second_tablet.enroll(admin.enrollment(a.inspector.id).code, server.url)
    assert second_tablet.sync().ok
    first, second = new_protocol(a, assignment), new_protocol(second_tablet, assignment)
    code = fresh_code(a)
    assert_registered(server, a, first, sign_and_sync(a, first, code))
    before = admin.protocol(second)
    freeze = sign_and_sync(second_tablet, second, code)
    assert refusal(second_tablet, second) == "totp_replayed"
    assert freeze.signed is not None
    assert_nothing_registered(admin, server, second_tablet, second, before, freeze.signed.seal)


def test_lockout_after_five_wrong_codes(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a, b) = team(admin, server, tmp_path, 2, opened)
    protocol = new_protocol(a, assignment)
    before = admin.protocol(protocol)
    for _ in range(5):
        sign_and_sync(a, protocol, wrong_code(a))
        assert refusal(a, protocol) == "totp_invalid"
    # the sixth attempt is refused even with the right code
    freeze = sign_and_sync(a, protocol, fresh_code(a))
    assert refusal(a, protocol) == "totp_locked"
    assert freeze.signed is not None
    assert_nothing_registered(admin, server, a, protocol, before, freeze.signed.seal)
    assert len(a.rejections()) == 6
    # the lockout is the inspector's: a colleague on the same inspection still signs
    other = new_protocol(b, assignment)
    assert_registered(server, b, other, sign_and_sync(b, other, fresh_code(b)))


# -- who signs, and the seal ------------------------------------------------------------------


def _as_other_inspector(tablet: Tablet, signed: SignedProtocol, other: Tablet) -> SignedProtocol:
    assert other.inspector is not None
    statement = msgspec.structs.replace(signed.statement, signer=other.inspector.id)
    # the device key really signs the forged statement: only the signer is wrong
    return SignedProtocol(statement, b64url(tablet.keys.sign(canonical_bytes(statement))),
                          signed.seal)


def _as_other_device(tablet: Tablet, signed: SignedProtocol, other: Tablet) -> SignedProtocol:
    statement = msgspec.structs.replace(signed.statement, device_id=other.device_id)
    return SignedProtocol(statement, b64url(tablet.keys.sign(canonical_bytes(statement))),
                          signed.seal)


@pytest.mark.parametrize("forge", [_as_other_inspector, _as_other_device])
def test_signing_on_behalf_of_another_inspector_is_refused(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet],
    forge: Callable[[Tablet, SignedProtocol, Tablet], SignedProtocol],
) -> None:
    assignment, (a, b) = team(admin, server, tmp_path, 2, opened)
    protocol = new_protocol(a, assignment)
    before = admin.protocol(protocol)
    freeze = a.sign(protocol, fresh_code(a))
    assert freeze.signed is not None
    op = pending_freeze(a, protocol)
    assert push(server, a, [with_signed(op, forge(a, freeze.signed, b))]) == [
        ("rejected", "not_signer")]
    assert_nothing_registered(admin, server, a, protocol, before, freeze.signed.seal, sync=False)
    # the genuine freeze, same seq and code, still goes through afterwards
    report = a.sync()
    assert report.ok and report.rejected == 0, report
    assert_registered(server, a, protocol, freeze)


def _flip_signature_bit(tablet: Tablet, signed: SignedProtocol) -> str:
    head = signed.seal[:signed.seal.rfind(PREFIX) + len(PREFIX)]
    body = signed.seal[len(head):]
    raw = bytearray(base64.b32decode(body + "=" * (-len(body) % 8)))
    raw[-1] ^= 0x01  # the last byte of the COSE signature
    return head + base64.b32encode(bytes(raw)).decode().rstrip("=")


def _resealer(**changed: str) -> Callable[[Tablet, SignedProtocol], str]:
    """The device key seals a claim with ``changed`` fields (the number, the STIR…) instead
    of the protocol's."""
    def reseal(tablet: Tablet, signed: SignedProtocol) -> str:
        claim = msgspec.structs.replace(read_seal(signed.seal).claim, **changed)
        return make_seal(claim, tablet.keys.sign, bytes.fromhex(signed.statement.kid),
                         tablet.store.get("public_url"))
    return reseal


def _reseal_other_key(tablet: Tablet, signed: SignedProtocol) -> str:
    """Someone else's key, claiming the device's key id."""
    forger = ec.generate_private_key(ec.SECP256R1())
    return make_seal(read_seal(signed.seal).claim,
                     lambda data: forger.sign(data, ec.ECDSA(hashes.SHA256())),
                     bytes.fromhex(signed.statement.kid), tablet.store.get("public_url"))


def _reseal_unknown_kid(tablet: Tablet, signed: SignedProtocol) -> str:
    forger = ec.generate_private_key(ec.SECP256R1())
    return make_seal(read_seal(signed.seal).claim,
                     lambda data: forger.sign(data, ec.ECDSA(hashes.SHA256())),
                     key_id(forger.public_key()), tablet.store.get("public_url"))


def _no_seal(tablet: Tablet, signed: SignedProtocol) -> str:
    return "HTTP://127.0.0.1/V/"


TAMPERED_SEALS = {
    "signature bit flipped": (_flip_signature_bit, "bad_seal"),
    "other key, device kid": (_reseal_other_key, "bad_seal"),
    "unknown kid": (_reseal_unknown_kid, "bad_seal"),
    "no seal": (_no_seal, "bad_seal"),
    "another result": (_resealer(result="compliant"), "seal_mismatch"),
    "another number": (_resealer(number="TR-2026-0000000"), "seal_mismatch"),
    "no number": (_resealer(number=""), "seal_mismatch"),
    "another STIR": (_resealer(entity="301245679"), "seal_mismatch"),
    "no STIR": (_resealer(entity=""), "seal_mismatch"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_SEALS))
def test_tampered_seal_in_the_freeze_is_refused(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet], case: str,
) -> None:
    tamper, code = TAMPERED_SEALS[case]
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    protocol = new_protocol(a, assignment)
    before = admin.protocol(protocol)
    freeze = a.sign(protocol, fresh_code(a))
    assert freeze.signed is not None
    tampered = tamper(a, freeze.signed)
    assert tampered != freeze.signed.seal
    op = pending_freeze(a, protocol)
    signed = SignedProtocol(freeze.signed.statement, freeze.signed.signature, tampered)
    assert push(server, a, [with_signed(op, signed)]) == [("rejected", code)]
    assert_nothing_registered(admin, server, a, protocol, before, freeze.signed.seal, sync=False)
    # the TOTP step was not spent on the refused attempt: the genuine freeze registers
    report = a.sync()
    assert report.ok and report.rejected == 0, report
    assert_registered(server, a, protocol, freeze)


def test_damaged_seal_in_the_freeze_is_refused_not_a_server_error(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """A seal whose protected header is not CBOR is one op refused with ``bad_seal``, not a
    failed push, and the public ``GET /v1/verify/{seal}`` calls it "malformed"."""
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    protocol = new_protocol(a, assignment)
    before = admin.protocol(protocol)
    freeze = a.sign(protocol, fresh_code(a))
    assert freeze.signed is not None
    seal = freeze.signed.seal
    head = seal[:seal.rfind(PREFIX) + len(PREFIX)]
    _, unprotected, payload, signature = cbor2.loads(
        base64.b32decode(seal[len(head):] + "=" * (-len(seal[len(head):]) % 8))).value
    damaged = head + base64.b32encode(cbor2.dumps(cbor2.CBORTag(
        18, [b"\xa2\x01", unprotected, payload, signature]))).decode().rstrip("=")
    # the public checker too must answer, not fail
    response = httpx.get(f"{server.url}/v1/verify/{damaged.rsplit('/', 1)[-1]}", headers=JSON,
                         timeout=30)
    op = pending_freeze(a, protocol)
    signed = SignedProtocol(freeze.signed.statement, freeze.signed.signature, damaged)
    try:
        outcome: Any = push(server, a, [with_signed(op, signed)])
    except RegistryRefused as refused:
        outcome = f"the whole push failed: {refused}"
    assert {"GET /v1/verify": response.status_code, "push": outcome} == {
        "GET /v1/verify": 200, "push": [("rejected", "bad_seal")]}
    assert response.json()["verdict"] == "malformed"
    assert_nothing_registered(admin, server, a, protocol, before, seal, sync=False)


def test_signed_protocol_pushed_twice_is_a_duplicate_with_one_receipt(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    protocol = new_protocol(a, assignment)
    freeze = a.sign(protocol, fresh_code(a))
    batch = [entry.op for entry in a.store.outbox("pending")]
    assert [op.path for op in batch] == [FREEZE]
    assert a.sync().ok
    receipt = assert_registered(server, a, protocol, freeze)
    record = admin.protocol(protocol)

    everything = [entry.op for entry in a.store.outbox(doc=protocol)]
    assert push(server, a, batch) == [("duplicate", "")]
    assert push(server, a, everything) == [("duplicate", "")] * len(everything)
    assert a.sync().ok
    assert a.receipt(protocol) == receipt
    assert admin.protocol(protocol) == record
    assert freeze.signed is not None
    assert registry_number_of(server, freeze.signed.seal) == receipt.registry_number
    # one receipt, not two: the next registration takes the very next registry number
    other = new_protocol(a, assignment)
    next_receipt = assert_registered(server, a, other, sign_and_sync(a, other, fresh_code(a)))
    year, count = receipt.registry_number.split("-")
    assert next_receipt.registry_number == f"{year}-{int(count) + 1:08d}"


# -- keys -------------------------------------------------------------------------------------


def test_key_rotation_keeps_old_seals_genuine(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    old_kid = a.store.get("kid")
    first = new_protocol(a, assignment)
    old_freeze = sign_and_sync(a, first, fresh_code(a))
    assert_registered(server, a, first, old_freeze)
    # signed offline before the rotation, synced after it: still the old key's, and valid
    offline = new_protocol(a, assignment)
    offline_freeze = a.sign(offline, fresh_code(a))

    new_kid = a.rotate_key()
    assert new_kid != old_kid and a.store.get("kid") == new_kid
    assert a.sync().ok
    assert_registered(server, a, offline, offline_freeze)

    later = new_protocol(a, assignment)
    new_freeze = sign_and_sync(a, later, fresh_code(a))
    assert_registered(server, a, later, new_freeze)
    assert new_freeze.signed is not None and old_freeze.signed is not None
    assert offline_freeze.signed is not None
    assert new_freeze.signed.statement.kid == new_kid
    assert read_seal(new_freeze.signed.seal).kid.hex() == new_kid
    assert read_seal(offline_freeze.signed.seal).kid.hex() == old_kid

    trusted = trust_list(server)
    assert trust_list_is_signed(trusted, registry_pin(server))
    keys = {key.kid: key for key in trusted.keys}
    assert keys[old_kid].retired_at_ms > 0 and keys[new_kid].retired_at_ms == 0
    assert keys[new_kid].valid_from_ms >= keys[old_kid].retired_at_ms
    for freeze in (old_freeze, offline_freeze, new_freeze):
        assert freeze.signed is not None
        assert verify_seal(freeze.signed.seal, trusted).verdict == "genuine"
        assert online_verdict(server, freeze.signed.seal)["verdict"] == "genuine"


def test_an_unchanged_trust_list_is_not_sent_again(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """Every sync asks for the trust list; while no key changes, the answer is a bodiless
    304, and the first change of a key reaches the tablet whole."""
    _, (a,) = team(admin, server, tmp_path, 1, opened)
    url = f"{server.url}/v1/trust-list"
    tag = httpx.get(url, timeout=30).headers["etag"]
    unchanged = httpx.get(url, headers={"If-None-Match": tag}, timeout=30)
    assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (304, b"", tag)

    transport = HttpTransport(server.url)
    first = transport.trust_list()
    received = transport.traffic.received_bytes
    assert transport.trust_list() is first
    assert transport.traffic.received_bytes - received < 300  # status line and headers only

    new_kid = a.rotate_key()
    changed = httpx.get(url, headers={"If-None-Match": tag}, timeout=30)
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    fresh = transport.trust_list()
    assert fresh is not first and new_kid in {key.kid for key in fresh.keys}
    assert trust_list_is_signed(fresh, RegistryPin.of_key(first.registry_key))
    transport.close()
    assert a.sync().ok
    assert new_kid in {key["kid"] for key in a.store.get("trust_list")["keys"]}


def _revoke(server: LocalServer, kid: str, after_ms: int, token: str | None = None) -> Any:
    return httpx.post(f"{server.url}/v1/admin/keys/{kid}/revoke", timeout=30,
                      headers={**JSON, "Authorization": f"Bearer {token or server.admin_token}"},
                      json={"after_ms": after_ms})


def test_revocation_distrusts_later_seals_only(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (a,) = team(admin, server, tmp_path, 1, opened)
    kid = a.store.get("kid")
    early, late = new_protocol(a, assignment), new_protocol(a, assignment)
    early_freeze = sign_and_sync(a, early, fresh_code(a))
    time.sleep(1.5)  # a seal dates its signature to the second
    late_freeze = sign_and_sync(a, late, fresh_code(a))
    assert early_freeze.signed is not None and late_freeze.signed is not None
    for protocol, freeze in ((early, early_freeze), (late, late_freeze)):
        assert_registered(server, a, protocol, freeze)

    # only the administrator may revoke
    assert _revoke(server, kid, 1, token=a.store.get("token")).status_code in (401, 403)
    after_ms = early_freeze.signed.statement.signed_at_ms
    response = _revoke(server, kid, after_ms)
    assert response.status_code == 200, response.text
    assert response.json() == {"kid": kid, "revoked_after_ms": after_ms}

    assert online_verdict(server, early_freeze.signed.seal)["verdict"] == "genuine"
    revoked = online_verdict(server, late_freeze.signed.seal)
    assert revoked["verdict"] == "revoked", revoked
    trusted = trust_list(server)
    assert trust_list_is_signed(trusted, registry_pin(server))
    assert {key.kid: key.revoked_after_ms for key in trusted.keys}[kid] == after_ms
    assert verify_seal(early_freeze.signed.seal, trusted).verdict == "genuine"
    assert verify_seal(late_freeze.signed.seal, trusted).verdict == "revoked"
    page = httpx.get(f"{server.url}/v/{late_freeze.signed.seal.rsplit('/', 1)[-1]}",
                     headers={"Accept-Language": "en"}, timeout=30)
    assert 'data-verdict="revoked"' in page.text

    # a later signature by the revoked key is refused, and changes nothing
    third = new_protocol(a, assignment)
    before = admin.protocol(third)
    freeze = sign_and_sync(a, third, fresh_code(a))
    assert refusal(a, third) == "key_revoked"
    assert freeze.signed is not None
    assert_nothing_registered(admin, server, a, third, before, freeze.signed.seal,
                              verdict="revoked")
    # a revocation only ever moves earlier
    assert _revoke(server, kid, after_ms + 10**9).json()["revoked_after_ms"] == after_ms


# -- biometric --------------------------------------------------------------------------------


@pytest.fixture
def biometric_tablet(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> tuple[Tablet, SoftwareAuthenticator, str]:
    """A tablet enrolled with a biometric credential, on a new assignment of its own."""
    inspector = f"insp-bio-{secrets.token_hex(4)}"
    admin.create_inspector(inspector, f"Inspector {inspector}")
    admin.put_reference("inspector", inspector, {
        "id": inspector, "full_name": f"Inspector {inspector}",
        "attested_until": (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()})
    authenticator = SoftwareAuthenticator()
    tablet = Tablet(tmp_path / f"{inspector}.sqlite", PASSPHRASE,
                    transport=BiometricEnrollment(server.url, authenticator))
    opened.append(tablet)
    tablet.enroll(admin.enrollment(inspector).code, server.url)
    assignment = f"assignment-{inspector}"
    admin.put_assignment(Assignment(assignment, "fuel dispensers", (inspector,)))
    assert tablet.sync().ok
    return tablet, authenticator, assignment


def biometric_sign(tablet: Tablet, protocol: str, assertion: Callable[[bytes], Any],
                   at_ms: int | None = None) -> Freeze:
    """Sign as an app does with a biometric: the time first, then the assertion over the
    challenge for it, then the signature at that time; synced."""
    at = tablet.signing_time(protocol) if at_ms is None else at_ms
    freeze = tablet.sign(protocol, assertion(tablet.biometric_challenge(protocol, at)),
                         signed_at_ms=at)
    report = tablet.sync()
    assert report.ok, report
    return freeze


def test_valid_biometric_assertion_registers(
    server: LocalServer, biometric_tablet: tuple[Tablet, SoftwareAuthenticator, str]
) -> None:
    tablet, authenticator, assignment = biometric_tablet
    for _ in range(2):  # and the counter moves on: a second one registers too
        protocol = new_protocol(tablet, assignment)
        freeze = biometric_sign(tablet, protocol, authenticator.assertion)
        assert tablet.rejections() == []
        assert_registered(server, tablet, protocol, freeze)


Assertion = Callable[[SoftwareAuthenticator, Tablet, str, str, int], BiometricConfirmation]
"""A bad assertion for (authenticator, tablet, protocol, other protocol, signing time)."""


def _without_user_verification(authenticator: SoftwareAuthenticator, tablet: Tablet,
                               protocol: str, other: str, at: int) -> BiometricConfirmation:
    return authenticator.assertion(tablet.biometric_challenge(protocol, at), user_verified=False)


def _over_another_protocol(authenticator: SoftwareAuthenticator, tablet: Tablet,
                           protocol: str, other: str, at: int) -> BiometricConfirmation:
    return authenticator.assertion(tablet.biometric_challenge(other, at))


def _for_another_signing_time(authenticator: SoftwareAuthenticator, tablet: Tablet,
                              protocol: str, other: str, at: int) -> BiometricConfirmation:
    """Made for a signature a second later: no good at this time."""
    return authenticator.assertion(tablet.biometric_challenge(protocol, at + 1000))


def _over_the_content_hash_alone(authenticator: SoftwareAuthenticator, tablet: Tablet,
                                 protocol: str, other: str, at: int) -> BiometricConfirmation:
    """Bound to no time, it would do for a signature dated at any time."""
    return authenticator.assertion(bytes.fromhex(tablet.content_hash(protocol)))


def _from_another_origin(authenticator: SoftwareAuthenticator, tablet: Tablet,
                         protocol: str, other: str, at: int) -> BiometricConfirmation:
    return authenticator.assertion(tablet.biometric_challenge(protocol, at),
                                   origin="https://evil.example")


def _for_another_relying_party(authenticator: SoftwareAuthenticator, tablet: Tablet,
                               protocol: str, other: str, at: int) -> BiometricConfirmation:
    return authenticator.assertion(tablet.biometric_challenge(protocol, at), rp_id="evil.example")


def _by_another_authenticator(authenticator: SoftwareAuthenticator, tablet: Tablet,
                              protocol: str, other: str, at: int) -> BiometricConfirmation:
    impostor = SoftwareAuthenticator()
    impostor.credential_id = authenticator.credential_id
    return impostor.assertion(tablet.biometric_challenge(protocol, at))


def _unregistered_credential(authenticator: SoftwareAuthenticator, tablet: Tablet,
                             protocol: str, other: str, at: int) -> BiometricConfirmation:
    return SoftwareAuthenticator().assertion(tablet.biometric_challenge(protocol, at))


BAD_ASSERTIONS: dict[str, tuple[Assertion, str]] = {  # case: (assertion, a word of the reason)
    "no UV flag": (_without_user_verification, "User verification is required"),
    "another protocol's hash": (_over_another_protocol, "challenge"),
    "another signing time": (_for_another_signing_time, "challenge"),
    "the content hash alone": (_over_the_content_hash_alone, "challenge"),
    "another origin": (_from_another_origin, "origin"),
    "another relying party": (_for_another_relying_party, "RP ID"),
    "another authenticator's signature": (_by_another_authenticator, "signature"),
    "unregistered credential": (_unregistered_credential, "not registered"),
}


def refusal_reason(tablet: Tablet, protocol: str) -> str:
    refused = [entry for entry in tablet.rejections() if entry.op.doc == protocol]
    return max(refused, key=lambda entry: entry.op.seq).reason


@pytest.mark.parametrize("case", sorted(BAD_ASSERTIONS))
def test_bad_biometric_assertion_is_refused(
    admin: AdminClient, server: LocalServer,
    biometric_tablet: tuple[Tablet, SoftwareAuthenticator, str], case: str,
) -> None:
    tablet, authenticator, assignment = biometric_tablet
    protocol = new_protocol(tablet, assignment)
    other = new_protocol(tablet, assignment, conclusion="compliant")
    assert tablet.content_hash(protocol) != tablet.content_hash(other)
    before = admin.protocol(protocol)
    make_assertion, reason = BAD_ASSERTIONS[case]
    at = tablet.signing_time(protocol)
    freeze = tablet.sign(protocol, make_assertion(authenticator, tablet, protocol, other, at),
                         signed_at_ms=at)
    assert tablet.sync().ok
    assert refusal(tablet, protocol) == "biometric_invalid"
    assert reason in refusal_reason(tablet, protocol)
    assert freeze.signed is not None
    assert_nothing_registered(admin, server, tablet, protocol, before, freeze.signed.seal)
    assert_still_open(admin, tablet, protocol)


def test_replayed_authenticator_counter_is_refused(
    admin: AdminClient, server: LocalServer,
    biometric_tablet: tuple[Tablet, SoftwareAuthenticator, str],
) -> None:
    """A cloned authenticator shows itself by a counter that does not move forward."""
    tablet, authenticator, assignment = biometric_tablet
    first, second = new_protocol(tablet, assignment), new_protocol(tablet, assignment)
    assert_registered(server, tablet, first,
                      biometric_sign(tablet, first, authenticator.assertion))
    before = admin.protocol(second)
    freeze = biometric_sign(tablet, second, lambda challenge: authenticator.assertion(
        challenge, sign_count=authenticator.sign_count))
    assert refusal(tablet, second) == "biometric_invalid"
    assert "sign count" in refusal_reason(tablet, second)
    assert freeze.signed is not None
    assert_nothing_registered(admin, server, tablet, second, before, freeze.signed.seal)
