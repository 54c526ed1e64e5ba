"""The QR seal: its format (frozen test vectors), its size, its QR images (decoded with a real
decoder), tamper resistance, and the offline verdicts against a registry-signed trust list."""

from __future__ import annotations

import base64
import io
import json
import string
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
import msgspec
import pytest
import qrcode.util
import zxingcpp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from PIL import Image

from field_sync.canonical import content_hash
from field_sync.key_handover import signed_form
from field_sync.keys import public_key_pem
from field_sync.qr import qr_png, qr_svg, qr_version
from field_sync.registry_pin import RegistryPin
from field_sync.seal import (
    PREFIX,
    Claim,
    SealError,
    claim_for,
    key_id,
    make_seal,
    read_seal,
    seal_hash,
)
from field_sync.signing import sign_canonical
from field_sync.verify import Verdict, trust_list_is_signed, verify_seal
from schemas import Protocol, Template, builtin_templates
from schemas.signing import TrustedKey, TrustList

pytestmark = pytest.mark.database_free

VECTORS = json.loads((Path(__file__).parent / "vectors" / "seal.json").read_text())
BASE_URL = "https://verify.tris.gov.uz"  # 26 characters, as an agency's checker might be named
QR_ALPHANUMERIC = set(string.digits + string.ascii_uppercase + " $%*+-./:")
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
SIGNED_AT = 1_795_089_600  # 2026-11-20 09:00 UTC
REFUSED = {"altered", "malformed", "unknown_key"}


def signer(key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    return lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))


def realistic_claim(result: str, signed_at: int = SIGNED_AT) -> Claim:
    return Claim(protocol_id=str(uuid.uuid4()), number="TR-2026-0000001", kind="MSP",
                 entity="301245678", result=result, signed_at=signed_at,
                 content_hash="5d41402abc4b2a76b9719d911017c592" * 2)


def seal_for(key: ec.EllipticCurvePrivateKey, claim: Claim, base_url: str = BASE_URL) -> str:
    return make_seal(claim, signer(key), key_id(key.public_key()), base_url)


def trusted(key: ec.EllipticCurvePrivateKey, **extra: Any) -> TrustedKey:
    return TrustedKey(kid=key_id(key.public_key()).hex(), public_key=public_key_pem(key),
                      inspector_id="insp-1", device_id="device-1", **{"valid_from_ms": 0, **extra})


def signed_list(registry: ec.EllipticCurvePrivateKey, keys: list[TrustedKey],
                public_url: str = BASE_URL) -> TrustList:
    """A trust list signed the way the registry signs it (server/authority/trust.py)."""
    unsigned = TrustList(issued_at_ms=SIGNED_AT * 1000, registry_key=public_key_pem(registry),
                         keys=keys, public_url=public_url)
    return msgspec.structs.replace(unsigned,
                                   signature=sign_canonical(registry, signed_form(unsigned)))


def body_of(seal: str) -> tuple[str, str]:
    """``(everything up to and including the prefix, the base32 body)``."""
    start = seal.rfind(PREFIX) + len(PREFIX)
    return seal[:start], seal[start:]


def cose_bytes(seal: str) -> bytes:
    _, body = body_of(seal)
    return base64.b32decode(body + "=" * (-len(body) % 8))


def reencode(head: str, raw: bytes) -> str:
    return head + base64.b32encode(raw).decode().rstrip("=")


@pytest.fixture(scope="module")
def device_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def registry_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# -- round trip, size, alphabet ---------------------------------------------------------------


@pytest.mark.parametrize("result", ["compliant", "non_compliant", "sampled", "refused",
                                    "not_in_the_short_list"])
def test_make_and_read_round_trip(device_key: ec.EllipticCurvePrivateKey, result: str) -> None:
    claim = realistic_claim(result)
    seal = seal_for(device_key, claim)
    parsed = read_seal(seal)
    assert parsed.claim == claim
    assert parsed.kid == key_id(device_key.public_key())
    assert parsed.verify(device_key.public_key())
    assert not parsed.verify(ec.generate_private_key(ec.SECP256R1()).public_key())
    # the seal may be read from the whole URL or from the prefix on
    assert read_seal(seal[seal.rfind(PREFIX):]).claim == claim


def test_entity_with_a_leading_zero_or_letters_survives(
    device_key: ec.EllipticCurvePrivateKey,
) -> None:
    for entity in ("012345678", "AB-1234", ""):
        claim = msgspec.structs.replace(realistic_claim("compliant"), entity=entity)
        assert read_seal(seal_for(device_key, claim)).claim == claim


