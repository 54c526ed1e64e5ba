"""A device's scope: what its inspector may see and write."""

from __future__ import annotations

from sqlmodel import Session, col, select

from schemas import Assignment
from server.tables import AssignmentMember, AssignmentRow

__all__ = ["assignments_in_scope", "assignments_since"]


def assignments_in_scope(session: Session, inspector_id: str) -> set[str]:
    """Ids of the assignments whose team includes ``inspector_id``."""
    statement = select(AssignmentMember.assignment_id).where(
        AssignmentMember.inspector_id == inspector_id
    )
    return set(session.exec(statement))


def assignments_since(session: Session, ids: set[str], changed: int) -> list[Assignment]:
    """The assignments among ``ids`` changed after ``changed``, with their teams."""
    rows = session.exec(
        select(AssignmentRow)
        .where(col(AssignmentRow.id).in_(ids), AssignmentRow.changed > changed)
        .order_by(col(AssignmentRow.id))
    ).all()
    if not rows:
        return []
    members: dict[str, list[str]] = {}
    team = select(AssignmentMember).where(
        col(AssignmentMember.assignment_id).in_([row.id for row in rows]))
    for member in session.exec(team):
        members.setdefault(member.assignment_id, []).append(member.inspector_id)
    return [
        Assignment(id=row.id, title=row.title, inspectors=tuple(sorted(members.get(row.id, []))),
                   starts_on=row.starts_on, ends_on=row.ends_on, site_id=row.site_id)
        for row in rows
    ]
