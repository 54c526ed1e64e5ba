"""ES256 signatures over canonical bytes, as the device and the registry make them."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from field_sync.canonical import canonical_bytes

__all__ = ["b64url", "from_b64url", "sign_canonical", "verify_canonical"]


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def from_b64url(text: str) -> bytes:
    """The bytes of URL-safe base64, padded or not (``ValueError`` if it is not)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_canonical(private_key: ec.EllipticCurvePrivateKey, value: Any) -> str:
    """ES256 (DER, base64url) over the canonical encoding of ``value``."""
    return b64url(private_key.sign(canonical_bytes(value), ec.ECDSA(hashes.SHA256())))


def verify_canonical(public_key: ec.EllipticCurvePublicKey, value: Any, signature: str) -> bool:
    """True when ``signature`` is ``public_key``'s ES256 over the canonical form of ``value``."""
    try:
        public_key.verify(from_b64url(signature), canonical_bytes(value),
                          ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
