"""The agency's registry key, pinned by a verifier.

A trust list names the key that signed it, so a list that merely verifies under its own key
proves nothing: anyone can make a registry key and sign a list of their own device keys. An
offline verifier therefore pins the agency's key once, as its PEM or as its fingerprint
compiled into the verifier's settings, and trusts only what that key signed: trust lists
and audit checkpoints; and, once the agency rotated its key, what the keys it handed over to
signed (``field_sync.key_handover``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from field_sync.errors import FieldSyncError
from field_sync.key_handover import fingerprint_of, followed, keys_reached, signed_form
from field_sync.keys import InvalidKey, key_fingerprint, load_public_key
from field_sync.signing import verify_canonical
from schemas.signing import AuditCheckpoint, KeyHandover, TrustList

__all__ = ["InvalidPin", "RegistryPin", "RegistrySigned"]

RegistrySigned = TrustList | AuditCheckpoint
"""What the registry key signs for verifiers to keep."""

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class InvalidPin(FieldSyncError, ValueError):
    """Neither a key fingerprint nor a P-256 public key in PEM."""

    code = "invalid_pin"


@dataclass(frozen=True)
class RegistryPin:
    """The one registry key a verifier trusts.

    Args:
        fingerprint: SHA-256 of the key's DER SubjectPublicKeyInfo, 64 lower-case hex digits
            (``GET /v1/registry-key`` publishes it).
    """

    fingerprint: str

    def __post_init__(self) -> None:
        if not _FINGERPRINT.fullmatch(self.fingerprint):
            raise InvalidPin("a registry key fingerprint is 64 hex digits (SHA-256)")

    @classmethod
    def parse(cls, text: str) -> RegistryPin:
        """A pin from a PEM public key, or from a fingerprint written in hex (any case, with
        or without colons and a ``sha256:`` prefix)."""
        if "-----BEGIN" in text:
            return cls.of_key(text)
        digits = text.strip().lower().removeprefix("sha256:").replace(":", "")
        return cls(digits)

    @classmethod
    def of_key(cls, pem: str) -> RegistryPin:
        """The pin of the key in ``pem`` (a P-256 public key)."""
        try:
            return cls(key_fingerprint(load_public_key(pem)))
        except InvalidKey as exc:
            raise InvalidPin(f"not a registry key: {exc.reason}") from exc

    def holds(self, pem: str) -> bool:
        """Whether ``pem`` is the pinned key."""
        try:
            return key_fingerprint(load_public_key(pem)) == self.fingerprint
        except InvalidKey:
            return False

    def signed(self, document: RegistrySigned,
               handovers: Sequence[KeyHandover] | None = None) -> bool:
        """Whether ``document`` carries a valid signature of the pinned key, or of a key the
        hand-overs lead to from it (never of the key the document names, unless it is one of
        those).

        Args:
            document: a trust list or an audit checkpoint.
            handovers: the registry key's hand-overs, oldest first; by default a trust list's
                own, and none for a checkpoint.
        """
        if handovers is None:
            handovers = document.handovers if isinstance(document, TrustList) else ()
        if fingerprint_of(document.registry_key) not in keys_reached(self.fingerprint,
                                                                     handovers):
            return False
        return verify_canonical(load_public_key(document.registry_key), signed_form(document),
                                document.signature)

    def newest_key(self, handovers: Sequence[KeyHandover]) -> str | None:
        """The PEM of the last key the hand-overs lead to from the pinned one; None when they
        lead nowhere from it."""
        taken = followed(self.fingerprint, handovers)
        return taken[-1].next_key if taken else None
