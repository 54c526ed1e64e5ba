"""Verifying a seal: offline against a cached trust list, and with the registry's word online.

Verdicts, in the order they are decided:

- ``malformed``: not a seal at all;
- ``unknown_key``: no key with the seal's key id in the trust list;
- ``altered``: the signature does not match the claim (any changed character lands here);
- ``revoked``: the key was revoked, or retired, before the seal's signing time;
- ``not_registered``, ``superseded``, ``annulled``: what the registry says, when asked (a
  protocol signed but awaiting its evidence files is ``not_registered``, and its reason says
  so);
- ``genuine``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from field_sync.errors import FieldSyncError
from field_sync.keys import load_public_key
from field_sync.seal import Claim, SealError, read_seal
from field_sync.signing import verify_canonical
from schemas.signing import TrustedKey, TrustList

__all__ = ["RegistryStatus", "Verdict", "trust_list_is_signed", "verify_seal"]

VerdictCode = Literal["genuine", "malformed", "unknown_key", "altered", "revoked",
                      "not_registered", "superseded", "annulled"]
RegistryStatus = Literal["registered", "not_registered", "awaiting_evidence", "superseded",
                         "annulled"]


class Verdict(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a seal is, with the claim it makes (when it could be read)."""

    verdict: VerdictCode
    reason: str
    claim: Claim | None = None
    key: TrustedKey | None = None
    registry_number: str = ""
    superseded_by: str = ""

    @property
    def genuine(self) -> bool:
        """True only for a genuine seal."""
        return self.verdict == "genuine"


def trust_list_is_signed(trust_list: TrustList, registry_key_pem: str | None = None) -> bool:
    """True when the list carries a valid signature of the registry key (the pinned one, if
    given; otherwise the key the list names)."""
    pem = registry_key_pem or trust_list.registry_key
    try:
        key = load_public_key(pem)
    except FieldSyncError:
        return False
    unsigned = msgspec.structs.replace(trust_list, signature="")
    return verify_canonical(key, unsigned, trust_list.signature)


def verify_seal(text: str, trust_list: TrustList, registry: RegistryStatus | None = None,
                registry_number: str = "", superseded_by: str = "") -> Verdict:
    """The verdict on a seal's text."""
    try:
        seal = read_seal(text)
    except SealError as exc:
        return Verdict("malformed", exc.reason)
    key = next((k for k in trust_list.keys if k.kid == seal.kid.hex()), None)
    if key is None:
        return Verdict("unknown_key", f"no trusted key {seal.kid.hex()}", seal.claim)
    if not seal.verify(load_public_key(key.public_key)):
        return Verdict("altered", "the signature does not match this claim", seal.claim, key)
    signed_ms = seal.claim.signed_at * 1000
    if signed_ms + 999 < key.valid_from_ms:  # seals keep whole seconds
        return Verdict("revoked", "dated before its key existed", seal.claim, key)
    if key.revoked_after_ms and signed_ms > key.revoked_after_ms:
        return Verdict("revoked", "signed after its key was revoked", seal.claim, key)
    if key.retired_at_ms and signed_ms > key.retired_at_ms:
        return Verdict("revoked", "signed after its key was retired", seal.claim, key)
    if registry is not None and registry != "registered":
        reasons = {"not_registered": "the registry holds no such registered protocol",
                   "awaiting_evidence": "signed, and not registered yet: the registry awaits "
                                        "its evidence files, and registers it once they arrive",
                   "superseded": "a correction supersedes this protocol",
                   "annulled": "a supervisor annulled this protocol"}
        verdict: VerdictCode = "not_registered" if registry == "awaiting_evidence" else registry
        return Verdict(verdict, reasons[registry], seal.claim, key, registry_number,
                       superseded_by)
    return Verdict("genuine", "signed by a trusted key; content unaltered", seal.claim, key,
                   registry_number)
