"""Pulling: the changes in a device's scope since its cursor, a page at a time.

A cursor is ``<base>.<scope>.<ceiling>.<changed>.<doc>.<catch-up>``:

- the device holds every change numbered up to ``base``;
- it has received, whole, the protocols of every assignment it joined up to change ``scope``;
- this run of pages catches up the assignments joined after ``scope`` up to ``ceiling`` (the
  newest membership when the run began; later ones wait for the next run);
- it has sent those protocols up to id ``catch-up`` (``~`` once they are all sent);
- and protocols changed after ``base`` up to position ``(changed, doc)``.

A run first sends the protocols of newly joined assignments whole (their older history was
never the device's), then every protocol changed after ``base``: whole, as the registry stores
it, when it was created after ``base``, else what changed after ``base`` (encoded once for the
whole team: ``server.sync.deltas``). A protocol sent whole is to replace what the device holds of it
(``PullResponse.replaced``): a whole protocol leaves out the rows removed before, so a device
merging it into an older copy would keep them. The last page
hands back a new base: the change number its snapshot had reached. Change numbers are taken
under a row lock held to commit (``server.data.tables.ChangeCounter``), so a visible change never
has a number above one still in flight, and no cursor can pass over a late commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import ColumnElement, Executable, and_, bindparam, func, or_
from sqlalchemy import select as select_columns
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from field_sync.paths import DELETED
from schemas import Inspector, ProtocolHead, PullResponse
from schemas.bounds import OptionalKey, Serial
from schemas.packed import is_packed
from schemas.reference import Entity, ReferenceInstrument, Site
from schemas.signing import Receipt
from server.api.problems import BadRequest
from server.data.catalog import TemplateCatalog
from server.data.tables import (
    DRAFT,
    AssignmentMember,
    AssignmentRow,
    ChangeCounter,
    InspectorRow,
    ProtocolRow,
    ReceiptRow,
    ReferenceRow,
    TemplateRow,
    protocol_columns,
)
from server.sync.deltas import Delta, Deltas
from server.sync.documents import decode_state
from server.sync.scope import assignments_since, team_members

__all__ = ["Cursor", "pull"]

DONE = "~"  # sorts after every protocol id
_CURSOR_PARTS = ("base", "scope", "ceiling", "changed", "doc", "catch_up")
_DELETED = DELETED.encode()


@dataclass(frozen=True)
class Cursor:
    """Where a device stands in the registry's changes (each part bounded as the registry
    stores it, ``schemas.bounds``)."""

    base: Serial = 0
    scope: Serial = 0
    ceiling: Serial = 0
    changed: Serial = 0
    doc: OptionalKey = ""
    catch_up: OptionalKey = ""

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Read a cursor a device sent back; empty means from the beginning."""
        if not text:
            return cls()
        parts = text.split(".")
        try:
            if len(parts) != len(_CURSOR_PARTS):
                raise ValueError(text)
            cursor = msgspec.convert(dict(zip(_CURSOR_PARTS, parts, strict=True)), cls,
                                     strict=False)  # strict=False: numbers written as text
        except (ValueError, msgspec.ValidationError):
            raise BadRequest("bad_cursor", f"{text!r} is not a cursor this registry gave") from None
        if cursor.changed < cursor.base or cursor.ceiling < cursor.scope:
            raise BadRequest("bad_cursor", f"{text!r} is not a cursor this registry gave")
        return cursor

    def __str__(self) -> str:
        return (f"{self.base}.{self.scope}.{self.ceiling}.{self.changed}.{self.doc}."
                f"{self.catch_up}")

    @property
    def run_begins(self) -> bool:
        """True on the first page of a run."""
        return self.changed == self.base and not self.doc and not self.catch_up


@dataclass
class _Scope:
    """The assignments a device's inspector is on; those this run catches up (joined after the
    cursor's scope, up to the run's ceiling); and the ceiling."""

    all: set[str]
    joined: set[str]
    ceiling: int


# A pull's statements are built once and run on the session's connection: building a
# statement, and the ORM's handling of one, cost more than the database's answer to it.
_MEMBERS = select_columns(col(AssignmentMember.assignment_id), col(AssignmentMember.added)) \
    .where(col(AssignmentMember.inspector_id) == bindparam("inspector"))
_INSPECTOR = select_columns(*(col(getattr(InspectorRow, name)) for name in (
    "id", "full_name", "region", "suspended", "attested_until"))) \
    .where(col(InspectorRow.id) == bindparam("inspector"))


