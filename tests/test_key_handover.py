"""Hand-overs of the registry key: what their signature covers, and the way a verifier follows
them from its pin, passing over every statement its current key did not make."""

from __future__ import annotations

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from field_sync.canonical import canonical_bytes
from field_sync.key_handover import (
    fingerprint_of,
    followed,
    hand_over,
    handover_holds,
    keys_reached,
    signed_form,
)
from field_sync.keys import key_fingerprint, public_key_pem
from field_sync.registry_pin import RegistryPin
from field_sync.signing import sign_canonical
from schemas.signing import AuditCheckpoint, KeyHandover, TrustList

pytestmark = pytest.mark.database_free


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


A, B, C, F = _key(), _key(), _key(), _key()
"""Three keys of the agency, handed over in turn, and a forger's."""


def _chain() -> tuple[KeyHandover, KeyHandover]:
    """A to B, then B to C (made in each test: what a test checks is made by the code under
    test, mutated or not)."""
    return hand_over(A, public_key_pem(B), 10), hand_over(B, public_key_pem(C), 20)


def _fingerprints(*keys: ec.EllipticCurvePrivateKey) -> list[str]:
    return [key_fingerprint(key) for key in keys]


def _signed_list(key: ec.EllipticCurvePrivateKey, handovers: list[KeyHandover]) -> TrustList:
    unsigned = TrustList(issued_at_ms=30, registry_key=public_key_pem(key), keys=[],
                         public_url="https://verify.tris.gov.uz", handovers=handovers)
    return msgspec.structs.replace(unsigned,
                                   signature=sign_canonical(key, signed_form(unsigned)))


def test_a_handover_signs_its_fields_with_the_signature_empty() -> None:
    A_B, _ = _chain()
    assert (A_B.previous_key, A_B.next_key, A_B.at_ms) == (public_key_pem(A), public_key_pem(B),
                                                           10)
    spelled = msgspec.json.encode({"at_ms": 10, "next_key": public_key_pem(B),
                                   "previous_key": public_key_pem(A), "signature": ""})
    assert canonical_bytes(signed_form(A_B)) == spelled
    assert handover_holds(A_B)
    for changed in ({"at_ms": 11}, {"next_key": public_key_pem(F)},
                    {"previous_key": public_key_pem(F)}, {"previous_key": "junk"},
                    {"next_key": "junk"}, {"signature": ""}):
        assert not handover_holds(msgspec.structs.replace(A_B, **changed)), changed


def test_a_trust_lists_signature_leaves_its_handovers_out() -> None:
    A_B, _ = _chain()
    listed = _signed_list(B, [A_B])
    form = signed_form(listed)
    assert "handovers" not in form and form["signature"] == ""
    assert form == signed_form(msgspec.structs.replace(listed, handovers=[]))
    assert b"handovers" not in msgspec.json.encode(msgspec.structs.replace(listed,
                                                                           handovers=[]))


def test_a_verifier_follows_the_handovers_its_current_key_made_in_order() -> None:
    A_B, B_C = _chain()
    chain = [A_B, B_C]
    assert keys_reached(key_fingerprint(A), chain) == _fingerprints(A, B, C)
    assert keys_reached(key_fingerprint(B), chain) == _fingerprints(B, C)
    assert keys_reached(key_fingerprint(C), chain) == _fingerprints(C)
    assert followed(key_fingerprint(A), [B_C, A_B]) == [A_B]  # oldest first, as published
    forged = KeyHandover(previous_key=public_key_pem(A), next_key=public_key_pem(F), at_ms=15)
    forged = msgspec.structs.replace(forged, signature=sign_canonical(F, signed_form(forged)))
    assert keys_reached(key_fingerprint(A), [forged, A_B, B_C]) == _fingerprints(A, B, C)
    back = hand_over(B, public_key_pem(A), 30)  # a loop leads nowhere new
    assert followed(key_fingerprint(A), [A_B, back, B_C]) == [A_B, B_C]
    fork = hand_over(A, public_key_pem(F), 40)  # the key reached is B's: A no longer speaks
    assert keys_reached(key_fingerprint(A), [A_B, fork]) == _fingerprints(A, B)
    assert fingerprint_of("junk") is None


def test_a_pin_trusts_what_a_key_it_reaches_signed_and_names_the_newest() -> None:
    A_B, B_C = _chain()
    pin = RegistryPin(key_fingerprint(A))
    assert pin.signed(_signed_list(C, [A_B, B_C]))
    assert not pin.signed(_signed_list(C, [B_C]))  # no way from A
    assert not pin.signed(_signed_list(F, [A_B, B_C, hand_over(F, public_key_pem(F), 50)]))
    assert not RegistryPin(key_fingerprint(C)).signed(_signed_list(A, [A_B, B_C]))
    assert pin.newest_key([A_B, B_C]) == public_key_pem(C)
    assert pin.newest_key([A_B]) == public_key_pem(B)
    assert pin.newest_key([B_C]) is None and pin.newest_key([]) is None
    unsigned = AuditCheckpoint(seq=1, head_hash="ab" * 32, at_ms=25,
                               registry_key=public_key_pem(B))
    checkpoint = msgspec.structs.replace(unsigned,
                                         signature=sign_canonical(B, signed_form(unsigned)))
    assert pin.signed(checkpoint, [A_B]) and not pin.signed(checkpoint)
