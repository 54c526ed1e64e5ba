"""What a tablet trusts its registry by: the registry key pinned at enrollment, and what that key
signed: the trust list seals are checked against offline, and the newest audit checkpoint.

When the agency rotates its registry key, the trust list carries the key's hand-overs: a list
signed by a key they lead to from the pinned one is kept, and the tablet pins that key from
then on (the checkpoint of the same sync is checked against it).

A trust list older than the one kept is refused, as a checkpoint that goes back is (below): an
old list, replayed, could be from before a key was revoked.

The tablet keeps the newest checkpoint it was given, as evidence: a registry whose audit log
was later cut short cannot show a log that reaches it. A checkpoint that goes back (fewer
entries, or the same entry with another hash) is not kept, and is logged as what it is.
"""

from __future__ import annotations

import logging

import msgspec

from client_lib.errors import RegistryRefused
from client_lib.store import DeviceStore
from client_lib.transport import Transport
from field_sync.registry_pin import RegistryPin
from schemas.signing import AuditCheckpoint, TrustList

__all__ = ["kept_checkpoint", "kept_trust_list", "pinned_key", "refresh_anchors"]

log = logging.getLogger("field_sync.client")

REGISTRY_KEY, TRUST_LIST, CHECKPOINT = "registry_key", "trust_list", "audit_checkpoint"


def pinned_key(store: DeviceStore) -> RegistryPin | None:
    """The registry key the tablet learned at enrollment, if it did."""
    pem = store.get(REGISTRY_KEY)
    return None if pem is None else RegistryPin.of_key(pem)


def kept_trust_list(store: DeviceStore) -> TrustList | None:
    """The trust list cached at the last sync."""
    raw = store.get(TRUST_LIST)
    return None if raw is None else msgspec.convert(raw, TrustList)


def kept_checkpoint(store: DeviceStore) -> AuditCheckpoint | None:
    """The newest audit checkpoint the registry gave this tablet."""
    raw = store.get(CHECKPOINT)
    return None if raw is None else msgspec.convert(raw, AuditCheckpoint)


def _keep_trust_list(store: DeviceStore, pin: RegistryPin, fresh: TrustList) -> RegistryPin:
    """Keep ``fresh`` if the pinned key, or one its hand-overs lead to, signed it; the pin to
    check the rest of the sync against (the key that signed the list, once it is kept)."""
    if store.get(TRUST_LIST) == msgspec.to_builtins(fresh):
        return pin  # unchanged: checked and kept already, its key pinned with it
    if not pin.signed(fresh):
        log.warning("ignoring a trust list not signed by the pinned registry key")
        return pin
    kept = kept_trust_list(store)
    if kept is not None and fresh.issued_at_ms < kept.issued_at_ms:
        # An older list the registry key did sign, replayed: it may be from before a key was
        # revoked, and seals that key made since would verify again.
        log.error("the registry's trust list went back: one issued at %d was kept, and one "
                  "issued at %d came; the newer is kept", kept.issued_at_ms, fresh.issued_at_ms)
        return pin
    newest = pin.newest_key(fresh.handovers)
    with store.transaction() as db:
        DeviceStore.put(db, TRUST_LIST, fresh)
        if newest is not None:
            DeviceStore.put(db, REGISTRY_KEY, newest)
    if newest is None:
        return pin
    log.info("the registry handed its key over: %s is pinned now", RegistryPin.of_key(
        newest).fingerprint)
    return RegistryPin.of_key(newest)


def _keep_checkpoint(store: DeviceStore, pin: RegistryPin, fresh: AuditCheckpoint) -> None:
    if not pin.signed(fresh):
        log.warning("ignoring an audit checkpoint not signed by the pinned registry key")
        return
    kept = kept_checkpoint(store)
    if kept is not None and (fresh.seq < kept.seq or (
            fresh.seq == kept.seq and fresh.head_hash != kept.head_hash)):
        log.error("the registry's audit log went back: it signed entry %d (hash %s) before, "
                  "and now entry %d (hash %s); the earlier checkpoint is kept",
                  kept.seq, kept.head_hash, fresh.seq, fresh.head_hash)
        return
    with store.transaction() as db:
        DeviceStore.put(db, CHECKPOINT, fresh)


def refresh_anchors(store: DeviceStore, transport: Transport) -> None:
    """Fetch and keep the registry's trust list and audit checkpoint, each only if the pinned
    registry key, or a key its hand-overs lead to, signed it (nothing is kept by a tablet
    that has pinned no key); follow the hand-overs to pin the key in use."""
    pin = pinned_key(store)
    if pin is None:
        log.warning("no registry key pinned at enrollment: trust lists cannot be checked")
        return
    pin = _keep_trust_list(store, pin, transport.trust_list())
    try:
        checkpoint = transport.audit_checkpoint()
    except RegistryRefused as refused:
        # A registry from before checkpoints answers 404; any other refusal is the registry's
        # alarm (its log no longer reaches a checkpoint it signed), not a failed sync.
        if refused.status != 404:
            log.error("the registry signs no audit checkpoint: %s", refused)
        return
    _keep_checkpoint(store, pin, checkpoint)
