"""The pinned registry key: its fingerprint, the forms a pin is written in, and offline verdicts
that trust only what it signed; a verdict says nothing a forger wrote."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid

import cbor2
import msgspec
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from field_sync.key_handover import signed_form
from field_sync.keys import key_fingerprint, public_key_pem
from field_sync.registry_pin import InvalidPin, RegistryPin
from field_sync.seal import PREFIX, Claim, key_id, make_seal, read_seal
from field_sync.signing import sign_canonical
from field_sync.verify import VERIFIED, Verdict, verify_offline, verify_seal
from schemas.signing import AuditCheckpoint, TrustedKey, TrustList

pytestmark = pytest.mark.database_free

ADDRESS = "https://verify.tris.gov.uz"
FORGED = "TR-FORGED-0000001"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _claim(number: str = "TR-2026-0000001") -> Claim:
    return Claim(protocol_id=str(uuid.uuid4()), number=number, kind="MSP", entity="301245678",
                 result="compliant", signed_at=int(time.time()), content_hash="ab" * 32)


def _seal(device: ec.EllipticCurvePrivateKey, claim: Claim, address: str = ADDRESS) -> str:
    return make_seal(claim, lambda data: device.sign(data, ec.ECDSA(hashes.SHA256())),
                     key_id(device.public_key()), address)


def _list(registry: ec.EllipticCurvePrivateKey, *devices: ec.EllipticCurvePrivateKey,
          address: str = ADDRESS) -> TrustList:
    unsigned = TrustList(issued_at_ms=1, registry_key=public_key_pem(registry), keys=[
        TrustedKey(kid=key_id(device.public_key()).hex(), public_key=public_key_pem(device),
                   inspector_id="insp-1", device_id="device-1", valid_from_ms=0)
        for device in devices], public_url=address)
    return msgspec.structs.replace(unsigned,
                                   signature=sign_canonical(registry, signed_form(unsigned)))


def test_a_fingerprint_is_sha256_of_the_der_a_pem_spells() -> None:
    """Checkable from the PEM alone: its base64 body is the SubjectPublicKeyInfo."""
    key = _key()
    pem = public_key_pem(key)
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    assert key_fingerprint(key) == key_fingerprint(key.public_key()) == \
        hashlib.sha256(der).hexdigest()
    assert key_id(key.public_key()).hex() == key_fingerprint(key)[:16]


def test_a_pin_is_written_as_a_pem_or_a_fingerprint() -> None:
    key = _key()
    pem, fingerprint = public_key_pem(key), key_fingerprint(key)
    spelled = ":".join(fingerprint[i:i + 2] for i in range(0, 64, 2))
    for text in (pem, "\n" + pem + "\n", fingerprint, fingerprint.upper(), spelled,
                 f"sha256:{fingerprint}", f"  {spelled.upper()}\n"):
        assert RegistryPin.parse(text) == RegistryPin(fingerprint), text
    assert RegistryPin.of_key(pem).holds(pem)
    assert not RegistryPin.of_key(pem).holds(public_key_pem(_key()))
    assert not RegistryPin.of_key(pem).holds("junk")
    # the one line `verify --registry-key` prints for a pin it cannot read
    for text in ("", fingerprint[:-1], fingerprint + "0", "g" * 64):
        with pytest.raises(InvalidPin) as refused:
            RegistryPin.parse(text)
        assert refused.value.reason == "a registry key fingerprint is 64 hex digits (SHA-256)"
    with pytest.raises(InvalidPin) as refused:
        RegistryPin.parse("-----BEGIN PUBLIC KEY-----")
    assert refused.value.reason.startswith("not a registry key: ")
    assert refused.value.reason != "not a registry key: "


def test_only_the_pinned_key_makes_a_list_trusted() -> None:
    """Anyone can make a registry key and sign a list of their own device keys: offline, that
    list is ``untrusted``, and nothing of the forged seal's claim comes back."""
    agency, device = _key(), _key()
    pin = RegistryPin.of_key(public_key_pem(agency))
    genuine = _seal(device, _claim())
    assert verify_offline(genuine, _list(agency, device), pin).genuine

    forger, forger_device = _key(), _key()
    forged_list = _list(forger, device, forger_device)
    assert RegistryPin.of_key(forged_list.registry_key).signed(forged_list)
    forged = _seal(forger_device, _claim(FORGED))
    for text in (forged, genuine):
        verdict = verify_offline(text, forged_list, pin)
        assert verdict == Verdict("untrusted",
                                  "the trust list is not signed by the pinned registry key")
    # the agency's list, re-signed by the forger under the agency's key's name
    renamed = msgspec.structs.replace(forged_list, registry_key=public_key_pem(agency))
    assert verify_offline(genuine, renamed, pin).verdict == "untrusted"
    # and its address, changed after signing
    moved = msgspec.structs.replace(_list(agency, device), public_url="https://evil.example")
    assert verify_offline(_seal(device, _claim(), "https://evil.example"), moved,
                          pin).verdict == "untrusted"


