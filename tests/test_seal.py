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
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from PIL import Image

from field_sync.keys import public_key_pem
from field_sync.qr import qr_png, qr_svg, qr_version
from field_sync.registry_pin import RegistryPin
from field_sync.seal import PREFIX, Claim, SealError, key_id, make_seal, read_seal, seal_hash
from field_sync.signing import sign_canonical
from field_sync.verify import trust_list_is_signed, verify_seal
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
                      inspector_id="insp-1", device_id="device-1", valid_from_ms=0, **extra)


def signed_list(registry: ec.EllipticCurvePrivateKey, keys: list[TrustedKey],
                public_url: str = BASE_URL) -> TrustList:
    """A trust list signed the way the registry signs it (server/trust.py)."""
    unsigned = TrustList(issued_at_ms=SIGNED_AT * 1000, registry_key=public_key_pem(registry),
                         keys=keys, public_url=public_url)
    return msgspec.structs.replace(unsigned, signature=sign_canonical(registry, unsigned))


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