def _run(session: Session, statement: Executable, **parameters: Any) -> Any:
    """A prepared statement's rows (a ``Result``), in the session's transaction."""
    return session.connection().execute(statement, parameters)


def _scope(session: Session, inspector_id: str, cursor: Cursor) -> _Scope:
    members = _run(session, _MEMBERS, inspector=inspector_id).all()
    ceiling = cursor.ceiling
    if cursor.run_begins:
        ceiling = max((added for _, added in members), default=cursor.scope)
    # A first run (base 0) sends everything whole anyway: nothing to catch up.
    joined = set() if cursor.base == 0 else {
        assignment for assignment, added in members if cursor.scope < added <= ceiling}
    return _Scope({assignment for assignment, _ in members}, joined, ceiling)


class _PageRow(NamedTuple):
    """What a page sends of a protocol: a plain row, read neither as an ORM object nor kept as
    SQLAlchemy's ``Row`` (whose fields are found by name, a call each, and a page reads nine of
    each of its hundreds)."""

    id: str
    changed: int
    status: str
    reasons: str
    registers: bytes
    vector: bytes
    template_ref: str
    assignment_id: str
    latest_hlc: int
    created: int


_PAGE_COLUMNS = protocol_columns(_PageRow._fields)
_page_row: Callable[[Iterable[Any]], _PageRow] = partial(tuple.__new__, _PageRow)
_BY_ID = (col(ProtocolRow.id),)
_BY_CHANGE = (col(ProtocolRow.changed), col(ProtocolRow.id))


def _page_of(where: Sequence[ColumnElement[bool]], order: Sequence[Mapped[Any]]) -> Executable:
    """The first ``limit`` rows (and one more, which says there are more) that ``where``
    selects, by ``order``. A page finds its ids first, in the index of protocols by
    (assignment, changed, id), and only then reads those rows, in the same query: ordering the
    rows themselves would read every protocol of the scope after the cursor (registers and
    all) for each page, which makes a long pull quadratic. The few rows found are ordered again
    by the database, whose collation the cursor's comparisons use."""
    ids = select(ProtocolRow.id).where(*where).order_by(*order).limit(bindparam("limit")) \
        .subquery()
    return select_columns(*_PAGE_COLUMNS).join(ids, col(ProtocolRow.id) == ids.c.id) \
        .order_by(*order)


_IN_SCOPE = col(ProtocolRow.assignment_id).in_(bindparam("scope", expanding=True))
_CATCH_UP = _page_of((_IN_SCOPE, col(ProtocolRow.id) > bindparam("after")), _BY_ID)
# A run begins after its base, which the device holds whole: the protocols of change ``base``
# itself are not sent again (only within a run does a page stop inside a change).
_CHANGES_FROM_BASE = _page_of((_IN_SCOPE, col(ProtocolRow.changed) > bindparam("changed")),
                              _BY_CHANGE)
_CHANGES_FROM = _page_of((_IN_SCOPE, or_(
    col(ProtocolRow.changed) > bindparam("changed"),
    and_(col(ProtocolRow.changed) == bindparam("changed"), col(ProtocolRow.id) > bindparam("doc")),
)), _BY_CHANGE)


def _catch_up_page(session: Session, joined: set[str], after: str, limit: int) -> list[_PageRow]:
    return list(map(_page_row, _run(session, _CATCH_UP, scope=list(joined), after=after,
                                    limit=limit + 1)))


def _changes_page(session: Session, scope: set[str], cursor: Cursor,
                  limit: int) -> list[_PageRow]:
    statement, at = (_CHANGES_FROM, {"doc": cursor.doc}) if cursor.doc else \
        (_CHANGES_FROM_BASE, {})
    return list(map(_page_row, _run(session, statement, scope=list(scope),
                                    changed=cursor.changed, limit=limit + 1, **at)))


@dataclass(frozen=True)
class _Shape:
    """How a page sends a protocol sent whole: as its registers (``as_states``), else as ops;
    and, as registers, whether the stored bytes may go out as they are: the response is
    MessagePack, the form the registry keeps them in (``stored``), and the device reads the
    form they are in (every device reads a flat row; a packed one, a device that asks for
    ``packed`` registers)."""

    as_states: bool
    stored: bool
    packed: bool = False

    def reads(self, stored: bytes) -> bool:
        """Whether the device reads registers stored so."""
        return self.packed or not is_packed(stored)


def _as_is(stored: bytes) -> Any:
    """Stored MessagePack that the response's encoder writes out as it is, undecoded."""
    return msgspec.Raw(stored)


