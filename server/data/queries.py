"""Registry queries: protocols by number, registry number, entity, inspector, site, region,
kind, status, signing date and offline gap, paged by id or newest signed first; and the same
selection streamed for export. Every query narrows to the caller's reach
(``server.services.reach``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, tuple_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from schemas import ProtocolPage, ProtocolSummary
from server.api.problems import BadRequest
from server.data.names import Names, resolve_names
from server.data.tables import DRAFT, ProtocolRow, protocol_columns
from server.services.reach import Reach
from server.signing.reasons import rule_marker

__all__ = ["STATUSES", "Filters", "Listed", "Order", "count", "query", "stream", "summary"]

TASHKENT = ZoneInfo("Asia/Tashkent")  # registry days are the agency's days
STATUSES = (DRAFT, "awaiting_evidence", "registered", "quarantined", "superseded", "annulled")
_Selection = TypeVar("_Selection", bound=Select[*tuple[Any, ...]])
MAX_GAP_S = 100 * 366 * 86_400
"""The widest offline gap a query may name, seconds (a century; ``server.api.parameters``)."""
Order = Literal["id", "newest"]
"""A listing's order: by id (the API's default), or newest signed first (the console's)."""


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
    region: str
    offline_gap_ms: int | None


_LISTED = protocol_columns(Listed.__annotations__)


def _day_start_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), TASHKENT).timestamp() * 1000)


@dataclass(frozen=True)
class Filters:
    """What to select; empty means any. ``signed_from``/``signed_to`` are days, inclusive;
    ``gap_min_s``/``gap_max_s`` bound the offline gap, seconds, inclusive (a draft has none).

    ``entity`` is a STIR or part of an entity's name, ``inspector`` an inspector's id or part
    of a name, ``site`` a site's id or part of its name, ``template`` a kind (a template id).
    ``reach`` limits it all to the caller's regions.
    """

    number: str = ""
    entity_tin: str = ""
    inspector: str = ""
    site: str = ""
    status: str = ""
    signed_from: dt.date | None = None
    signed_to: dt.date | None = None
    registry_number: str = ""
    region: str = ""
    template: str = ""
    entity: str = ""
    reach: Reach | None = None
    rule: str = ""
    """A broken rule's code (``outside_geofence``): quarantined for that reason."""
    names: Names | None = None
    """The keys ``entity``, ``inspector`` and ``site`` stand for (``resolved``)."""
    gap_min_s: int | None = None
    gap_max_s: int | None = None

    def resolved(self, session: Session) -> Filters:
        """These filters with the names searched by turned into keys (``server.data.names``)."""
        if self.names is not None or not (self.entity or self.inspector or self.site):
            return self
        return replace(self, names=resolve_names(session, self.entity, self.inspector,
                                                 self.site))

    def check(self) -> None:
        """Refuse a bad status or gap (``BadRequest``) now, before a stream starts: the API's
        parameters are checked as they are read (``server.api.parameters``), a console form's
        status is any text."""
        if self.status and self.status not in STATUSES:
            raise BadRequest("bad_status", f"status is one of {', '.join(STATUSES)}")
        self._signed(select_columns(col(ProtocolRow.id)))

    def apply(self, statement: _Selection) -> _Selection:
        """``statement`` narrowed to these filters (``resolved`` first, if they search by a
        name)."""
        self.check()
        assert self.names is not None or not (self.entity or self.inspector or self.site)
        names = self.names or Names()
        for column, keys in ((ProtocolRow.number, (self.number,) if self.number else None),
                             (ProtocolRow.entity_tin, (self.entity_tin,) if self.entity_tin
                              else None),
                             (ProtocolRow.entity_tin, names.entities),
                             (ProtocolRow.inspector_id, names.inspectors),
                             (ProtocolRow.site_id, names.sites),
                             (ProtocolRow.registry_number, (self.registry_number,)
                              if self.registry_number else None),
                             (ProtocolRow.region, (self.region,) if self.region else None)):
            if keys is not None:
                statement = statement.where(col(column).in_(keys))
        if self.status:
            # With a narrower filter, status must not be what the database reads by: without
            # statistics, SQLite takes one indexed equality for as narrow as another, and would
            # walk every registered protocol to find one entity's (SQLite cannot use an index
            # on an expression it was not given).
            driven = any((self.number, self.entity_tin, self.entity, self.inspector, self.site,
                          self.registry_number, self.region))
            status = col(ProtocolRow.status) + "" if driven else col(ProtocolRow.status)
            statement = statement.where(status == self.status)
        if self.template:
            statement = statement.where(col(ProtocolRow.template_ref).startswith(
                f"{self.template.partition('@')[0]}@", autoescape=True))
        if self.rule:
            statement = statement.where(col(ProtocolRow.reasons).contains(
                rule_marker(self.rule), autoescape=True))
        statement = self._signed(statement)
        return statement if self.reach is None else self.reach.narrow(statement)

    def _signed(self, statement: _Selection) -> _Selection:
        """Narrowed by signing days and offline gap."""
        low, high = self.gap_min_s, self.gap_max_s  # bounded as read (``server.api.parameters``)
        if low is not None and high is not None and low > high:
            raise BadRequest("bad_gap", "gap_min_s is more than gap_max_s")
        if low is not None:
            statement = statement.where(col(ProtocolRow.offline_gap_ms) >= low * 1000)
        if high is not None:
            statement = statement.where(col(ProtocolRow.offline_gap_ms) <= high * 1000)
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
        reasons=row.reasons.splitlines(), region=row.region, offline_gap_ms=row.offline_gap_ms)


def _after_newest(statement: _Selection, after: str) -> _Selection:
    """Past ``after`` (``<signed_at_ms>.<id>``, a newest-first page's ``next``)."""
    signed, _, protocol_id = after.partition(".")
    if not signed.isdigit() or not protocol_id or len(signed) > 18:
        raise BadRequest("bad_cursor", "after is the next of the page before")
    return statement.where(tuple_(col(ProtocolRow.signed_at_ms), col(ProtocolRow.id))
                           < tuple_(int(signed), protocol_id))


def query(session: Session, filters: Filters, after: str, limit: int,
          order: Order = "id") -> ProtocolPage:
    """One page of matching protocols after ``after`` (the ``next`` of the page before)."""
    # The listed columns only: a lookup need not read a protocol's registers, kilobytes a row.
    statement = filters.resolved(session).apply(select_columns(*_LISTED))
    if order == "newest":
        statement = _after_newest(statement, after) if after else statement
        statement = statement.order_by(col(ProtocolRow.signed_at_ms).desc(),
                                       col(ProtocolRow.id).desc())
    else:
        statement = statement.where(col(ProtocolRow.id) > after).order_by(col(ProtocolRow.id))
    rows = session.execute(statement.limit(limit + 1)).all()
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    cursor = "" if last is None else (
        f"{last.signed_at_ms}.{last.id}" if order == "newest" else last.id)
    return ProtocolPage([summary(row) for row in rows[:limit]], cursor)


def count(session: Session, filters: Filters) -> int:
    """How many protocols match."""
    counted = filters.resolved(session).apply(select(func.count()).select_from(ProtocolRow))
    return int(session.exec(counted).one())


def stream(session: Session, filters: Filters, batch: int = 1000) -> Iterator[ProtocolRow]:
    """Every matching protocol row, read a batch at a time (constant memory)."""
    after, filters = "", filters.resolved(session)
    while True:
        statement = filters.apply(select(ProtocolRow).where(col(ProtocolRow.id) > after))
        rows = list(session.exec(statement.order_by(col(ProtocolRow.id)).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id
