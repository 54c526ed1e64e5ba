"""The registry's own keys: its P-256 signing key (receipts, trust list) and the secret key that
encrypts TOTP secrets at rest, from which the key that MACs the registry times told to devices is
derived. Both are made once in the data directory (mode 0600), or read from the files the
``registry_key`` and ``secret_key`` settings name (``$FIELD_SYNC_REGISTRY_KEY``,
``$FIELD_SYNC_SECRET_KEY``), which several server processes on one PostgreSQL must share. The
signing key's hand-overs to its successors and the keys it replaced live beside its file
(``server.authority.key_ring``)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from field_sync.keys import key_fingerprint, public_key_pem
from schemas.signing import KeyHandover
from server.authority.key_ring import KeyRing, new_signing_key, read_signing_key

__all__ = ["RegistryKeys", "read_registry_public_key"]


def read_registry_public_key(path: Path) -> str | None:
    """The PEM of the public half of the registry key in ``path``, if the file exists (never
    made here); a file that is not a key raises ``ValueError``."""
    if not path.is_file():
        return None
    return public_key_pem(read_signing_key(path))


def _read_or_make(path: Path, make: bytes) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(make)
    return make


def _derived(secret: bytes, purpose: str) -> bytes:
    """A key for ``purpose`` derived from the secret key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"field-sync {purpose}".encode()).derive(secret)


@dataclass(frozen=True)
class RegistryKeys:
    """The registry's signing key, its secret-encryption key and its time-MAC key."""

    signing: ec.EllipticCurvePrivateKey
    secrets: Fernet
    time_mac: bytes
    """Keys the MAC of registry times told to devices (``server.authority.registry_time``)."""
    derivation: bytes
    """Keys the secrets ``derived_secret`` gives (from the secret key, which is never rotated:
    a rotation of the signing key must not void what they protect)."""
    handovers: tuple[KeyHandover, ...] = ()
    """The hand-overs from the registry's first signing key to this one, oldest first."""

    @classmethod
    def load(cls, data_dir: Path, signing_path: Path | None = None,
             secret_path: Path | None = None) -> RegistryKeys:
        """Read the keys (from ``data_dir`` unless their own files are named), making them on
        first start."""
        signing_path = signing_path or data_dir / "registry-key.pem"
        secret_path = secret_path or data_dir / "secret-key"
        if not signing_path.exists():
            _read_or_make(signing_path, new_signing_key())
        key = read_signing_key(signing_path)
        secret = _read_or_make(secret_path, Fernet.generate_key()).strip()
        return cls(signing=key, secrets=Fernet(secret), time_mac=_derived(secret, "registry time"),
                   derivation=_derived(secret, "derived secrets"),
                   handovers=KeyRing(signing_path).handovers(public_key_pem(key)))

    @cached_property
    def public_pem(self) -> str:
        """PEM of the signing key's public half: what trust lists and checkpoints name."""
        return public_key_pem(self.signing)

    @cached_property
    def first_public_pem(self) -> str:
        """PEM of the registry's first signing key: pinned to it, and following the hand-overs,
        the registry trusts whatever any of its keys signed."""
        return self.handovers[0].previous_key if self.handovers else self.public_pem

    @cached_property
    def fingerprint(self) -> str:
        """The signing key's fingerprint, for verifiers to pin."""
        return key_fingerprint(self.signing)

    def derived_secret(self, purpose: str) -> str:
        """A secret for ``purpose`` (the console's CSRF tokens), the same in every process that
        shares these keys and useless for anything else."""
        return hmac.new(self.derivation, f"field-sync {purpose}".encode(),
                        hashlib.sha256).hexdigest()
