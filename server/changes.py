"""Pulling: the changes in a device's scope since its cursor, a page at a time.

A cursor is ``<base>.<changed>.<protocol id>``: the device holds every change numbered up to
``base``, and this run of pages has sent the protocols up to position ``(changed, id)``. Each page
sends, for every protocol past the position, the registers that changed after ``base``; the last
page hands back a new base, the change number its snapshot had reached. Change numbers are taken
under a row lock held to commit (see ``server.tables.ChangeCounter``), so a change that is
visible has a number no greater than any still in flight, and no cursor can pass over it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from schemas import Inspector, Op, PullResponse
from server.catalog import TemplateCatalog
from server.documents import decode_state
from server.problems import BadRequest
from server.scope import assignments_in_scope, assignments_since
from server.tables import ChangeCounter, InspectorRow, ProtocolRow

__all__ = ["Cursor", "pull"]


@dataclass(frozen=True)
class Cursor:
    """Where a device stands in the registry's changes."""

    base: int = 0
    changed: int = 0
    doc: str = ""

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Read a cursor a device sent back; empty means from the beginning."""
        if not text:
            return cls()
        try:
            base, changed, doc = text.split(".", 2)
            cursor = cls(int(base), int(changed), doc)
        except ValueError:
            raise BadRequest("bad_cursor", f"{text!r} is not a cursor this registry gave") from None
        if cursor.base < 0 or cursor.changed < cursor.base:
            raise BadRequest("bad_cursor", f"{text!r} is not a cursor this registry gave")
        return cursor

    def __str__(self) -> str:
        return f"{self.base}.{self.changed}.{self.doc}"

    @property
    def at_start(self) -> bool:
        """True on the first page of a run."""
        return self.changed == self.base and not self.doc


def _page(session: Session, scope: set[str], cursor: Cursor, limit: int) -> list[ProtocolRow]:
    position = or_(
        col(ProtocolRow.changed) > cursor.changed,
        and_(col(ProtocolRow.changed) == cursor.changed, col(ProtocolRow.id) > cursor.doc),
    )
    statement = (
        select(ProtocolRow)
        .where(col(ProtocolRow.assignment_id).in_(scope), position)
        .order_by(col(ProtocolRow.changed), col(ProtocolRow.id))
        .limit(limit + 1)
    )
    return list(session.exec(statement))


def pull(
    session: Session,
    catalog: TemplateCatalog,
    inspector_id: str,
    cursor: Cursor,
    limit: int,
    now_ms: int,
) -> PullResponse:
    """One page of changes for a device of ``inspector_id``."""
    reached = session.exec(select(ChangeCounter.value)).one()
    scope = assignments_in_scope(session, inspector_id)
    rows = _page(session, scope, cursor, limit) if scope else []
    more = len(rows) > limit
    rows = rows[:limit]
    changes: list[Op] = []
    for row in rows:
        changes.extend(decode_state(row).changes_since(cursor.base))
    if more:
        next_cursor = Cursor(cursor.base, rows[-1].changed, rows[-1].id)
    else:
        next_cursor = Cursor(reached, reached, "")
    inspector = session.get(InspectorRow, inspector_id)
    response = PullResponse(cursor=str(next_cursor), changes=changes, more=more,
                            server_time_ms=now_ms)
    if inspector is not None:
        response.inspector = Inspector(inspector.id, inspector.full_name, inspector.region,
                                       inspector.suspended)
    if cursor.at_start:
        response.templates = catalog.changed_since(session, cursor.base)
        response.assignments = assignments_since(session, scope, cursor.base)
    return response
