"""A protocol's evidence files as the console shows them: numbered in the template's order as
the printed protocol numbers them, each with what it shows, when it was taken (and by whose
clock), and whether it has reached the registry."""

from __future__ import annotations

import msgspec
from sqlmodel import Session

from field_sync.printed_evidence import exhibits
from schemas import Protocol, Template
from server.blobs.evidence import held

__all__ = ["EvidenceView", "evidence_views"]


class EvidenceView(msgspec.Struct, frozen=True):
    """One file a protocol names."""

    number: int
    label: str
    """The field it fills, and the row's type and serial for a row's file."""
    sha256: str
    media_type: str
    taken_at: str
    """When it was taken (ISO 8601 with its offset)."""
    time_source: str
    """Whose clock says so: ``photo`` (the camera's) or ``device`` (the tablet's)."""
    arrived: bool
    """Whether the registry holds the file."""

    @property
    def photo(self) -> bool:
        """Whether it is a photo (it has a thumbnail), not a PDF."""
        return self.media_type.startswith("image/")


def evidence_views(session: Session, template: Template, protocol: Protocol,
                   lang: str) -> tuple[EvidenceView, ...]:
    """The files ``protocol`` names, labelled in ``lang``."""
    found = exhibits(template, protocol, lang)
    arrived = held(session, (exhibit.attachment.sha256 for exhibit in found))
    return tuple(EvidenceView(exhibit.number, exhibit.label, exhibit.attachment.sha256,
                              exhibit.attachment.media_type, exhibit.attachment.taken_at,
                              exhibit.attachment.time_source,
                              exhibit.attachment.sha256 in arrived) for exhibit in found)