@pytest.mark.parametrize("result", ["compliant", "non_compliant"])
def test_realistic_seal_is_small_and_qr_alphanumeric(
    device_key: ec.EllipticCurvePrivateKey, result: str
) -> None:
    seal = seal_for(device_key, realistic_claim(result))
    assert seal.startswith("HTTPS://VERIFY.TRIS.GOV.UZ/V/FS1")
    assert len(seal) <= 320, len(seal)
    assert qr_version(seal) <= 13, qr_version(seal)
    # every character is in QR alphanumeric mode, so the whole text is one alphanumeric segment
    assert set(seal) <= QR_ALPHANUMERIC
    assert qrcode.util.QRData(seal).mode == qrcode.util.MODE_ALPHA_NUM
    # ...and safe in a URL: nothing to percent-encode, no space, no '%' or '+'
    assert not set(seal) & set(" %+$*")
    parsed = urllib.parse.urlsplit(seal)
    assert (parsed.scheme, parsed.netloc) == ("https", "VERIFY.TRIS.GOV.UZ")
    assert urllib.parse.quote(parsed.path, safe="/") == parsed.path
    assert parsed.path.startswith("/V/FS1")
    _, body = body_of(seal)
    assert set(body) <= set(BASE32)


@pytest.mark.parametrize(("base_url", "written"), [
    ("https://verify.tris.gov.uz", "HTTPS://VERIFY.TRIS.GOV.UZ/V/FS1"),
    ("https://verify.tris.gov.uz/", "HTTPS://VERIFY.TRIS.GOV.UZ/V/FS1"),
    ("https://verify.tris.gov.uz//", "HTTPS://VERIFY.TRIS.GOV.UZ/V/FS1"),
    ("HTTPS://MY.GOV.UZ/TAX/", "HTTPS://MY.GOV.UZ/TAX/V/FS1"),
    ("http://127.0.0.1:8080", "HTTP://127.0.0.1:8080/V/FS1"),
])
def test_the_address_is_written_once_upper_cased_before_the_page(
    device_key: ec.EllipticCurvePrivateKey, base_url: str, written: str
) -> None:
    """However the registry's address is given (trailing slashes, case, a path of its own),
    the seal writes it upper-cased with one slash before ``/V/``: a QR code of one
    alphanumeric segment, and an address the trust list's compares equal to."""
    seal = seal_for(device_key, realistic_claim("compliant"), base_url)
    assert seal.startswith(written) and seal.count("/V/") == 1
    assert seal[len(written):] == seal[seal.rfind(PREFIX) + len(PREFIX):]


def _decode_png(png: bytes) -> Any:
    with Image.open(io.BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image)
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("result", ["compliant", "non_compliant", "sampled"])
def test_png_decodes_with_zxing_to_the_seal_at_level_q(
    device_key: ec.EllipticCurvePrivateKey, result: str
) -> None:
    seal = seal_for(device_key, realistic_claim(result))
    decoded = _decode_png(qr_png(seal))
    assert decoded.format == zxingcpp.BarcodeFormat.QRCode
    assert decoded.text == seal
    assert int(decoded.extra["Version"]) == qr_version(seal) <= 13
    assert decoded.extra["ECLevel"] == "Q"
    assert decoded.ec_level == "Q"
    assert read_seal(decoded.text).verify(device_key.public_key())


def test_png_of_a_short_text_is_decoded_too() -> None:
    decoded = _decode_png(qr_png("HTTPS://X.UZ/V/FS1AAAA"))
    assert decoded.text == "HTTPS://X.UZ/V/FS1AAAA"
    assert decoded.extra["ECLevel"] == "Q"


def test_svg_is_xml(device_key: ec.EllipticCurvePrivateKey) -> None:
    svg = qr_svg(seal_for(device_key, realistic_claim("compliant")))
    root = ET.fromstring(svg)  # noqa: S314 -- our own output, not untrusted input
    assert root.tag.rsplit("}", 1)[-1] == "svg"
    assert any(element.tag.rsplit("}", 1)[-1] == "path" for element in root.iter())


# -- test vectors -----------------------------------------------------------------------------


