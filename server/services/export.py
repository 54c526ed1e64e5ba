"""The registry's selection streamed out: CSV (a protocol's summary a line) or JSON lines (its
summary and whole content), for the API's export and the console's download alike."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import msgspec

from server.data.queries import Filters, stream, summary
from server.registry import Registry
from server.sync.documents import decode_state

__all__ = ["EXPORT_COLUMNS", "EXPORT_FORMATS", "export_chunks", "media_type"]

EXPORT_COLUMNS = ("id", "number", "template", "status", "entity_tin", "inspector_id",
                  "site_id", "region", "signed_at_ms", "registry_number", "superseded_by",
                  "offline_gap_ms")
EXPORT_FORMATS = ("jsonl", "csv")


def media_type(fmt: str) -> str:
    """The media type of an export in ``fmt``."""
    return "text/csv; charset=utf-8" if fmt == "csv" else "application/jsonl"


def _csv_line(values: list[object]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue().encode()


def _lines(registry: Registry, filters: Filters, fmt: str) -> Iterator[bytes]:
    encoder = msgspec.json.Encoder()
    with registry.database.read() as session:
        if fmt == "csv":
            yield _csv_line(list(EXPORT_COLUMNS))
        for row in stream(session, filters):
            if fmt == "csv":
                item = msgspec.to_builtins(summary(row))
                yield _csv_line([item.get(name, "") for name in EXPORT_COLUMNS])
            else:
                template = registry.catalog.get(session, row.template_ref)
                protocol = decode_state(row).materialize(template)
                yield encoder.encode({"summary": summary(row), "protocol": protocol}) + b"\n"


def export_chunks(registry: Registry, filters: Filters, fmt: str,
                  size: int = 200) -> Iterator[bytes]:
    """The export of ``filters``' selection in ``fmt``, its lines joined a few hundred at a
    time: a streamed response fetches each item of a blocking iterator on a worker thread, and
    a hop a line cost more than making the line."""
    chunk: list[bytes] = []
    for line in _lines(registry, filters, fmt):
        chunk.append(line)
        if len(chunk) == size:
            yield b"".join(chunk)
            chunk.clear()
    if chunk:
        yield b"".join(chunk)