def _send(session: Session, response: PullResponse, rows: list[_PageRow], base: int,
          whole: bool, shape: _Shape, deltas: Deltas | None) -> None:
    """Put the changes of ``rows`` after ``base`` in ``response`` (all of them if ``whole``);
    a protocol sent whole goes as its registers or as ops (``shape``); ``deltas`` keeps what
    devices that hold a protocol are sent of it, encoded."""
    # A receipt is written when a protocol is registered, so a draft has none: a page of drafts
    # (a team's usual pull) asks for no receipts at all.
    signed = [row.id for row in rows if row.status != DRAFT]
    if signed:
        receipts = select(ReceiptRow).where(col(ReceiptRow.protocol_id).in_(signed))
        if not whole:
            receipts = receipts.where(ReceiptRow.changed > base)
        response.receipts.extend(
            Receipt(r.protocol_id, r.content_hash, r.seal_hash, r.registered_at_ms,
                    r.registry_number, r.signature) for r in session.exec(receipts))
    for row in rows:
        # A protocol created after the device's cursor is one it has never seen: whole.
        new = whole or row.created > base
        stored = bytes(row.registers) if new and shape.stored else None
        if stored is not None and _DELETED not in stored and shape.reads(stored):
            # Nothing to leave out (no row was ever removed): the stored registers and vector
            # are what the page sends, so they are not decoded only to be encoded again.
            _send_whole(response, row, _as_is(stored))
            continue
        if not new and shape.stored and deltas is not None and \
                _send_delta(response, row, base, shape, deltas.of(row, row.changed)):
            continue
        state = decode_state(row)
        replaced = new or state.frozen_since() > base
        if replaced and shape.as_states:
            response.states[row.id] = state.whole_registers()
            _send_head(response, row)
        else:
            response.changes.extend(state.changes_since(base, full=replaced))
        response.vectors[row.id] = state.vector
        _send_status(response, row, replaced)


def _send_whole(response: PullResponse, row: _PageRow, registers: Any) -> None:
    """A protocol sent whole as the bytes of its registers."""
    response.states[row.id] = registers
    response.vectors[row.id] = _as_is(bytes(row.vector))
    _send_head(response, row)
    _send_status(response, row, replaced=True)


def _send_delta(response: PullResponse, row: _PageRow, base: int, shape: _Shape,
                delta: Delta) -> bool:
    """What a device that holds a protocol is sent of it, as kept encoded: the ops after its
    cursor, or the signed state whole; False when the device reads neither as kept."""
    if delta.frozen_since <= base:
        response.changes.extend(delta.since(base))
        response.vectors[row.id] = _as_is(bytes(row.vector))
        _send_status(response, row, replaced=False)
        return True
    if not shape.as_states or (delta.whole_is_packed and not shape.packed):
        return False
    _send_whole(response, row, delta.whole)
    return True


def _send_head(response: PullResponse, row: _PageRow) -> None:
    """What the device files a protocol sent whole under; none when its latest stamp is not
    known (a row some other writer made), so that the device reads its registers instead."""
    if row.latest_hlc:
        response.heads[row.id] = ProtocolHead(row.template_ref, row.assignment_id,
                                              row.latest_hlc)


def _send_status(response: PullResponse, row: _PageRow, replaced: bool) -> None:
    if row.status == "quarantined":
        response.quarantined[row.id] = row.reasons.splitlines()
    if replaced:
        response.replaced.append(row.id)


def _page(session: Session, scope: _Scope, cursor: Cursor, limit: int, reached: int,
          response: PullResponse, shape: _Shape, deltas: Deltas | None) -> Cursor:
    """Fill ``response`` with one page; return the cursor after it."""
    if scope.joined and cursor.catch_up != DONE:
        rows = _catch_up_page(session, scope.joined, cursor.catch_up, limit)
        _send(session, response, rows[:limit], 0, whole=True, shape=shape, deltas=deltas)
        response.more = True
        return replace(cursor, ceiling=scope.ceiling,
                       catch_up=rows[limit - 1].id if len(rows) > limit else DONE)
    rows = _changes_page(session, scope.all, cursor, limit) if scope.all else []
    _send(session, response, rows[:limit], cursor.base, whole=cursor.base == 0, shape=shape,
          deltas=deltas)
    if len(rows) > limit:
        response.more = True
        return replace(cursor, ceiling=scope.ceiling, changed=rows[limit - 1].changed,
                       doc=rows[limit - 1].id)
    return Cursor(reached, scope.ceiling, scope.ceiling, reached, "", "")