def _vector_key() -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(VECTORS["private_key_pem"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _vector_claim() -> Claim:
    return msgspec.convert(VECTORS["claim"], Claim)


def test_vector_key_and_kid() -> None:
    key = _vector_key()
    assert public_key_pem(key) == VECTORS["public_key_pem"]
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_id(key.public_key()).hex() == VECTORS["kid_hex"]
    assert hashes_head(der) == VECTORS["kid_hex"]


def hashes_head(der: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize()[:8].hex()


def test_vector_protected_header_payload_and_sig_structure_are_stable() -> None:
    """A fresh seal of the vector's claim has exactly the frozen to-be-signed bytes."""
    seal = make_seal(_vector_claim(), signer(_vector_key()), bytes.fromhex(VECTORS["kid_hex"]),
                     VECTORS["base_url"])
    parsed = read_seal(seal)
    assert parsed.protected.hex() == VECTORS["protected_hex"]
    assert parsed.payload.hex() == VECTORS["payload_hex"]
    # RFC 9052 section 4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload]
    sig_structure = cbor2.dumps(["Signature1", parsed.protected, b"", parsed.payload])
    assert sig_structure.hex() == VECTORS["sig_structure_hex"]
    # everything before the 64-byte signature is deterministic, so the COSE bytes match too
    assert cose_bytes(seal)[:-64].hex() == VECTORS["cose_sign1_hex"][:-128]
    assert parsed.verify(_vector_key().public_key())


def test_vector_layout_is_what_the_format_says() -> None:
    """The frozen bytes decode, independently of the library, to the documented layout."""
    assert cbor2.loads(bytes.fromhex(VECTORS["protected_hex"])) == {
        1: -7, 4: bytes.fromhex(VECTORS["kid_hex"])}  # alg ES256, kid
    claim = VECTORS["claim"]
    assert cbor2.loads(bytes.fromhex(VECTORS["payload_hex"])) == {
        1: uuid.UUID(claim["protocol_id"]).bytes, 2: claim["number"], 3: claim["kind"],
        4: int(claim["entity"]), 5: 0,  # "non_compliant" is result 0
        6: claim["signed_at"], 7: bytes.fromhex(claim["content_hash"])}
    tag = cbor2.loads(bytes.fromhex(VECTORS["cose_sign1_hex"]))
    assert isinstance(tag, cbor2.CBORTag) and tag.tag == 18  # COSE_Sign1
    protected, unprotected, payload, signature = tag.value
    assert protected.hex() == VECTORS["protected_hex"]
    assert unprotected == {}
    assert payload.hex() == VECTORS["payload_hex"]
    assert signature.hex() == VECTORS["signature_hex"]


def test_vector_stored_signature_verifies() -> None:
    public = _vector_key().public_key()
    signature = bytes.fromhex(VECTORS["signature_hex"])
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    # straight with `cryptography` over the frozen Sig_structure...
    public.verify(der, bytes.fromhex(VECTORS["sig_structure_hex"]), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(der, bytes.fromhex(VECTORS["sig_structure_hex"]) + b"\0",
                      ec.ECDSA(hashes.SHA256()))
    # ...and through the library, from the stored seal text
    seal = VECTORS["seal"]
    assert cose_bytes(seal).hex() == VECTORS["cose_sign1_hex"]
    parsed = read_seal(seal)
    assert parsed.claim == _vector_claim()
    assert parsed.signature.hex() == VECTORS["signature_hex"]
    assert parsed.verify(public)
    registry = ec.generate_private_key(ec.SECP256R1())
    entry = TrustedKey(kid=VECTORS["kid_hex"], public_key=VECTORS["public_key_pem"],
                       inspector_id="insp-1", device_id="device-1", valid_from_ms=0)
    verdict = verify_seal(seal, signed_list(registry, [entry]))
    assert verdict.verdict == "genuine"
    assert verdict.claim == _vector_claim()


# -- tampering --------------------------------------------------------------------------------


def _verdict_or_error(text: str, trust: TrustList) -> str:
    try:
        return verify_seal(text, trust).verdict
    except Exception as exc:  # a crash is a finding, reported by the caller
        return f"raised {type(exc).__name__}"


def test_every_single_character_change_is_refused(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """Changing any one character of the base32 body, to any other base32 character (or to a
    character base32 does not have), never gives "genuine", and never crashes the verifier.

    Lower-case letters are left out: a seal is read case-insensitively by design (a phone may
    lower-case what it scanned), so "a" for "A" is the same seal, not a changed one.
    """
    trust = signed_list(registry_key, [trusted(device_key)])
    seal = seal_for(device_key, realistic_claim("non_compliant"))
    head, body = body_of(seal)
    assert verify_seal(seal, trust).verdict == "genuine"
    wrong: list[tuple[int, str, str, str]] = []
    for position, original in enumerate(body):
        for replacement in BASE32 + "0189=":
            if replacement == original:
                continue
            changed = head + body[:position] + replacement + body[position + 1:]
            verdict = _verdict_or_error(changed, trust)
            if verdict not in REFUSED:
                wrong.append((position, original, replacement, verdict))
    by_outcome: dict[str, list[tuple[int, str, str]]] = {}
    for position, original, replacement, verdict in wrong:
        by_outcome.setdefault(verdict, []).append((position, original, replacement))
    assert not wrong, (
        f"{len(wrong)} single-character changes of a {len(body)}-character body were not "
        "refused: " + "; ".join(f"{verdict}: {len(cases)}x, e.g. (position, was, now) "
                                f"{cases[:3]}" for verdict, cases in by_outcome.items()))


def test_a_damaged_seal_is_malformed_not_a_crash(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """A damaged seal is "malformed": no decoder error escapes read_seal or verify_seal."""
    trust = signed_list(registry_key, [trusted(device_key)])
    seal = seal_for(device_key, realistic_claim("compliant"))
    head = body_of(seal)[0]
    tag = cbor2.loads(cose_bytes(seal))
    protected, unprotected, payload, signature = tag.value
    payload_fields = cbor2.loads(payload)
    damaged = {
        "empty protected header": [b"", unprotected, payload, signature],
        "truncated protected header": [protected[:-1], unprotected, payload, signature],
        "truncated payload": [protected, unprotected, payload[:-3], signature],
        "result index out of range": [protected, unprotected,
                                      cbor2.dumps({**payload_fields, 5: 9}), signature],
    }
    outcomes = {}
    for name, parts in damaged.items():
        text = reencode(head, cbor2.dumps(cbor2.CBORTag(18, parts)))
        outcomes[name] = _verdict_or_error(text, trust)
        try:
            read_seal(text)
        except SealError:
            pass
        except Exception as exc:  # the point of the test
            outcomes[name] += f" (read_seal raised {type(exc).__name__}, not SealError)"
    assert outcomes == dict.fromkeys(damaged, "malformed")


def test_unsigned_parts_cannot_be_changed_under_a_genuine_verdict(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """The seal text is not malleable: the COSE unprotected header is not signed, so it must be
    empty; bytes after the COSE structure and set unused base32 bits are refused too. Otherwise
    each would give another text of the same signed claim, "genuine" offline yet unknown to
    the registry online."""
    trust = signed_list(registry_key, [trusted(device_key)])
    claim = msgspec.structs.replace(realistic_claim("compliant"), number="TR-2026-000001")
    seal = seal_for(device_key, claim)
    head, body = body_of(seal)
    raw = cose_bytes(seal)
    protected, _, payload, signature = cbor2.loads(raw).value
    assert len(raw) % 5, "the trailing-bits case needs a length that leaves unused bits"
    last = BASE32.index(body[-1])
    unused = (-len(raw) * 8) % 5
    variants = {
        "unprotected header 0 instead of {}": reencode(head, cbor2.dumps(
            cbor2.CBORTag(18, [protected, 0, payload, signature]))),
        "unprotected header with an entry": reencode(head, cbor2.dumps(
            cbor2.CBORTag(18, [protected, {99: "x"}, payload, signature]))),
        "five zero bytes appended": reencode(head, raw + bytes(5)),
        "unused trailing base32 bits set": head + body[:-1] + BASE32[last | (1 << unused) - 1],
    }
    outcomes = {}
    for name, text in variants.items():
        assert text != seal
        outcomes[name] = _verdict_or_error(text, trust)
    assert all(verdict in REFUSED for verdict in outcomes.values()), outcomes


def signed_by_hand(key: ec.EllipticCurvePrivateKey, head: str, protected: bytes,
                   payload: bytes, spell: Callable[[int, int], bytes] | None = None) -> str:
    """A seal put together by hand: ``protected`` and ``payload`` signed by ``key`` the way a
    seal writer signs them (RFC 9052 Sig_structure), the signature's r and s spelled by
    ``spell`` (32 bytes each, as the writer spells them, unless told)."""
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(key.sign(to_be_signed, ec.ECDSA(hashes.SHA256())))
    signature = spell(r, s) if spell else r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return reencode(head, cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature])))


_PARTS = "the seal's COSE_Sign1 parts are malformed"
_CLAIM = "the seal's claim is not a protocol claim"
_ALGORITHM = "the seal is not signed ES256 with a key id"
_SPELLING = "the seal's header or claim is not written as a seal writer writes it"


def test_only_the_bytes_the_seal_writer_produces_verify(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """Only the exact bytes the seal writer produces may verify. Each variant below is signed
    by the trusted device key itself, so its signature holds over what it carries: a
    signature spelled in 65 bytes (s with a zero byte before it, the same number), a claim
    with a key more or a key less, another algorithm or none, a key id as text, one header
    more, and the same claim written otherwise (its keys or the header's in another order,
    the STIR or the result as text). None is "genuine": each would be a second seal of a
    claim, "genuine" offline yet never registered. Each is refused for its own reason."""
    trust = signed_list(registry_key, [trusted(device_key)])
    seal = seal_for(device_key, realistic_claim("compliant"))
    head = body_of(seal)[0]
    protected, _, payload, _ = cbor2.loads(cose_bytes(seal)).value
    kid = key_id(device_key.public_key())
    claim = cbor2.loads(payload)
    assert cbor2.loads(protected) == {1: -7, 4: kid} and set(claim) == set(range(1, 8))

    def header(headers: Any) -> str:
        return signed_by_hand(device_key, head, cbor2.dumps(headers), payload)

    def claim_of(fields: dict[int, Any]) -> str:
        return signed_by_hand(device_key, head, protected, cbor2.dumps(fields))

    writers = signed_by_hand(device_key, head, protected, payload)
    assert verify_seal(writers, trust).genuine  # the hand-made seal of the writer's bytes
    variants = {
        "s in 33 bytes": (signed_by_hand(device_key, head, protected, payload, lambda r, s:
                                         r.to_bytes(32, "big") + s.to_bytes(33, "big")), _PARTS),
        "a claim with an eighth key": (claim_of({**claim, 8: "x"}), _CLAIM),
        "a claim without its content hash": (
            claim_of({k: v for k, v in claim.items() if k != 7}), _CLAIM),
        "signed ES384": (header({1: -35, 4: kid}), _ALGORITHM),
        "no algorithm": (header({4: kid}), _ALGORITHM),
        "the key id as text": (header({1: -7, 4: kid.hex()}), _ALGORITHM),
        "a header that is not a map": (header([1, -7, 4, kid]), _ALGORITHM),
        "one header more": (header({1: -7, 4: kid, 3: 0}), _SPELLING),
        "the header's entries in another order": (header({4: kid, 1: -7}), _SPELLING),
        "the STIR as text": (claim_of({**claim, 4: "301245678"}), _SPELLING),
        "the result as text": (claim_of({**claim, 5: "compliant"}), _SPELLING),
        "the claim's keys in another order": (claim_of(dict(reversed(claim.items()))),
                                              _SPELLING),
    }
    outcomes = {}
    for name, (text, _) in variants.items():
        verdict = verify_seal(text, trust)
        outcomes[name] = (verdict.verdict, verdict.reason, verdict.claim)
    assert outcomes == {name: ("malformed", reason, None)
                        for name, (_, reason) in variants.items()}


MSP: Template = next(t for t in builtin_templates() if t.code == "MSP")


def protocol_with(**fields: Any) -> Protocol:
    return Protocol(id=str(uuid.uuid4()), template=MSP.ref, assignment="asg-1",
                    fields={"started_at": "2026-11-20T14:00:00+05:00",
                            "entity_name": "Chilonzor dehqon bozori MChJ", **fields},
                    collections={"instruments": {str(uuid.uuid4()): {"type": "scale"}}})


def test_the_claim_is_what_the_protocol_says() -> None:
    """The claim a seal makes is the protocol's own: its id, its ``number``, its template's
    code, its ``entity_tin`` (the STIR), its ``conclusion``, the signing time in whole seconds
    (floored, never rounded up past the signature) and the hash of all of it. Tablet and
    registry both build it so, so a change here would pass every comparison of the two: it is
    compared with the protocol's fields themselves."""
    protocol = protocol_with(number="TR-2026-0000042", entity_tin="301245678",
                             conclusion="non_compliant")
    claim = claim_for(protocol, MSP, 1_795_089_600_999)
    assert claim == Claim(protocol_id=protocol.id, number="TR-2026-0000042", kind="MSP",
                          entity="301245678", result="non_compliant", signed_at=1_795_089_600,
                          content_hash=content_hash(protocol))
    assert type(claim.signed_at) is int
    # the hash covers the whole protocol: another finding is another hash, the same one not
    other = msgspec.structs.replace(protocol, fields={**protocol.fields, "findings": "x"})
    assert claim_for(other, MSP, 1_795_089_600_999).content_hash != claim.content_hash
    assert claim_for(msgspec.structs.replace(protocol), MSP, 1_795_089_600_000) == claim


@pytest.mark.parametrize(("fields", "number", "entity", "result"), [
    ({}, "", "", "sampled"),  # a protocol sealed before it has them (never signed so)
    ({"conclusion": ""}, "", "", "sampled"),
    ({"conclusion": "compliant", "number": "MN-7"}, "MN-7", "", "compliant"),
    ({"conclusion": "refused", "entity_tin": "012345678"}, "", "012345678", "refused"),
])
def test_a_claim_without_a_number_or_a_conclusion_says_so(
    fields: dict[str, Any], number: str, entity: str, result: str
) -> None:
    """No number and no STIR are written empty, never as "None"; no conclusion is "sampled"."""
    claim = claim_for(protocol_with(**fields), MSP, 1_795_089_600_000)
    assert (claim.number, claim.entity, claim.result) == (number, entity, result)


def test_a_seal_under_another_url_is_the_same_seal_but_not_genuine(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """The URL is not signed, but the trust list names the registry's address, signed: a
    genuine seal's text moved under another address (a checker that says "genuine" to
    anything) is ``wrong_registry``, and says nothing of the claim. From its prefix on, with no
    address, it is the same seal."""
    trust = signed_list(registry_key, [trusted(device_key)])
    seal = seal_for(device_key, realistic_claim("compliant"))
    tail = seal[seal.rfind(PREFIX):]
    moved = verify_seal("HTTPS://EVIL.EXAMPLE/V/" + tail, trust)
    assert (moved.verdict, moved.claim, moved.key) == ("wrong_registry", None, None)
    assert not moved.genuine and BASE_URL in moved.reason
    assert verify_seal(tail, trust).genuine
    assert seal_hash("HTTPS://EVIL.EXAMPLE/V/" + tail) == seal_hash(seal)
    for elsewhere in ("HTTP://VERIFY.TRIS.GOV.UZ/V/", "HTTPS://VERIFY.TRIS.GOV.UZ:8443/V/",
                      "HTTPS://VERIFY.TRIS.GOV.UZ/X/", "HTTPS://VERIFY.TRIS.GOV.UZ.EVIL.EXAMPLE/V/",
                      "HTTPS://VERIFY.TRIS.GOV.UZ@EVIL.EXAMPLE/V/", "HTTPS://VERIFY.TRIS.GOV.UZ/V/V/",
                      "NOT A URL "):
        assert verify_seal(elsewhere + tail, trust).verdict == "wrong_registry", elsewhere


@pytest.mark.parametrize("address", [
    "HTTPS://VERIFY.TRIS.GOV.UZ/V/", "https://verify.tris.gov.uz/v/",
    "HTTPS://VERIFY.TRIS.GOV.UZ:443/V/", "HTTPS://Verify.Tris.Gov.Uz//V/"])
def test_the_registrys_address_is_compared_canonically(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey,
    address: str
) -> None:
    """Scheme and host in any case, the default port written or not, a trailing slash: the same
    address. So is the list's address written with a trailing slash or its default port."""
    seal = seal_for(device_key, realistic_claim("compliant"))
    tail = seal[seal.rfind(PREFIX):]
    for listed in (BASE_URL, BASE_URL + "/", "HTTPS://verify.tris.gov.uz:443"):
        trust = signed_list(registry_key, [trusted(device_key)], listed)
        assert verify_seal(address + tail, trust).genuine, (address, listed)


def test_a_lower_cased_seal_is_read_like_the_seal(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """Phones lower-case what they scan: the whole text lower-cased, prefix included, is the
    same seal, with the same hash; the prefix is found from the right, so a host whose name
    holds "fs1" is no trouble either."""
    for base in (BASE_URL, "https://fs1.verify.gov.uz", "https://verify.gov.uz/FS1"):
        trust = signed_list(registry_key, [trusted(device_key)], base)
        seal = seal_for(device_key, realistic_claim("compliant"), base)
        for text in (seal, seal.lower(), seal[seal.rfind(PREFIX):].lower()):
            verdict = verify_seal(text, trust)
            assert verdict.genuine, (base, text[:40], verdict)
            assert seal_hash(text) == seal_hash(seal)
        assert read_seal(seal.lower()).claim == read_seal(seal).claim


def test_a_letter_that_upper_cases_to_base32_is_not_the_seal(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """A seal is read case-insensitively, but only in ASCII: a long s or a dotless i, which
    Python upper-cases to S and I, is a changed character."""
    trust = signed_list(registry_key, [trusted(device_key)])
    seal = seal_for(device_key, realistic_claim("compliant"))
    head, body = body_of(seal)
    assert verify_seal(head + body.lower(), trust).verdict == "genuine"
    for letter, lookalike in (("S", "\u017f"), ("I", "\u0131")):
        assert lookalike.upper() == letter
        changed = head + body.replace(letter, lookalike, 1)
        assert changed != seal
        assert verify_seal(changed, trust).verdict == "malformed"


@pytest.mark.parametrize("text", ["", "hello", "HTTPS://X.UZ/V/", "HTTPS://X.UZ/V/FS1",
                                  "FS1!!!!", "FS10189", "FS1AAAAAAAA",
                                  "FS1" + base64.b32encode(cbor2.dumps([1, 2])).decode()])
def test_not_a_seal_is_malformed(registry_key: ec.EllipticCurvePrivateKey, text: str) -> None:
    assert verify_seal(text, signed_list(registry_key, [])).verdict == "malformed"


def test_a_malformed_seal_says_what_is_wrong_with_it(
    device_key: ec.EllipticCurvePrivateKey
) -> None:
    """The reason ``read_seal`` gives (the registry's ``bad_seal`` and the verdict print it):
    where it is the library's own sentence, word for word; where it quotes a decoder, the
    library's sentence before the decoder's."""
    seal = seal_for(device_key, realistic_claim("compliant"))
    head, body = body_of(seal)
    raw = cose_bytes(seal)
    protected, unprotected, payload, signature = cbor2.loads(raw).value

    def cose(*parts: Any, tag: int = 18) -> str:
        return reencode(head, cbor2.dumps(cbor2.CBORTag(tag, list(parts))))

    exact = {
        "no prefix": ("HTTPS://VERIFY.TRIS.GOV.UZ/V/" + body, "no FS1 seal in this text"),
        "a letter of another script": (
            head + "\u0410" + body[1:], "the seal is not base32: it has a character that is "
            "not ASCII"),
        "bytes after it": (reencode(head, raw + bytes(5)),
                           "the seal is not in canonical CBOR, or has bytes after it"),
        "three parts": (cose(protected, unprotected, payload),
                        "the seal is not a COSE_Sign1 structure"),
        "another tag": (cose(protected, unprotected, payload, signature, tag=17),
                        "the seal is not a COSE_Sign1 structure"),
        "a header in the unprotected map": (cose(protected, {1: -7}, payload, signature),
                                            "the seal's COSE_Sign1 parts are malformed"),
        "a payload that is not bytes": (cose(protected, unprotected, cbor2.loads(payload),
                                             signature),
                                        "the seal's COSE_Sign1 parts are malformed"),
    }
    prefixed = {
        "padding": (seal + "====", "the seal is not base32 in its one canonical spelling: "),
        "a header that is not CBOR": (cose(protected[:-1], unprotected, payload, signature),
                                      "the seal is malformed: "),
        "a number that is not text": (cose(protected, unprotected, cbor2.dumps(
            {**cbor2.loads(payload), 2: 7}), signature), "the seal's claim is malformed: "),
    }
    reasons = {}
    for name, (text, _) in {**exact, **prefixed}.items():
        with pytest.raises(SealError) as refused:
            read_seal(text)
        reasons[name] = refused.value.reason
    assert {name: reasons[name] for name in exact} == {
        name: reason for name, (_, reason) in exact.items()}
    assert {name: reasons[name][:len(start)] for name, (_, start) in prefixed.items()} == {
        name: start for name, (_, start) in prefixed.items()}
    assert all(len(reasons[name]) > len(start) for name, (_, start) in prefixed.items())


# -- verdicts against a trust list ------------------------------------------------------------


def test_unknown_key(device_key: ec.EllipticCurvePrivateKey,
                     registry_key: ec.EllipticCurvePrivateKey) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    seal = seal_for(stranger, realistic_claim("compliant"))
    verdict = verify_seal(seal, signed_list(registry_key, [trusted(device_key)]))
    assert verdict.verdict == "unknown_key"
    assert (verdict.claim, verdict.key) == (None, None)  # nothing the stranger wrote
    assert read_seal(seal).kid.hex() not in verdict.reason
    assert not verdict.genuine


def test_a_trusted_kid_with_another_key_is_altered(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """A forger who copies a trusted key id but signs with their own key."""
    forger = ec.generate_private_key(ec.SECP256R1())
    seal = make_seal(realistic_claim("compliant"), signer(forger),
                     key_id(device_key.public_key()), BASE_URL)
    assert verify_seal(seal, signed_list(registry_key, [trusted(device_key)])).verdict == "altered"


def test_revoked_key(device_key: ec.EllipticCurvePrivateKey,
                     registry_key: ec.EllipticCurvePrivateKey) -> None:
    revoked_after_ms = SIGNED_AT * 1000
    trust = signed_list(registry_key, [trusted(device_key, revoked_after_ms=revoked_after_ms)])
    before = seal_for(device_key, realistic_claim("compliant", SIGNED_AT - 60))
    at = seal_for(device_key, realistic_claim("compliant", SIGNED_AT))
    after = seal_for(device_key, realistic_claim("compliant", SIGNED_AT + 1))
    assert verify_seal(before, trust).verdict == "genuine"
    assert verify_seal(at, trust).verdict == "genuine"
    verdict = verify_seal(after, trust)
    assert verdict.verdict == "revoked"
    assert "revoked" in verdict.reason
    assert verdict.key is not None and verdict.key.revoked_after_ms == revoked_after_ms


def test_retired_key_misused_after_retirement(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """A retired key's old seals stay genuine; one dated after retirement is refused."""
    trust = signed_list(registry_key, [trusted(device_key, retired_at_ms=SIGNED_AT * 1000)])
    old = seal_for(device_key, realistic_claim("compliant", SIGNED_AT - 3600))
    misused = seal_for(device_key, realistic_claim("compliant", SIGNED_AT + 3600))
    assert verify_seal(old, trust).verdict == "genuine"
    verdict = verify_seal(misused, trust)
    assert verdict.verdict == "revoked"
    assert "retired" in verdict.reason


def test_seal_dated_before_its_key_existed_is_not_genuine(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """A seal dated before its key existed (``valid_from_ms``, its enrollment) is not genuine:
    otherwise a document could be backdated, for instance to a day the inspector's attestation
    was still valid."""
    trust = signed_list(registry_key, [trusted(device_key)])
    entry = msgspec.structs.replace(trust.keys[0], valid_from_ms=SIGNED_AT * 1000)
    trust = signed_list(registry_key, [entry])
    backdated = seal_for(device_key, realistic_claim("compliant", SIGNED_AT - 86_400 * 365))
    assert verify_seal(seal_for(device_key, realistic_claim("compliant")), trust).genuine
    assert verify_seal(backdated, trust).verdict != "genuine"


@pytest.mark.parametrize("status", ["not_registered", "superseded", "annulled"])
def test_registry_status_overrides_a_good_signature(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey, status: Any
) -> None:
    trust = signed_list(registry_key, [trusted(device_key)])
    seal = seal_for(device_key, realistic_claim("compliant"))
    assert verify_seal(seal, trust, status).verdict == status
    registered = verify_seal(seal, trust, "registered", "2026-00000001")
    assert registered.verdict == "genuine"
    assert registered.registry_number == "2026-00000001"


def test_each_verdict_is_said_whole_in_the_words_people_read(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey
) -> None:
    """Every verdict as ``verify`` prints it and the page shows it: its code, the sentence
    after it, the claim and key only where the signature verified, and the registry's number
    and successor only where the registry gave them (nothing otherwise, not even an empty
    claim)."""
    entry = trusted(device_key, valid_from_ms=SIGNED_AT * 1000 - 60_000)
    trust = signed_list(registry_key, [entry])
    claim = realistic_claim("compliant")
    seal = seal_for(device_key, claim)
    tail = seal[seal.rfind(PREFIX):]
    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = make_seal(claim, signer(stranger), key_id(device_key.public_key()), BASE_URL)
    early = realistic_claim("compliant", SIGNED_AT - 61)
    unlisted = msgspec.structs.replace(trust, public_url="")
    assert {
        "malformed": verify_seal("HTTPS://VERIFY.TRIS.GOV.UZ/V/", trust),
        "moved": verify_seal("HTTPS://EVIL.EXAMPLE/V/" + tail, trust),
        "moved, no address listed": verify_seal("HTTPS://EVIL.EXAMPLE/V/" + tail, unlisted),
        "unknown key": verify_seal(seal_for(stranger, claim), trust),
        "altered": verify_seal(forged, trust),
        "before its key": verify_seal(seal_for(device_key, early), trust),
        "genuine": verify_seal(seal, trust),
        "registered": verify_seal(seal, trust, "registered", "2026-00000007"),
        "not registered": verify_seal(seal, trust, "not_registered"),
        "awaiting evidence": verify_seal(seal, trust, "awaiting_evidence"),
        "superseded": verify_seal(seal, trust, "superseded", "2026-00000007", "2026-00000009"),
        "superseded, no successor": verify_seal(seal, trust, "superseded"),
        "annulled": verify_seal(seal, trust, "annulled", "2026-00000007"),
    } == {
        "malformed": Verdict("malformed", "no FS1 seal in this text"),
        "moved": Verdict("wrong_registry", "the seal points at another address than the "
                         "registry's, https://verify.tris.gov.uz"),
        "moved, no address listed": Verdict(
            "wrong_registry", "the seal points at another address than the registry's, which "
            "the trust list omits"),
        "unknown key": Verdict("unknown_key", "no key in the trust list has the seal's key id"),
        "altered": Verdict("altered", "the signature does not match this claim"),
        "before its key": Verdict("revoked", "dated before its key existed", early, entry),
        "genuine": Verdict("genuine", "signed by a trusted key; content unaltered", claim,
                           entry),
        "registered": Verdict("genuine", "signed by a trusted key; content unaltered", claim,
                              entry, "2026-00000007"),
        "not registered": Verdict("not_registered", "the registry holds no such registered "
                                  "protocol", claim, entry),
        "awaiting evidence": Verdict("not_registered", "signed, and not registered yet: the "
                                     "registry awaits its evidence files, and registers it once "
                                     "they arrive", claim, entry),
        "superseded": Verdict("superseded", "a correction supersedes this protocol", claim,
                              entry, "2026-00000007", "2026-00000009"),
        "superseded, no successor": Verdict("superseded", "a correction supersedes this "
                                            "protocol", claim, entry),
        "annulled": Verdict("annulled", "a supervisor annulled this protocol", claim, entry,
                            "2026-00000007"),
    }


@pytest.mark.parametrize(("lifetime", "verdict"), [
    ({"revoked_after_ms": SIGNED_AT * 1000}, "genuine"),
    ({"revoked_after_ms": SIGNED_AT * 1000 - 1}, "signed after its key was revoked"),
    ({"retired_at_ms": SIGNED_AT * 1000}, "genuine"),
    ({"retired_at_ms": SIGNED_AT * 1000 - 1}, "signed after its key was retired"),
    ({"valid_from_ms": SIGNED_AT * 1000 + 999}, "genuine"),  # enrolled in the signing second
    ({"valid_from_ms": SIGNED_AT * 1000 + 1000}, "dated before its key existed"),
])
def test_a_key_s_lifetime_is_judged_to_the_second_a_seal_keeps(
    device_key: ec.EllipticCurvePrivateKey, registry_key: ec.EllipticCurvePrivateKey,
    lifetime: dict[str, int], verdict: str
) -> None:
    """A seal keeps whole seconds: one signed in the second its key was enrolled is genuine,
    one a second before is not; one signed at the very millisecond of its key's revocation or
    retirement is genuine, one a millisecond after is revoked. A revoked seal still names its
    claim and key: its signature verified."""
    entry = trusted(device_key, **lifetime)
    claim = realistic_claim("compliant")
    found = verify_seal(seal_for(device_key, claim), signed_list(registry_key, [entry]))
    if verdict == "genuine":
        assert found.verdict == "genuine", found
    else:
        assert found == Verdict("revoked", verdict, claim, entry)


def test_trust_list_signature(device_key: ec.EllipticCurvePrivateKey,
                              registry_key: ec.EllipticCurvePrivateKey) -> None:
    trust = signed_list(registry_key, [trusted(device_key)])
    pin = RegistryPin.of_key(public_key_pem(registry_key))
    assert trust_list_is_signed(trust, pin)
    # the signature itself tampered with
    signature = bytearray(base64.urlsafe_b64decode(trust.signature + "=" * 3))
    signature[-1] ^= 1
    bad_signature = msgspec.structs.replace(
        trust, signature=base64.urlsafe_b64encode(bytes(signature)).decode().rstrip("="))
    assert not trust_list_is_signed(bad_signature, pin)
    assert not trust_list_is_signed(msgspec.structs.replace(trust, signature=""), pin)
    assert not trust_list_is_signed(msgspec.structs.replace(trust, signature="not base64!"), pin)
    # a key slipped in after signing, a revocation taken out, the address changed
    intruder = ec.generate_private_key(ec.SECP256R1())
    assert not trust_list_is_signed(
        msgspec.structs.replace(trust, keys=[*trust.keys, trusted(intruder)]), pin)
    revoked = signed_list(registry_key, [trusted(device_key, revoked_after_ms=1)])
    assert not trust_list_is_signed(
        msgspec.structs.replace(revoked, keys=[trusted(device_key)]), pin)
    assert not trust_list_is_signed(
        msgspec.structs.replace(trust, public_url="https://evil.example"), pin)
    # a list signed by someone else verifies under the key it names, never under the pin
    forged = signed_list(intruder, [trusted(device_key), trusted(intruder)])
    assert trust_list_is_signed(forged, RegistryPin.of_key(forged.registry_key))
    assert not trust_list_is_signed(forged, pin)
    assert not trust_list_is_signed(msgspec.structs.replace(trust, registry_key="junk"), pin)