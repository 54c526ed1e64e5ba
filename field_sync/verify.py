"""Verifying a seal: offline against a cached trust list, and with the registry's word online.

Verdicts, in the order they are decided:

- ``untrusted``: the trust list is not signed by the pinned registry key (offline only);
- ``malformed``: not a seal at all;
- ``wrong_registry``: the seal's URL names another address than the trust list's registry;
- ``unknown_key``: no key with the seal's key id in the trust list;
- ``altered``: the signature does not match the claim (any changed character lands here);
- ``revoked``: the key was revoked, or retired, before the seal's signing time;
- ``not_registered``, ``superseded``, ``annulled``: what the registry says, when asked (a
  protocol signed but awaiting its evidence files is ``not_registered``, and its reason says
  so);
- ``genuine``.

A verdict carries the seal's claim only when its signature verified against a trusted key
(``genuine``, ``revoked`` and the registry's three): under the others nothing the seal's
writer wrote is passed on, not even in the reason.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from field_sync.keys import load_public_key
from field_sync.registry_pin import RegistryPin
from field_sync.seal import Claim, SealError, read_seal, same_address, seal_address
from schemas.signing import TrustedKey, TrustList

__all__ = ["VERIFIED", "RegistryStatus", "Verdict", "VerdictCode", "trust_list_is_signed",
           "verify_offline", "verify_seal"]

VerdictCode = Literal["genuine", "untrusted", "malformed", "wrong_registry", "unknown_key",
                      "altered", "revoked", "not_registered", "superseded", "annulled"]
RegistryStatus = Literal["registered", "not_registered", "awaiting_evidence", "superseded",
                         "annulled"]
VERIFIED: frozenset[VerdictCode] = frozenset(
    {"genuine", "revoked", "not_registered", "superseded", "annulled"})
"""The verdicts reached only once the seal's signature verified against a trusted key: the
only ones that carry its claim."""


class Verdict(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a seal is; with the claim it makes and the key that signed it only when that
    key's signature verified (``VERIFIED``)."""

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


def trust_list_is_signed(trust_list: TrustList, pin: RegistryPin) -> bool:
    """True when the list carries a valid signature of the pinned registry key."""
    return pin.signed(trust_list)


def verify_offline(text: str, trust_list: TrustList, pin: RegistryPin) -> Verdict:
    """The verdict on a seal's text from a cached trust list, trusting only the pinned
    registry key: a list it did not sign gives ``untrusted``, whatever key the list names."""
    if not pin.signed(trust_list):
        return Verdict("untrusted", "the trust list is not signed by the pinned registry key")
    return verify_seal(text, trust_list)


def verify_seal(text: str, trust_list: TrustList, registry: RegistryStatus | None = None,
                registry_number: str = "", superseded_by: str = "") -> Verdict:
    """The verdict on a seal's text against a trust list already trusted (the registry's own,
    or one ``verify_offline`` checked)."""
    try:
        seal = read_seal(text)
    except SealError as exc:
        return Verdict("malformed", exc.reason)
    address = seal_address(text)
    if address and not same_address(address, trust_list.public_url):
        return Verdict("wrong_registry", "the seal points at another address than the "
                       f"registry's, {trust_list.public_url or 'which the trust list omits'}")
    key = next((k for k in trust_list.keys if k.kid == seal.kid.hex()), None)
    if key is None:
        return Verdict("unknown_key", "no key in the trust list has the seal's key id")
    if not seal.verify(load_public_key(key.public_key)):
        return Verdict("altered", "the signature does not match this claim")
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
