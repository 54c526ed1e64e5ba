"""Check by number, as the agency's bot does: was a protocol with this number issued to this
taxpayer, and what is its status?

Both the number and the STIR are required, so the registry cannot be walked through by either
alone; drafts are never found (they were not issued), and a signed protocol the registry has not
registered (quarantined, or held for review) reads as ``not_registered``, without its reasons.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from sqlmodel import col, select

from server.data.tables import DRAFT, ProtocolRow, ReceiptRow
from server.registry import Registry
from server.signing.seal_story import verification_path

__all__ = ["CheckAnswer", "CheckedProtocol", "PublicStatus", "check"]

PublicStatus = Literal["registered", "superseded", "annulled", "not_registered"]


class CheckedProtocol(msgspec.Struct, frozen=True):
    """One protocol issued under the number to the STIR."""

    status: PublicStatus
    """``registered``; ``superseded`` by a correction; ``annulled`` by a supervisor; or
    ``not_registered``: signed, but the registry has not registered it."""
    template: str
    """The template it was filled from (``id@version``)."""
    signed_at_ms: int
    """When the inspector signed it, milliseconds since the epoch."""
    registry_number: str = ""
    """Its number in the registry, once registered."""
    superseded_by: str = ""
    """The registry number of the correction that replaced it."""
    verification_url: str = ""
    """The page its seal's QR opens."""


class CheckAnswer(msgspec.Struct, frozen=True):
    """Whether a protocol with ``number`` was issued to ``stir``."""

    number: str
    stir: str
    found: bool
    protocols: list[CheckedProtocol]
    """Every protocol issued under that number to that STIR, the earliest signed first."""


def _public(status: str) -> PublicStatus:
    if status in ("registered", "superseded", "annulled"):
        return status  # type: ignore[return-value]
    return "not_registered"


def check(registry: Registry, number: str, stir: str, public_url: str) -> CheckAnswer:
    """The answer for ``number`` and ``stir``; ``public_url`` makes the verification links."""
    with registry.database.read() as session:
        rows = session.exec(
            select(ProtocolRow, ReceiptRow)
            .join(ReceiptRow, col(ReceiptRow.protocol_id) == col(ProtocolRow.id), isouter=True)
            .where(ProtocolRow.number == number, ProtocolRow.entity_tin == stir,
                   ProtocolRow.status != DRAFT)
            .order_by(col(ProtocolRow.signed_at_ms), col(ProtocolRow.id))).all()
        successors = {row.id: row.registry_number for row in session.exec(
            select(ProtocolRow).where(col(ProtocolRow.id).in_(
                [protocol.superseded_by for protocol, _ in rows if protocol.superseded_by])))}
    found = [CheckedProtocol(
        status=_public(protocol.status), template=protocol.template_ref,
        signed_at_ms=protocol.signed_at_ms,
        registry_number=receipt.registry_number if receipt else "",
        superseded_by=successors.get(protocol.superseded_by, ""),
        verification_url=public_url.rstrip("/") + verification_path(receipt.seal)
        if receipt else "") for protocol, receipt in rows]
    return CheckAnswer(number=number, stir=stir, found=bool(found), protocols=found)