def test_a_checkpoint_is_trusted_under_the_pin_only() -> None:
    agency, forger = _key(), _key()
    pin = RegistryPin.of_key(public_key_pem(agency))
    unsigned = AuditCheckpoint(seq=7, head_hash="ab" * 32, at_ms=1,
                               registry_key=public_key_pem(agency))
    checkpoint = msgspec.structs.replace(unsigned, signature=sign_canonical(agency, unsigned))
    assert pin.signed(checkpoint)
    assert not pin.signed(msgspec.structs.replace(checkpoint, seq=8))
    assert not pin.signed(msgspec.structs.replace(checkpoint, head_hash="cd" * 32))
    other = msgspec.structs.replace(unsigned, registry_key=public_key_pem(forger))
    assert not pin.signed(msgspec.structs.replace(other, signature=sign_canonical(forger,
                                                                                  other)))


def _forgeries(device: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """Seals whose writer wrote ``FORGED`` in their claim, for each verdict that is reached
    before, or without, a verified signature."""
    stranger = _key()
    signed = _seal(device, _claim(FORGED))
    head, body = signed[:signed.rfind(PREFIX) + 3], signed[signed.rfind(PREFIX) + 3:]
    tag = cbor2.loads(base64.b32decode(body + "=" * (-len(body) % 8)))
    protected, unprotected, payload, signature = tag.value
    extra = cbor2.dumps({**cbor2.loads(payload), 8: FORGED})
    malformed = head + base64.b32encode(cbor2.dumps(cbor2.CBORTag(
        18, [protected, unprotected, extra, signature]))).decode().rstrip("=")
    return {
        "unknown_key": _seal(stranger, _claim(FORGED)),
        "altered": make_seal(_claim(FORGED), lambda data: stranger.sign(
            data, ec.ECDSA(hashes.SHA256())), key_id(device.public_key()), ADDRESS),
        "wrong_registry": "HTTPS://EVIL.EXAMPLE/V/" + signed[signed.rfind(PREFIX):],
        "malformed": malformed,
    }


def test_nothing_a_forger_wrote_is_in_a_verdict_that_did_not_verify() -> None:
    agency, device = _key(), _key()
    trusted = _list(agency, device)
    for expected, text in _forgeries(device).items():
        verdict = verify_seal(text, trusted)
        assert verdict.verdict == expected, (expected, verdict)
        assert expected not in VERIFIED
        assert (verdict.claim, verdict.key) == (None, None), expected
        assert FORGED not in msgspec.json.encode(verdict).decode(), expected
        if expected != "malformed":
            assert read_seal(text).kid.hex() not in verdict.reason, expected


def test_a_verified_signature_brings_its_claim() -> None:
    agency, device = _key(), _key()
    claim = _claim()
    seal = _seal(device, claim)
    revoked = msgspec.structs.replace(_list(agency, device).keys[0], revoked_after_ms=1)
    unsigned = msgspec.structs.replace(_list(agency, device), keys=[revoked], signature="")
    for verdict in (verify_seal(seal, _list(agency, device)),
                    verify_seal(seal, _list(agency, device), "superseded"),
                    verify_seal(seal, unsigned)):
        assert verdict.verdict in VERIFIED
        assert verdict.claim == claim and verdict.key is not None
