"""The registry's own keys: its P-256 signing key (receipts, trust list) and the secret key that
encrypts TOTP secrets at rest, from which the key that MACs the registry times told to devices is
derived. Both are made once in the data directory (mode 0600), or read from the files
``$FIELD_SYNC_REGISTRY_KEY`` and ``$FIELD_SYNC_SECRET_KEY`` name, which several server processes
on one PostgreSQL must share."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["RegistryKeys"]


def _read_or_make(path: Path, make: bytes) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(make)
    return make


@dataclass(frozen=True)
class RegistryKeys:
    """The registry's signing key, its secret-encryption key and its time-MAC key."""

    signing: ec.EllipticCurvePrivateKey
    secrets: Fernet
    time_mac: bytes
    """Keys the MAC of registry times told to devices (``server.registry_time``)."""

    @classmethod
    def load(cls, data_dir: Path) -> RegistryKeys:
        """Read the keys, making them on first start."""
        signing_path = Path(os.environ.get("FIELD_SYNC_REGISTRY_KEY",
                                           data_dir / "registry-key.pem"))
        secret_path = Path(os.environ.get("FIELD_SYNC_SECRET_KEY", data_dir / "secret-key"))
        new_signing = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        key = serialization.load_pem_private_key(_read_or_make(signing_path, new_signing), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        secret = _read_or_make(secret_path, Fernet.generate_key()).strip()
        time_mac = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                        info=b"field-sync registry time").derive(secret)
        return cls(signing=key, secrets=Fernet(secret), time_mac=time_mac)