def pull(
    session: Session,
    catalog: TemplateCatalog,
    inspector_id: str,
    cursor: Cursor,
    limit: int,
    now_ms: int,
    as_states: bool = False,
    *,
    stored: bool = False,
    packed: bool = False,
    deltas: Deltas | None = None,
) -> PullResponse:
    """One page of changes for a device of ``inspector_id``; protocols sent whole go as their
    registers (``PullResponse.states``) if ``as_states``, else as ops. ``stored`` says the page
    will be encoded as MessagePack, so registers may go out as the registry stores them, and
    ``packed`` that the device reads the packed form they are stored in; ``deltas`` keeps what
    devices that hold a protocol are sent of it, encoded once for every teammate."""
    marks = _Marks(*_run(session, _MARKS).one())
    reached = marks.reached
    scope = _scope(session, inspector_id, cursor)
    response = PullResponse(cursor="", changes=[], more=False, server_time_ms=now_ms)
    shape = _Shape(as_states, as_states and stored, packed)
    response.cursor = str(_page(session, scope, cursor, limit, reached, response, shape,
                                deltas))
    inspector = _run(session, _INSPECTOR, inspector=inspector_id).first()
    if inspector is not None:
        response.inspector = Inspector(*inspector)
    if not response.more:
        # On the last page of a run: its cursor covers every change up to its snapshot, so
        # reference data changed while the run was paging arrives too. What changed after the
        # cursor is asked for only where the newest change of its kind is after it: a pull of
        # a team's protocols reads no reference data.
        base = cursor.base
        if marks.templates > base:
            response.templates = catalog.changed_since(session, base)
        if marks.assignments > base:
            response.assignments = assignments_since(session, scope.all, base)
        known = {assignment.id for assignment in response.assignments}
        response.assignments += assignments_since(session, scope.joined - known, 0)
        response.team = team_members(session, {member for assignment in response.assignments
                                                for member in assignment.inspectors})
        if marks.references > base or scope.joined or response.assignments:
            _send_reference(session, response, inspector_id, scope, base)
    return response


class _Marks(NamedTuple):
    """The registry's newest change number, and the newest of the changes to templates,
    assignments and reference rows (0 for none)."""

    reached: int
    templates: int
    assignments: int
    references: int


_MARKS = select_columns(*(
    select_columns(column).scalar_subquery() for column in (
        col(ChangeCounter.value), func.coalesce(func.max(TemplateRow.changed), 0),
        func.coalesce(func.max(AssignmentRow.changed), 0),
        func.coalesce(func.max(ReferenceRow.changed), 0))))


def _references(session: Session, kind: str, keys: set[str] | None = None,
                owners: set[str] | None = None) -> list[ReferenceRow]:
    """The reference rows of ``kind`` with these keys or owners."""
    statement = select(ReferenceRow).where(ReferenceRow.kind == kind)
    if keys is not None:
        statement = statement.where(col(ReferenceRow.key).in_(keys))
    if owners is not None:
        statement = statement.where(col(ReferenceRow.owner).in_(owners))
    return list(session.exec(statement))


def _send_reference(session: Session, response: PullResponse, inspector_id: str,
                    scope: _Scope, base: int) -> None:
    """The reference rows of the device's scope: its standards, its assignments' sites and
    their entities; whole for assignments sent in this response (newly joined, or changed: an
    assignment moved to another site brings that site, however old)."""
    response.instruments = [
        msgspec.msgpack.decode(row.body, type=ReferenceInstrument)
        for row in _references(session, "instrument", owners={inspector_id, ""})
        if row.changed > base]
    sites_of = {row.id: row.site_id for row in session.exec(
        select(AssignmentRow).where(col(AssignmentRow.id).in_(scope.all)))}
    sent = scope.joined | {assignment.id for assignment in response.assignments}
    whole = {sites_of[a] for a in sent if sites_of.get(a)}
    sites = {row.key: (row.changed, msgspec.msgpack.decode(row.body, type=Site)) for row in
             _references(session, "site", keys={site for site in sites_of.values() if site})}
    response.sites = [site for key, (changed, site) in sorted(sites.items())
                      if changed > base or key in whole]
    whole_tins = {site.entity_tin for key, (_, site) in sites.items() if key in whole}
    tins = {site.entity_tin for _, site in sites.values()}
    response.entities = [
        msgspec.msgpack.decode(row.body, type=Entity)
        for row in sorted(_references(session, "entity", keys=tins), key=lambda row: row.key)
        if row.changed > base or row.key in whole_tins]
