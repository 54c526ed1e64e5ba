"""What the verification page tells of a seal: the registry's verdict and, for a seal whose
signature verified against a trusted key, the protocol in human words and its registry story.

Under a verdict that did not verify the signature (``malformed``, ``unknown_key``, ``altered``,
``untrusted``, ``wrong_registry``) nothing the seal's writer wrote is looked up or shown: a
forger must not be able to put a number, a company or an inspector on the agency's page.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from sqlmodel import Session, select

from field_sync.verify import VERIFIED, Verdict
from schemas import builtin_templates
from schemas.reference import Entity, Site
from schemas.templates import Label, Template
from server.data.tables import AnnulmentRow, InspectorRow, ProtocolRow, ReceiptRow, ReferenceRow
from server.registry import Registry
from server.services.supervision import status_history
from server.signing.verification import verdict_for

__all__ = ["VERIFIED", "Person", "SealStory", "story_of", "verification_path"]

@dataclass(frozen=True)
class Person:
    """An inspector as the reference data names them."""

    id: str
    name: str = ""
    position: str = ""


@dataclass(frozen=True)
class SealStory:
    """A seal's verdict and what the page may say about it."""

    verdict: Verdict
    template: Template | None = None
    """The protocol's template, for its title and its result's label."""
    inspector: Person | None = None
    entity_name: str = ""
    site_name: str = ""
    site_address: str = ""
    registered_at_ms: int = 0
    successor_number: str = ""
    """The correction that superseded it: its registry number (or id)."""
    successor_seal: str = ""
    """The correction's seal, from its prefix on: its own verification page."""
    annulled_at_ms: int = 0
    annulment_reason: str = ""
    protocol_id: str = ""
    cleared_at_ms: int = 0
    """When a supervisor cleared it from quarantine for registration (0: it was not)."""
    clearance_reason: str = ""

    @property
    def verified(self) -> bool:
        """Whether the claim may be shown: its signature verified against a trusted key."""
        return self.verdict.verdict in VERIFIED and self.verdict.claim is not None

    def result_label(self) -> Label | None:
        """The template's label for the claimed result (its conclusion's option)."""
        claim = self.verdict.claim
        if self.template is None or claim is None:
            return None
        for field in self.template.fields:
            for option in field.options:
                if field.name == "conclusion" and option.value == claim.result:
                    return option.label
        return None


def verification_path(seal: str) -> str:
    """The verification page of a seal, on this registry: ``/v/FS1…``."""
    return f"/v/{seal[seal.rfind('/') + 1:]}"


def _reference(session: Session, kind: str, key: str, schema: type[msgspec.Struct]) -> object:
    row = session.get(ReferenceRow, (kind, key)) if key else None
    return None if row is None else msgspec.msgpack.decode(row.body, type=schema)


def _template(registry: Registry, session: Session, row: ProtocolRow | None,
              code: str) -> Template | None:
    if row is not None:
        return registry.catalog.get(session, row.template_ref)
    # a seal of a protocol the registry never received: the built-in template of its kind
    return next((t for t in builtin_templates() if t.code == code), None)


def _details(registry: Registry, verdict: Verdict) -> SealStory:
    claim = verdict.claim
    assert claim is not None
    with registry.database.read() as session:
        row = session.get(ProtocolRow, claim.protocol_id)
        inspector = session.get(InspectorRow, verdict.key.inspector_id) if verdict.key else None
        entity = _reference(session, "entity", claim.entity, Entity)
        site = _reference(session, "site", row.site_id if row else "", Site)
        receipt = session.exec(select(ReceiptRow).where(
            ReceiptRow.protocol_id == claim.protocol_id)).first()
        successor = session.get(ReceiptRow, row.superseded_by) if row and row.superseded_by \
            else None
        annulment = session.get(AnnulmentRow, claim.protocol_id) \
            if verdict.verdict == "annulled" else None
        template = _template(registry, session, row, claim.kind)
        cleared = next((event for event in status_history(session, claim.protocol_id)
                        if event.status == "cleared"), None)
    return SealStory(
        verdict=verdict, template=template, protocol_id=claim.protocol_id,
        inspector=Person(inspector.id, inspector.full_name, inspector.position)
        if inspector else Person(verdict.key.inspector_id) if verdict.key else None,
        entity_name=entity.name if isinstance(entity, Entity) else "",
        site_name=site.name if isinstance(site, Site) else "",
        site_address=site.address if isinstance(site, Site) else "",
        registered_at_ms=receipt.registered_at_ms if receipt else 0,
        successor_number=verdict.superseded_by,
        successor_seal=successor.seal if successor else "",
        annulled_at_ms=annulment.at_ms if annulment else 0,
        annulment_reason=annulment.reason if annulment else "",
        cleared_at_ms=cleared.at_ms if cleared else 0,
        clearance_reason=str(cleared.detail.get("reason", "")) if cleared else "")


def story_of(registry: Registry, seal: str, public_url: str) -> SealStory:
    """The verdict on ``seal`` as the registry at ``public_url`` gives it and, when its
    signature verified, its story."""
    verdict = verdict_for(registry, seal, public_url)
    if verdict.verdict not in VERIFIED or verdict.claim is None:
        return SealStory(verdict)
    return _details(registry, verdict)
