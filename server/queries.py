"""Registry queries: protocols by number, entity, inspector, site, status, signing date and
offline gap, paged by id; and the same selection streamed for export."""

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
from server.problems import BadRequest
from server.tables import DRAFT, ProtocolRow, protocol_columns

__all__ = ["Filters", "Listed", "count", "query", "stream", "summary"]

TASHKENT = ZoneInfo("Asia/Tashkent")  # registry days are the agency's days
STATUSES = (DRAFT, "registered", "quarantined", "superseded", "annulled")
MAX_GAP_S = 100 * 366 * 86_400
"""The widest offline gap a query may name, seconds (a century)."""
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
    offline_gap_ms: int | None


_LISTED = protocol_columns(Listed.__annotations__)


def _day_start_ms(text: str, name: str, days: int = 0) -> int:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest("bad_date", f"{name} is a date YYYY-MM-DD, not {text!r}") from None
    start = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(), TASHKENT)
    return int(start.timestamp() * 1000)


def _gap_ms(seconds: int | None, name: str) -> int | None:
    if seconds is not None and not -MAX_GAP_S <= seconds <= MAX_GAP_S:
        raise BadRequest("bad_gap", f"{name} is a number of seconds from {-MAX_GAP_S} to "
                         f"{MAX_GAP_S}")
    return None if seconds is None else seconds * 1000


@dataclass(frozen=True)
class Filters:
    """What to select; empty means any. ``signed_from``/``signed_to`` are days, inclusive;
    ``gap_min_s``/``gap_max_s`` bound the offline gap, seconds, inclusive (a draft has none)."""

    number: str = ""
    entity_tin: str = ""
    inspector: str = ""
    site: str = ""
    status: str = ""
    signed_from: str = ""
    signed_to: str = ""
    gap_min_s: int | None = None
    gap_max_s: int | None = None

    def apply(self, statement: _Selection) -> _Selection:
        """``statement`` narrowed to these filters."""
        for column, value in ((ProtocolRow.number, self.number),
                              (ProtocolRow.entity_tin, self.entity_tin),
                              (ProtocolRow.inspector_id, self.inspector),
                              (ProtocolRow.site_id, self.site),
                              (ProtocolRow.status, self.status)):
            if value:
                statement = statement.where(col(column) == value)
        if self.status and self.status not in STATUSES:
            raise BadRequest("bad_status", f"status is one of {', '.join(STATUSES)}")
        if self.signed_from:
            start = _day_start_ms(self.signed_from, "signed_from")
            statement = statement.where(col(ProtocolRow.signed_at_ms) >= start)
        if self.signed_to:
            end = _day_start_ms(self.signed_to, "signed_to", days=1)
            statement = statement.where(col(ProtocolRow.signed_at_ms) < end,
                                        col(ProtocolRow.signed_at_ms) > 0)
        return self._gap(statement)

    def _gap(self, statement: _Selection) -> _Selection:
        low, high = _gap_ms(self.gap_min_s, "gap_min_s"), _gap_ms(self.gap_max_s, "gap_max_s")
        if low is not None and high is not None and low > high:
            raise BadRequest("bad_gap", "gap_min_s is more than gap_max_s")
        if low is not None:
            statement = statement.where(col(ProtocolRow.offline_gap_ms) >= low)
        if high is not None:
            statement = statement.where(col(ProtocolRow.offline_gap_ms) <= high)
        return statement


def summary(row: Listed) -> ProtocolSummary:
    """The listing form of a protocol row."""
    return ProtocolSummary(
        id=row.id, template=row.template_ref, status=row.status, number=row.number,
        entity_tin=row.entity_tin, inspector_id=row.inspector_id, site_id=row.site_id,
        assignment_id=row.assignment_id, signed_at_ms=row.signed_at_ms,
        registry_number=row.registry_number, superseded_by=row.superseded_by,
        reasons=row.reasons.splitlines(), offline_gap_ms=row.offline_gap_ms)


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
