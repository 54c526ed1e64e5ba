"""The registry's verdict on a seal: the offline checks against its own trust list (its keys
and its public address), and its register (registered or not, superseded, annulled)."""

from __future__ import annotations

from sqlmodel import Session, select

from field_sync.seal import SealError, read_seal, seal_hash
from field_sync.verify import RegistryStatus, Verdict, verify_seal
from server.authority.trust import current_list
from server.blobs.evidence import AWAITING_EVIDENCE
from server.data.tables import ProtocolRow, ReceiptRow
from server.registry import Registry
from server.sync.documents import decode_state

__all__ = ["verdict_for"]


def verdict_for(registry: Registry, seal: str, public_url: str) -> Verdict:
    """The verdict on ``seal`` (its whole text, or from its prefix on) as the registry at
    ``public_url`` sees it now."""
    # The registry's own list, as this process keeps it (its signature is not needed here).
    trusted = current_list(registry.database, registry.keys, public_url).unsigned
    with registry.database.read() as session:
        try:
            digest = seal_hash(seal)
        except SealError:
            return verify_seal(seal, trusted)
        receipt = session.exec(select(ReceiptRow).where(ReceiptRow.seal_hash == digest)).first()
        protocol = None if receipt is None else session.get(ProtocolRow, receipt.protocol_id)
        successor = None
        if protocol is not None and protocol.superseded_by:
            successor = session.get(ProtocolRow, protocol.superseded_by)
        unregistered = _unregistered(session, seal, digest) if receipt is None else None
    if receipt is None or protocol is None:
        return verify_seal(seal, trusted, unregistered or "not_registered")
    if protocol.status == "superseded":
        return verify_seal(seal, trusted, "superseded", receipt.registry_number,
                           successor.registry_number or successor.id if successor else "")
    if protocol.status == "annulled":
        return verify_seal(seal, trusted, "annulled", receipt.registry_number)
    return verify_seal(seal, trusted, "registered", receipt.registry_number)


def _unregistered(session: Session, seal: str, digest: str) -> RegistryStatus | None:
    """``awaiting_evidence`` for the seal of a signed protocol that waits for its files."""
    try:
        protocol = session.get(ProtocolRow, read_seal(seal).claim.protocol_id)
    except SealError:
        return None  # the verdict says why
    if protocol is None or protocol.status != AWAITING_EVIDENCE:
        return None
    frozen = decode_state(protocol).frozen
    signed = frozen.signed if frozen is not None else None
    return "awaiting_evidence" if signed is not None and seal_hash(signed.seal) == digest \
        else None
