"""The QR seal: a compact signed claim a phone can check, on paper or on a screen.

The claim (protocol id and number, kind, inspected entity, result, signing time, content hash)
is a COSE_Sign1 structure (RFC 9052) in CBOR, signed ES256 by the device key named by a short
key id. Its bytes are written in RFC 4648 base32 without padding: every character is in QR
alphanumeric mode (so the code stays small) and safe in a URL path (base45, the EU digital
COVID certificate's choice, uses a space and ``%``, which are not). The text is the registry's
verification URL in upper case, ``/V/``, the prefix ``FS1`` and the base32: a phone camera
opens the verification page, and an offline verifier reads the same text. The URL is not
signed; a verifier compares it with the address its signed trust list names
(``seal_address``, ``same_address``). Phones may lower-case what they scan: the prefix is found
in any ASCII case, from the right (``1`` is not a base32 letter, so the body never holds it,
while a host name may).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import cbor2
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from field_sync.base32 import decode_canonical
from field_sync.canonical import content_hash
from field_sync.errors import FieldSyncError
from field_sync.keys import key_fingerprint
from schemas.documents import Protocol
from schemas.templates import Template

__all__ = [
    "PREFIX",
    "RESULTS",
    "Claim",
    "Seal",
    "SealError",
    "claim_for",
    "key_id",
    "make_seal",
    "read_seal",
    "same_address",
    "seal_address",
    "seal_hash",
]

PREFIX = "FS1"
ES256 = -7  # COSE algorithm id
_COSE_SIGN1_TAG = 18
_ALG, _KID = 1, 4  # COSE header labels
RESULTS = ("non_compliant", "compliant", "sampled", "refused")
"""Results the payload writes as one small integer; any other is written as text."""


class SealError(FieldSyncError, ValueError):
    """A text that is not a well-formed seal."""

    code = "not_a_seal"


class Claim(msgspec.Struct, frozen=True):
    """What the seal says of a protocol."""

    protocol_id: str
    number: str
    kind: str
    """The template's short code, such as ``MSP``."""
    entity: str
    """The inspected entity's taxpayer id (STIR)."""
    result: str
    signed_at: int
    """Seconds since the epoch."""
    content_hash: str
    """SHA-256 of the protocol's canonical encoding, hex."""


@dataclass(frozen=True)
class Seal:
    """A parsed seal: the claim, the key id, and what the signature covers."""

    claim: Claim
    kid: bytes
    protected: bytes
    payload: bytes
    signature: bytes

    def verify(self, public_key: ec.EllipticCurvePublicKey) -> bool:
        """True when ``public_key`` made the signature over exactly this claim."""
        r = int.from_bytes(self.signature[:32], "big")
        s = int.from_bytes(self.signature[32:], "big")
        try:
            public_key.verify(encode_dss_signature(r, s),
                              _to_be_signed(self.protected, self.payload),
                              ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The 8-byte key id: the head of SHA-256 over the key's SubjectPublicKeyInfo (its
    fingerprint)."""
    return bytes.fromhex(key_fingerprint(public_key)[:16])


def _to_be_signed(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _protected(kid: bytes) -> bytes:
    return cbor2.dumps({_ALG: ES256, _KID: kid})


def _payload(claim: Claim) -> bytes:
    entity: str | int = int(claim.entity) if claim.entity.isdigit() and claim.entity[0] != "0" \
        else claim.entity  # a STIR is nine digits: an integer is half the bytes
    return cbor2.dumps({
        1: uuid.UUID(claim.protocol_id).bytes, 2: claim.number, 3: claim.kind, 4: entity,
        5: RESULTS.index(claim.result) if claim.result in RESULTS else claim.result,
        6: claim.signed_at, 7: bytes.fromhex(claim.content_hash),
    })


def make_seal(claim: Claim, sign: Callable[[bytes], bytes], kid: bytes, base_url: str) -> str:
    """The seal text of ``claim`` under ``base_url``.

    Args:
        claim: what the seal says.
        sign: the device key's ES256 signature (DER) over the bytes given: a secure-hardware key
            store signs without ever showing the key.
        kid: the key's id (``key_id``).
        base_url: the registry's public address.
    """
    protected = _protected(kid)
    payload = _payload(claim)
    der = sign(_to_be_signed(protected, payload))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    sign1 = cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    text = base64.b32encode(sign1).decode().rstrip("=")
    return f"{base_url.rstrip('/').upper()}{_PAGE}{PREFIX}{text}"


def _decode_claim(payload: bytes) -> Claim:
    fields = cbor2.loads(payload)
    if not isinstance(fields, Mapping) or set(fields) != set(range(1, 8)):
        raise SealError("the seal's claim is not a protocol claim")
    try:
        claim = Claim(
            protocol_id=str(uuid.UUID(bytes=fields[1])), number=fields[2], kind=fields[3],
            entity=str(fields[4]),
            result=RESULTS[fields[5]] if isinstance(fields[5], int) else fields[5],
            signed_at=fields[6],
            content_hash=fields[7].hex(),
        )
        return msgspec.convert(msgspec.to_builtins(claim), Claim)  # types as declared
    except (TypeError, ValueError, AttributeError, IndexError, msgspec.ValidationError) as exc:
        raise SealError(f"the seal's claim is malformed: {exc}") from exc


_PAGE = "/V/"


_PREFIXES = ("FS1", "fs1", "Fs1", "fS1")
"""The prefix in every ASCII case. Not ``text.upper()``: it turns some letters of other scripts
into two ("ß" into "SS"), which would move every place after them."""


def _split(text: str) -> tuple[str, str]:
    """``(what comes before the prefix, the body after it)``; the prefix is the last ``FS1``
    in any ASCII case."""
    start = max(text.rfind(prefix) for prefix in _PREFIXES)
    if start < 0:
        return text, ""
    return text[:start], text[start + len(PREFIX):].strip()


def seal_address(text: str) -> str:
    """The address a seal's text points at: what precedes ``/V/FS1``, or precedes ``FS1`` when
    it is not ``/V/``; empty for a seal given from its prefix on."""
    head = _split(text)[0].strip()
    if head[-len(_PAGE):].upper() == _PAGE:
        head = head[:-len(_PAGE)]
    return head


@lru_cache(maxsize=256)  # a verifier compares the same few addresses, seal after seal
def _canonical_address(url: str) -> tuple[str, ...]:
    # Compared in lower case throughout: the seal writer upper-cases the whole address.
    parts = urllib.parse.urlsplit(url.strip().lower())
    try:
        port = parts.port
    except ValueError:
        return (url,)  # no port number at all: equal to itself only
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, parts.hostname or "", "" if port in (None, default) else str(port),
            parts.path.rstrip("/"), parts.query, parts.fragment)


def same_address(seal_url: str, registry_url: str) -> bool:
    """Whether two addresses name the same place, as a seal writes them: in any case, with or
    without a trailing slash, and with or without the scheme's default port."""
    return _canonical_address(seal_url) == _canonical_address(registry_url)


