"""Registry queries: protocols by number, entity, inspector, site, status and signing date,
paged by id; and the same selection streamed for export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from schemas import ProtocolPage, ProtocolSummary
from server.tables import DRAFT, ProtocolRow, protocol_columns

__all__ = ["Filters", "Listed", "count", "query", "stream", "summary"]

TASHKENT = ZoneInfo("Asia/Tashkent")  # registry days are the agency's days
STATUSES = (DRAFT, "registered", "quarantined", "superseded", "annulled")
_Selection = TypeVar("_Selection", bound=Select[Any])


class Listed(Protocol):
    """What a listing shows of a protocol: a protocol row, or a row of those columns."""

    id: str
    template_ref: str
    status: str
    number: str
    entity_tin: str
    inspector_id: str
    site_id: str
    assignment_id: str
    signed_at_ms: int
    registry_number: str
    superseded_by: str
    reasons: str


_LISTED = protocol_columns(Listed.__annotations__)


def _day_start_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), TASHKENT).timestamp() * 1000)


@dataclass(frozen=True)
class Filters:
    """What to select; empty means any. ``signed_from``/``signed_to`` are days, inclusive."""

    number: str = ""
    entity_tin: str = ""
    inspector: str = ""
    site: str = ""
    status: str = ""
    signed_from: dt.date | None = None
    signed_to: dt.date | None = None

    def apply(self, statement: _Selection) -> _Selection:
        """``statement`` narrowed to these filters."""
        for column, value in ((ProtocolRow.number, self.number),
                              (ProtocolRow.entity_tin, self.entity_tin),
                              (ProtocolRow.inspector_id, self.inspector),
                              (ProtocolRow.site_id, self.site),
                              (ProtocolRow.status, self.status)):
            if value:
                statement = statement.where(col(column) == value)
        if self.signed_from:
            start = _day_start_ms(self.signed_from)
            statement = statement.where(col(ProtocolRow.signed_at_ms) >= start)
        if self.signed_to:
            statement = statement.where(col(ProtocolRow.signed_at_ms) > 0)
        if self.signed_to and self.signed_to < dt.date.max:  # the last day has no day after it
            end = _day_start_ms(self.signed_to + dt.timedelta(days=1))
            statement = statement.where(col(ProtocolRow.signed_at_ms) < end)
        return statement


def summary(row: Listed) -> ProtocolSummary:
    """The listing form of a protocol row."""
    return ProtocolSummary(
        id=row.id, template=row.template_ref, status=row.status, number=row.number,
        entity_tin=row.entity_tin, inspector_id=row.inspector_id, site_id=row.site_id,
        assignment_id=row.assignment_id, signed_at_ms=row.signed_at_ms,
        registry_number=row.registry_number, superseded_by=row.superseded_by,
        reasons=row.reasons.splitlines())


def query(session: Session, filters: Filters, after: str, limit: int) -> ProtocolPage:
    """One page of matching protocols, by id, after ``after``."""
    # The listed columns only: a lookup need not read a protocol's registers, kilobytes a row.
    statement = filters.apply(select_columns(*_LISTED).where(col(ProtocolRow.id) > after))
    rows = session.execute(statement.order_by(col(ProtocolRow.id)).limit(limit + 1)).all()
    more = len(rows) > limit
    return ProtocolPage([summary(row) for row in rows[:limit]],
                        rows[limit - 1].id if more else "")


def count(session: Session, filters: Filters) -> int:
    """How many protocols match."""
    return int(session.exec(filters.apply(select(func.count()).select_from(ProtocolRow))).one())


def stream(session: Session, filters: Filters, batch: int = 1000) -> Iterator[ProtocolRow]:
    """Every matching protocol row, read a batch at a time (constant memory)."""
    after = ""
    while True:
        statement = filters.apply(select(ProtocolRow).where(col(ProtocolRow.id) > after))
        rows = list(session.exec(statement.order_by(col(ProtocolRow.id)).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id
