"""Names people search the registry by, turned into the keys protocols carry: an entity's name
into STIRs, an inspector's name into inspector ids, a site's name into site ids (an id or a
STIR given whole finds itself). Looked up before the protocols are, so the query on protocols
is an equality on an indexed column (or a short list of them) that the database drives by,
not a subquery it may read the whole table to test."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from server.data.tables import InspectorRow, ReferenceRow

__all__ = ["MOST_KEYS", "Names", "inspector_names", "resolve_names"]

MOST_KEYS = 1000
"""The most keys a name stands for (a name as short as "a" finds this many, first by key)."""
_TIN = re.compile(r"^[0-9]{9}$")


@dataclass(frozen=True)
class Names:
    """The keys each searched name stands for (None: that name was not searched)."""

    entities: tuple[str, ...] | None = None
    inspectors: tuple[str, ...] | None = None
    sites: tuple[str, ...] | None = None


def _like(text: str) -> str:
    """A casefolded substring pattern, its wildcards taken literally."""
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _references(session: Session, kind: str, text: str) -> tuple[str, ...]:
    """Keys of the reference records of ``kind`` whose name holds ``text``."""
    statement = select_columns(col(ReferenceRow.key)).where(
        col(ReferenceRow.kind) == kind, col(ReferenceRow.label).like(_like(text), escape="\\"))
    return tuple(session.execute(statement.order_by(col(ReferenceRow.key))
                                 .limit(MOST_KEYS)).scalars())


def _inspectors(session: Session, text: str) -> tuple[str, ...]:
    # SQL's lower() folds ASCII letters everywhere, Cyrillic ones on PostgreSQL only.
    statement = select_columns(col(InspectorRow.id)).where(or_(
        col(InspectorRow.id) == text,
        func.lower(col(InspectorRow.full_name)).like(_like(text), escape="\\")))
    return tuple(session.execute(statement.order_by(col(InspectorRow.id))
                                 .limit(MOST_KEYS)).scalars())


def _with(text: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    """``keys``, and ``text`` itself: an id the registry has no record for still finds the
    protocols that carry it."""
    return tuple(dict.fromkeys((text, *keys)))


def resolve_names(session: Session, entity: str, inspector: str, site: str) -> Names:
    """The keys ``entity`` (a STIR, or part of a name), ``inspector`` and ``site`` (an id, or
    part of a name) stand for; empty texts are not searched."""
    return Names(
        entities=None if not entity else (entity,) if _TIN.match(entity)
        else _references(session, "entity", entity),
        inspectors=_with(inspector, _inspectors(session, inspector)) if inspector else None,
        sites=_with(site, _references(session, "site", site)) if site else None)


def inspector_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """The full name of each of these inspectors the registry knows (one query for a page)."""
    wanted = sorted(set(ids) - {""})
    if not wanted:
        return {}
    rows = session.execute(select_columns(col(InspectorRow.id), col(InspectorRow.full_name))
                           .where(col(InspectorRow.id).in_(wanted))).tuples().all()
    return dict(rows)

