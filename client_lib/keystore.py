"""Where the tablet's signing key lives.

A real tablet keeps it in its Secure Enclave or Android Keystore, gated by the inspector's
biometric; such an app implements ``KeyStore``. ``SoftwareKeyStore`` is the default: a P-256 key
in the device's SQLite file, encrypted at rest with a passphrase the app supplies.
"""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib.store import DeviceStore
from field_sync.keys import public_key_pem

__all__ = ["KeyStore", "SoftwareKeyStore"]


class KeyStore(Protocol):
    """A device signing key that never leaves its store."""

    def public_key_pem(self) -> str:
        """The public half, PEM."""
        ...

    def sign(self, data: bytes) -> bytes:
        """An ES256 signature (DER) over ``data``."""
        ...

    def next_key(self) -> str:
        """Make (once) the key that will replace the current one; return its public PEM.
        The current key keeps signing until ``promote()``."""
        ...

    def promote(self) -> None:
        """Sign with the next key from now on (after the registry enrolled it)."""
        ...


class SoftwareKeyStore:
    """A P-256 key kept in the device store, PKCS#8-encrypted with ``passphrase``.

    Args:
        store: the tablet's store.
        passphrase: unlocks the key; an app derives it from the platform's keystore.
    """

    _KEY = "signing_key"
    _NEXT = "next_signing_key"

    def __init__(self, store: DeviceStore, passphrase: bytes) -> None:
        self._store = store
        self._passphrase = passphrase
        self._key: ec.EllipticCurvePrivateKey | None = None

    def _load(self) -> ec.EllipticCurvePrivateKey:
        if self._key is None:
            pem = self._store.get(self._KEY)
            if pem is None:
                self._key = self._make()
            else:
                loaded = serialization.load_pem_private_key(pem, password=self._passphrase)
                assert isinstance(loaded, ec.EllipticCurvePrivateKey)
                self._key = loaded
        return self._key

    def _make(self, slot: str = _KEY) -> ec.EllipticCurvePrivateKey:
        key = ec.generate_private_key(ec.SECP256R1())
        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        with self._store.transaction() as db:
            DeviceStore.put(db, slot, encrypted)
        return key

    def next_key(self) -> str:
        """Make (once) the replacement key, kept apart until ``promote()``; its public PEM."""
        pem = self._store.get(self._NEXT)
        if pem is None:
            return public_key_pem(self._make(self._NEXT))
        loaded = serialization.load_pem_private_key(pem, password=self._passphrase)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        return public_key_pem(loaded)

    def promote(self) -> None:
        """Sign with the replacement key from now on; the old key is destroyed."""
        pem = self._store.get(self._NEXT)
        if pem is None:
            return
        with self._store.transaction() as db:
            DeviceStore.put(db, self._KEY, pem)
            db.execute("DELETE FROM meta WHERE key = ?", (self._NEXT,))
        self._key = None

    def public_key_pem(self) -> str:
        """The public half, PEM (the key is made on first use)."""
        return public_key_pem(self._load())

    def sign(self, data: bytes) -> bytes:
        """An ES256 signature (DER) over ``data``."""
        return self._load().sign(data, ec.ECDSA(hashes.SHA256()))
