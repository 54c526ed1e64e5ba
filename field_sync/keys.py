"""Device keys: P-256, the curve tablet secure hardware offers (ES256)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from field_sync.errors import FieldSyncError

__all__ = ["InvalidKey", "key_fingerprint", "load_public_key", "public_key_pem"]


class InvalidKey(FieldSyncError, ValueError):
    """A key that is not a P-256 public key in PEM."""

    code = "invalid_key"


_LONGEST_PEM = 1024


@lru_cache(maxsize=1024)
def load_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from PEM (SubjectPublicKeyInfo). Kept once read (a key is never
    changed): every seal verified and every signature registered reads its device's key, and
    reading it is a tenth of checking the signature."""
    if len(pem) > _LONGEST_PEM:  # PEM may carry text around it: none of that is kept
        raise InvalidKey(f"a P-256 public key's PEM is some 180 characters, not {len(pem)}")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnicodeError) as exc:
        raise InvalidKey(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidKey("the device key must be a P-256 (secp256r1) key")
    return key


def public_key_pem(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The PEM of a key's public half."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_fingerprint(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the public key's DER SubjectPublicKeyInfo, 64 hex digits: how a key is named
    to pin it (``openssl pkey -pubin -outform DER | sha256sum`` gives the same)."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()
