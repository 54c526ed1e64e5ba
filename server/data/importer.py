"""Importing reference data from CSV or JSON lines, row by row, with a report.

A broken row is reported (line, field, reason) and skipped; the good rows are stored in one
transaction. A file that is not UTF-8 is read as Windows-1251, the encoding Russian-language
office software still exports, and the report says so. Importing the same file again changes
nothing. Each stored record is audited, and so is an import that stored any: the file's
SHA-256 and what became of its rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from typing import Any

import msgspec
from sqlmodel import Session

from server.authority.audit import append as audit
from server.data.clock import now_ms
from server.data.database import Database
from server.data.reference import KINDS, LooseRecord, RecordRejected, decode, upsert

__all__ = ["ImportReport", "RejectedRow", "import_records"]

_LIST_FIELDS = {"inspectors"}  # CSV cells holding lists, written "a;b;c"
_line_decoder = msgspec.json.Decoder(LooseRecord)


class RejectedRow(msgspec.Struct, frozen=True):
    """A row left out of an import."""

    line: int
    field: str
    reason: str


class ImportReport(msgspec.Struct):
    """What an import did."""

    kind: str
    encoding: str
    stored: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = msgspec.field(default_factory=list)


def _text(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251"), "cp1251 (not UTF-8: read as Windows-1251)"
    except UnicodeDecodeError:
        raise RecordRejected("file", "the file is neither UTF-8 nor Windows-1251 text; save "
                             "it as UTF-8", "bad_encoding") from None


Row = tuple[int, dict[str, Any] | RecordRejected]
"""A line's number, and its fields or why it cannot be read."""


def _csv_rows(text: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field past the csv module's limit (128 KB), a stray quote
            # The reader cannot go on past it: the file is refused whole, and nothing stored.
            raise RecordRejected("file", f"line {reader.line_num + 1} is not CSV: {exc}",
                                 "malformed_file") from None  # (the lines before it were read)
        fields: dict[str, Any] = {key.strip(): (value or "").strip()
                                  for key, value in row.items() if key}
        for name in _LIST_FIELDS & set(fields):
            fields[name] = [part.strip() for part in fields[name].split(";") if part.strip()]
        yield reader.line_num, fields


def _json_rows(text: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, _line_decoder.decode(line)
        except msgspec.ValidationError as exc:  # not an object, or values nested in a field
            yield number, RecordRejected("line", f"not a record: {exc}"
                                         if line.lstrip().startswith("{")
                                         else "a line must be a JSON object")
        except msgspec.DecodeError as exc:
            yield number, RecordRejected("line", f"not JSON: {exc}")


def _rows(data: bytes, fmt: str) -> tuple[str, Iterator[Row]]:
    text, encoding = _text(data)
    if fmt == "csv":
        return encoding, iter(_csv_rows(text))
    return encoding, _json_rows(text)


class _Previewed(Exception):
    """Ends a preview's transaction, rolling back what it stored."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("preview")
        self.report = report


def import_records(database: Database, kind: str, data: bytes, fmt: str, *,
                   commit: bool = True, actor: str = "admin") -> ImportReport:
    """Import ``data`` (``csv`` or ``jsonl``) as records of ``kind`` (JSON lines may name their
    own ``kind``). With ``commit=False``, a preview: the same report, row by row, as the import
    would give now, and nothing stored."""
    if kind not in KINDS and fmt == "csv":
        raise RecordRejected("kind", f"a CSV file needs a kind: one of {', '.join(KINDS)}")
    encoding, rows = _rows(data, fmt)
    report = ImportReport(kind=kind, encoding=encoding)
    try:
        with database.write() as session:
            _store(session, kind, rows, report, actor, fmt, data)
            if not commit:
                raise _Previewed(report)
    except _Previewed as previewed:
        return previewed.report
    return report


def _store(session: Session, kind: str, rows: Iterator[Row], report: ImportReport, actor: str,
           fmt: str, data: bytes) -> None:
    """Each row checked and stored, or reported; the import audited when it stored any."""
    seen: dict[tuple[str, str], int] = {}
    changed = Database.next_change(session)
    for line, fields in rows:
        if isinstance(fields, RecordRejected):
            report.rejected.append(RejectedRow(line, fields.field, fields.reason))
            continue
        row_kind = str(fields.pop("kind", kind))
        try:
            record = decode(row_kind, fields)
            key = (row_kind, KINDS[row_kind].key(record))
            if key in seen:
                raise RecordRejected("key", f"duplicate of line {seen[key]}", "duplicate")
            seen[key] = line
            stored = upsert(session, row_kind, record, changed, actor)
        except RecordRejected as exc:
            report.rejected.append(RejectedRow(line, exc.field, exc.reason))
            continue
        report.stored += stored
        report.unchanged += not stored
    if report.stored:
        audit(session, now_ms(), actor, "imported", kind or "mixed",
              {"format": fmt, "sha256": hashlib.sha256(data).hexdigest(),
               "stored": report.stored, "unchanged": report.unchanged,
               "rejected": len(report.rejected)}, changed)
