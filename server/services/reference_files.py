"""Reference data as administrators see it: browse sites, entities and instruments; upload a
file, read its report row by row, and only then commit it. An uploaded file waits in the
registry (``staged_import``) between its report and its commit, a day at most."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import delete
from sqlmodel import col, select

from server.api.problems import BadRequest, NotFound
from server.data.clock import now_ms
from server.data.database import Database
from server.data.importer import ImportReport, import_records
from server.data.reference import KINDS, RecordRejected
from server.data.tables import ReferenceRow, StagedImportRow

__all__ = ["BROWSED_KINDS", "Staged", "browse", "commit_import", "stage_import"]

BROWSED_KINDS = ("site", "entity", "instrument")
_STAGED_FOR_MS = 24 * 3_600_000


class Staged(msgspec.Struct, frozen=True):
    """An uploaded file's report, before it is committed."""

    id: str
    kind: str
    format: str
    report: ImportReport


def browse(database: Database, kind: str, text: str = "", after: str = "",
           limit: int = 50) -> tuple[list[dict[str, Any]], str]:
    """Records of ``kind`` by key after ``after``, those whose key or name holds ``text``; the
    page and the key to continue after (empty at the end)."""
    if kind not in BROWSED_KINDS:
        raise BadRequest("unknown_kind", f"kind is one of {', '.join(BROWSED_KINDS)}")
    statement = select(ReferenceRow).where(col(ReferenceRow.kind) == kind,
                                           col(ReferenceRow.key) > after)
    if text:
        folded = text.casefold()
        statement = statement.where(col(ReferenceRow.key).contains(text, autoescape=True) |
                                    col(ReferenceRow.label).contains(folded, autoescape=True))
    with database.read() as session:
        rows = list(session.exec(statement.order_by(col(ReferenceRow.key)).limit(limit + 1)))
    records = [msgspec.to_builtins(msgspec.msgpack.decode(row.body, type=KINDS[kind].schema))
               for row in rows[:limit]]
    return records, rows[limit - 1].key if len(rows) > limit else ""


def _report(database: Database, kind: str, data: bytes, fmt: str, commit: bool,
            actor: str) -> ImportReport:
    try:
        return import_records(database, kind, data, fmt, commit=commit, actor=actor)
    except RecordRejected as exc:
        raise BadRequest(exc.code, str(exc), field=exc.field) from exc


def stage_import(database: Database, account_id: str, kind: str, fmt: str,
                 data: bytes) -> Staged:
    """Keep an uploaded file and report what importing it would do, storing nothing yet."""
    if fmt not in ("csv", "jsonl"):
        raise BadRequest("bad_format", "a file is CSV or JSON lines")
    if not data.strip():
        raise BadRequest("empty_file", "the file is empty")
    report = _report(database, kind, data, fmt, False, f"account:{account_id}")
    staged_id, now = str(uuid.uuid4()), now_ms()
    with database.write() as session:
        session.execute(delete(StagedImportRow).where(
            col(StagedImportRow.created_at_ms) < now - _STAGED_FOR_MS))
        session.add(StagedImportRow(id=staged_id, account_id=account_id, kind=kind, format=fmt,
                                    data=data, created_at_ms=now))
    return Staged(staged_id, kind, fmt, report)


def commit_import(database: Database, account_id: str, staged_id: str) -> ImportReport:
    """Import a file its uploader has seen the report of; the report of what was stored."""
    with database.read() as session:
        staged = session.get(StagedImportRow, staged_id)
    if staged is None or staged.account_id != account_id:
        raise NotFound("unknown_upload", "this upload is not known (or was committed already)")
    report = _report(database, staged.kind, staged.data, staged.format, True,
                     f"account:{account_id}")
    with database.write() as session:
        session.execute(delete(StagedImportRow).where(col(StagedImportRow.id) == staged_id))
    return report
