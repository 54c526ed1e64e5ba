"""The registry's view for the rules: the signer, the key owner, the assignment, its site and
the working standards a protocol names, as the registry holds them."""

from __future__ import annotations

import msgspec
from sqlmodel import Session, col, select

from field_sync.rules import RuleContext
from schemas import Assignment, Inspector, Protocol, Template
from schemas.reference import ReferenceInstrument, Site
from schemas.signing import SigningStatement
from server.data.tables import AssignmentMember, AssignmentRow, InspectorRow, ReferenceRow

__all__ = ["rule_context"]


def _reference(session: Session, kind: str, key: str) -> bytes | None:
    row = session.get(ReferenceRow, (kind, key))
    return None if row is None else row.body


def _assignment(session: Session, assignment_id: str) -> Assignment | None:
    row = session.get(AssignmentRow, assignment_id)
    if row is None:
        return None
    team = session.exec(select(AssignmentMember.inspector_id).where(
        AssignmentMember.assignment_id == assignment_id))
    return Assignment(row.id, row.title, tuple(sorted(team)), row.starts_on, row.ends_on,
                      row.site_id)


def rule_context(session: Session, protocol: Protocol, template: Template,
                 statement: SigningStatement, key_owner: str) -> RuleContext:
    """What the rules need to judge ``protocol`` signed with ``statement``."""
    signer_row = session.get(InspectorRow, statement.signer)
    signer = None if signer_row is None else Inspector(
        signer_row.id, signer_row.full_name, signer_row.region, signer_row.suspended,
        signer_row.attested_until)
    assignment = _assignment(session, protocol.assignment or "")
    site_body = _reference(session, "site", assignment.site_id) if assignment else None
    used = {str(row.get("instrument_id", "")) for row in
            protocol.collections.get("reference_instruments", {}).values()}
    instruments = {
        row.key: msgspec.msgpack.decode(row.body, type=ReferenceInstrument)
        for row in session.exec(select(ReferenceRow).where(
            ReferenceRow.kind == "instrument", col(ReferenceRow.key).in_(used)))
    }
    return RuleContext(
        protocol=protocol, template=template, statement=statement, signer=signer,
        key_owner=key_owner, assignment=assignment,
        site=None if site_body is None else msgspec.msgpack.decode(site_body, type=Site),
        instruments=instruments, confirmed=True,
    )
