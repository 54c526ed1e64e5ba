"""A device's scope: what its inspector may see and write."""

from __future__ import annotations

from sqlmodel import Session, col, select

from schemas import Assignment
from schemas.wire import TeamMember
from server.data.tables import AssignmentMember, AssignmentRow, InspectorRow

__all__ = ["assignment_team", "assignments_in_scope", "assignments_since", "team_members"]


def assignments_in_scope(session: Session, inspector_id: str) -> set[str]:
    """Ids of the assignments whose team includes ``inspector_id``."""
    statement = select(AssignmentMember.assignment_id).where(
        AssignmentMember.inspector_id == inspector_id
    )
    return set(session.exec(statement))


def assignments_since(session: Session, ids: set[str], changed: int) -> list[Assignment]:
    """The assignments among ``ids`` changed after ``changed``, with their teams."""
    if not ids:
        return []
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


def team_members(session: Session, ids: set[str]) -> list[TeamMember]:
    """The inspectors ``ids`` by name and position, in order of id."""
    if not ids:
        return []
    rows = session.exec(select(InspectorRow).where(col(InspectorRow.id).in_(ids))
                        .order_by(col(InspectorRow.id)))
    return [TeamMember(row.id, row.full_name, row.position) for row in rows]


def assignment_team(session: Session, assignment_id: str) -> list[TeamMember]:
    """The inspectors on one assignment's team, by name and position."""
    members = select(AssignmentMember.inspector_id).where(
        AssignmentMember.assignment_id == assignment_id)
    return team_members(session, set(session.exec(members)))
