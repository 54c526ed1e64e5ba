"""Reading the audit log: entries by actor, action and subject, newest first or in order, and
the chain's integrity. A supervisor limited to regions reads only the entries about protocols
within reach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlmodel import Session, col, select

from server.data.tables import AuditEntryRow, ProtocolRow
from server.services.reach import Reach

__all__ = ["AuditFilters", "audit_page"]

MAX_SEQ = 2**31 - 1
"""The highest sequence number an audit entry can have (its column is 32-bit)."""


@dataclass(frozen=True)
class AuditFilters:
    """Which entries: empty means any. ``actor`` and ``subject`` are exact (``account:ana``,
    a protocol id); ``action`` is an audit action (``annulled``)."""

    actor: str = ""
    action: str = ""
    subject: str = ""

    def apply(self, statement: Select[Any], reach: Reach) -> Select[Any]:
        """``statement`` over audit entries, narrowed to these filters and to ``reach``."""
        for column, value in ((AuditEntryRow.actor, self.actor),
                              (AuditEntryRow.action, self.action),
                              (AuditEntryRow.subject, self.subject)):
            if value:
                statement = statement.where(col(column) == value)
        if reach.regions is not None:
            within = reach.narrow(select(ProtocolRow.id).where(
                col(ProtocolRow.id) == col(AuditEntryRow.subject)))
            statement = statement.where(within.exists())
        return statement


def audit_page(session: Session, filters: AuditFilters, reach: Reach, *, after: int = 0,
               before: int = 0, limit: int = 100) -> list[AuditEntryRow]:
    """Entries after ``after`` oldest first, or, with ``before``, the ``limit`` entries before
    it newest first (``before=MAX_SEQ`` for the newest)."""
    statement = filters.apply(select(AuditEntryRow), reach)
    if before:
        statement = statement.where(col(AuditEntryRow.seq) < before).order_by(
            col(AuditEntryRow.seq).desc())
    else:
        statement = statement.where(col(AuditEntryRow.seq) > after).order_by(
            col(AuditEntryRow.seq))
    return list(session.scalars(statement.limit(limit)))
