"""A correction registered: the protocol it corrects is superseded by it."""

from __future__ import annotations

from sqlmodel import Session

from server.authority.audit import append as audit
from server.data.tables import ProtocolRow

__all__ = ["supersede_corrected"]


def supersede_corrected(session: Session, corrected_id: str, by: str, changed: int,
                        at_ms: int, actor: str) -> None:
    """A correction just registered supersedes the protocol it corrects, if that one is still
    registered or quarantined (it may have been annulled since the correction was made)."""
    old = session.get(ProtocolRow, corrected_id)
    if old is None or old.status not in ("registered", "quarantined"):
        return
    old.status, old.superseded_by, old.changed = "superseded", by, changed
    session.add(old)
    audit(session, at_ms, actor, "superseded", corrected_id, {"by": by}, changed)