def _raw(text: str) -> bytes:
    """The COSE bytes of a seal's text, which must be their one base32 spelling."""
    body = _split(text)[1]
    if not body:
        raise SealError(f"no {PREFIX} seal in this text")
    if not body.isascii():  # upper-cased, some letters of other scripts become ASCII ones
        raise SealError("the seal is not base32: it has a character that is not ASCII")
    body = body.upper()
    try:
        return decode_canonical(body)
    except ValueError as exc:
        raise SealError(f"the seal is not base32 in its one canonical spelling: {exc}") from exc


def read_seal(text: str) -> Seal:
    """Parse a seal from its QR text (the whole URL, or from ``FS1`` on).

    Only the exact bytes ``make_seal`` writes are accepted: one base32 spelling, canonical CBOR
    with nothing after it, an empty unprotected header, a 64-byte signature, and a protected
    header and claim encoded as ``make_seal`` encodes them. Any other spelling of the same
    signed claim is refused, so that a changed character can never leave a seal "genuine".
    """
    raw = _raw(text)
    try:
        return _parse(raw)
    except SealError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError,
            cbor2.CBORDecodeError) as exc:
        raise SealError(f"the seal is malformed: {exc}") from exc


def _parse(raw: bytes) -> Seal:
    tag = cbor2.loads(raw)
    if cbor2.dumps(tag) != raw:
        raise SealError("the seal is not in canonical CBOR, or has bytes after it")
    if not isinstance(tag, cbor2.CBORTag) or tag.tag != _COSE_SIGN1_TAG or \
            not isinstance(tag.value, list | tuple) or len(tag.value) != 4:
        raise SealError("the seal is not a COSE_Sign1 structure")
    protected, unprotected, payload, signature = tag.value
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)) or \
            len(signature) != 64 or unprotected != {}:
        raise SealError("the seal's COSE_Sign1 parts are malformed")
    headers = cbor2.loads(protected)
    if not isinstance(headers, Mapping) or headers.get(_ALG) != ES256 or \
            not isinstance(headers.get(_KID), bytes):
        raise SealError("the seal is not signed ES256 with a key id")
    claim = _decode_claim(payload)
    # The signed parts too are the writer's own bytes: the same claim written another way (its
    # keys in another order, a STIR as text, one more header) would be a second seal of it,
    # "genuine" offline yet never registered.
    if protected != _protected(headers[_KID]) or payload != _payload(claim):
        raise SealError("the seal's header or claim is not written as a seal writer writes it")
    return Seal(claim, headers[_KID], protected, payload, signature)


def seal_hash(text: str) -> str:
    """SHA-256 of the seal's COSE bytes, hex: what the registry receipt countersigns."""
    return hashlib.sha256(_raw(text)).hexdigest()


def claim_for(protocol: Protocol, template: Template, signed_at_ms: int) -> Claim:
    """The claim a seal makes of ``protocol``; tablet and registry build it the same way."""
    fields = protocol.fields
    return Claim(
        protocol_id=protocol.id,
        number=str(fields.get("number", "")),
        kind=template.code,
        entity=str(fields.get("entity_tin", "")),
        result=str(fields.get("conclusion") or "sampled"),
        signed_at=signed_at_ms // 1000,
        content_hash=content_hash(protocol),
    )
