"""The registry key's files: the key in use, every key the registry signed with, and the
hand-overs between them. They live together, in the folder of the key file::

    registry-key.pem                  the key in use (or the file ``registry_key`` names)
    registry-key-<fingerprint>.pem    each key the registry has had, kept for good
    registry-key-handovers.json       the hand-overs, oldest first (JSON array of KeyHandover)

``rotate`` is the key ceremony's one step: it keeps the key in use under its fingerprint, makes
the next key (kept the same way), has the outgoing key sign the hand-over, and only then puts
the next key in use. Each file is written whole and renamed into place, so a rotation cut off
midway is finished by running it again; the registry refuses to start on hand-overs that do not
lead to its key. No key file is ever deleted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from field_sync.key_handover import fingerprint_of, hand_over, handover_holds
from field_sync.keys import key_fingerprint, public_key_pem
from schemas.signing import KeyHandover

__all__ = ["KeyRing", "KeyRingError", "new_signing_key", "read_signing_key"]

_HANDOVERS = msgspec.json.Decoder(list[KeyHandover])


class KeyRingError(ValueError):
    """The registry key's files do not hold together: the key cannot be used or rotated."""


def new_signing_key() -> bytes:
    """A new P-256 registry key, as PKCS#8 PEM."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def read_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The registry key in ``path``; ``KeyRingError`` if the file holds no P-256 private key."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except (ValueError, TypeError) as exc:
        raise KeyRingError(f"{path} holds no readable registry key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyRingError(f"{path} holds no elliptic-curve private key")
    return key


def _write_whole(path: Path, data: bytes) -> None:
    """``data`` in ``path``, mode 0600, written to a new file and renamed over it."""
    partial = path.with_name(f".{path.name}.partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


@dataclass(frozen=True)
class KeyRing:
    """The registry key's files, named after the key file ``path``."""

    path: Path

    @property
    def handovers_path(self) -> Path:
        """The file of the hand-overs."""
        return self.path.with_name(f"{self.path.stem}-handovers.json")

    def kept_path(self, fingerprint: str) -> Path:
        """Where the key of ``fingerprint`` is kept for good."""
        return self.path.with_name(f"{self.path.stem}-{fingerprint}.pem")

    def recorded(self) -> list[KeyHandover]:
        """The hand-overs as written (none before the first rotation), unchecked."""
        if not self.handovers_path.exists():
            return []
        try:
            return _HANDOVERS.decode(self.handovers_path.read_bytes())
        except msgspec.DecodeError as exc:
            raise KeyRingError(f"{self.handovers_path}: not a list of hand-overs ({exc})") \
                from exc

    def handovers(self, key_in_use: str) -> tuple[KeyHandover, ...]:
        """The hand-overs, checked to lead one after the other to ``key_in_use`` (PEM), each
        signed by the key it hands over from; ``KeyRingError`` if they do not."""
        chain = self.recorded()
        for number, handover in enumerate(chain):
            if not handover_holds(handover):
                raise KeyRingError(f"{self.handovers_path}: hand-over {number + 1} is not "
                                   "signed by the key it hands over from")
            if number and fingerprint_of(handover.previous_key) != fingerprint_of(
                    chain[number - 1].next_key):
                raise KeyRingError(f"{self.handovers_path}: hand-over {number + 1} does not "
                                   "start from the key the one before it handed over to")
        if chain and fingerprint_of(chain[-1].next_key) != fingerprint_of(key_in_use):
            unfinished = fingerprint_of(chain[-1].previous_key) == fingerprint_of(key_in_use)
            raise KeyRingError(
                f"{self.path} is not the key the last hand-over in {self.handovers_path} "
                "names" + (": a rotation was cut off; run 'field-sync admin "
                           "rotate-registry-key' again to finish it" if unfinished else ""))
        return tuple(chain)

    def rotate(self, now_ms: int) -> KeyHandover:
        """Hand the registry over to a new key at ``now_ms`` (or finish a rotation cut off);
        return the hand-over. The key in use must exist (the registry makes it on first
        start)."""
        outgoing = read_signing_key(self.path)
        outgoing_pem = public_key_pem(outgoing)
        chain = self.recorded()
        pending = self._pending(chain, outgoing_pem)
        if pending is not None:
            _write_whole(self.path, self.kept_path(pending).read_bytes())
            return chain[-1]
        self.handovers(outgoing_pem)  # the files hold together before anything is added
        self._keep(outgoing)
        incoming = new_signing_key()
        incoming_key = serialization.load_pem_private_key(incoming, None)
        assert isinstance(incoming_key, ec.EllipticCurvePrivateKey)
        _write_whole(self.kept_path(key_fingerprint(incoming_key)), incoming)
        handover = hand_over(outgoing, public_key_pem(incoming_key), now_ms)
        _write_whole(self.handovers_path, msgspec.json.encode([*chain, handover]))
        _write_whole(self.path, incoming)
        return handover

    def _keep(self, key: ec.EllipticCurvePrivateKey) -> None:
        """Keep ``key`` under its fingerprint, unless it is kept already."""
        kept = self.kept_path(key_fingerprint(key))
        if not kept.exists():
            _write_whole(kept, self.path.read_bytes())

    def _pending(self, chain: list[KeyHandover], key_in_use: str) -> str | None:
        """The fingerprint of the key a rotation cut off before putting it in use, if one
        was."""
        if not chain or fingerprint_of(chain[-1].previous_key) != fingerprint_of(key_in_use):
            return None
        following = fingerprint_of(chain[-1].next_key)
        return following if following and self.kept_path(following).exists() else None
