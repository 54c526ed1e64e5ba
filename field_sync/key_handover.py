"""Hand-overs of the registry key: how a verifier pinned to one key follows the registry to the
next.

When the agency rotates its registry key, the outgoing key signs a statement naming the key
that takes over (``schemas.signing.KeyHandover``). The registry publishes every statement,
oldest first, with its key and in its trust lists. A verifier starts from the key it pinned and
takes each statement that its current key signed, one after the other: the keys so reached are
the ones it trusts. A statement signed by any other key (a forger's) is passed over, so a list
signed by a key it names stays untrusted.

What the registry key signs (trust lists, audit checkpoints, hand-overs) is signed over its
canonical encoding with the ``signature`` field empty; a trust list's hand-overs are left out
of what its signature covers, as each carries its own (``signed_form``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec

from field_sync.keys import InvalidKey, key_fingerprint, load_public_key, public_key_pem
from field_sync.signing import sign_canonical, verify_canonical
from schemas.signing import KeyHandover

__all__ = ["fingerprint_of", "followed", "hand_over", "handover_holds", "keys_reached",
           "signed_form"]

_NOT_SIGNED = ("signature", "handovers")


def signed_form(document: msgspec.Struct) -> dict[str, Any]:
    """What a registry signature covers: every field of ``document`` as it is, the signature
    written empty, and no hand-overs (a trust list's own are signed each by its key)."""
    fields = {name: getattr(document, name) for name in document.__struct_fields__
              if name not in _NOT_SIGNED}
    return {**fields, "signature": ""}


def fingerprint_of(pem: str) -> str | None:
    """The fingerprint of the P-256 public key in ``pem``; None if it holds none."""
    try:
        return key_fingerprint(load_public_key(pem))
    except InvalidKey:
        return None


def hand_over(outgoing: ec.EllipticCurvePrivateKey, next_key: str, at_ms: int) -> KeyHandover:
    """The statement, signed by ``outgoing``, that ``next_key`` (PEM) takes over at ``at_ms``."""
    unsigned = KeyHandover(previous_key=public_key_pem(outgoing), next_key=next_key,
                           at_ms=at_ms)
    return msgspec.structs.replace(unsigned,
                                   signature=sign_canonical(outgoing, signed_form(unsigned)))


def handover_holds(handover: KeyHandover) -> bool:
    """Whether ``handover`` carries a valid signature of the key it hands over from."""
    if fingerprint_of(handover.previous_key) is None or fingerprint_of(handover.next_key) is None:
        return False
    return verify_canonical(load_public_key(handover.previous_key), signed_form(handover),
                            handover.signature)


def followed(fingerprint: str, handovers: Sequence[KeyHandover]) -> list[KeyHandover]:
    """The hand-overs a verifier that pinned ``fingerprint`` follows: in order, each one that
    the key reached so far validly signed (a loop back to a key reached before ends the way)."""
    reached, taken = [fingerprint], []
    for handover in handovers:
        if fingerprint_of(handover.previous_key) != reached[-1] or not handover_holds(handover):
            continue
        following = fingerprint_of(handover.next_key)
        if following is None or following in reached:
            continue
        reached.append(following)
        taken.append(handover)
    return taken


def keys_reached(fingerprint: str, handovers: Sequence[KeyHandover]) -> list[str]:
    """The fingerprints a verifier that pinned ``fingerprint`` trusts: the pinned one first,
    then each key the hand-overs it follows name."""
    return [fingerprint, *(key_fingerprint(load_public_key(handover.next_key))
                           for handover in followed(fingerprint, handovers))]
