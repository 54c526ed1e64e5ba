"""Administrator API for reference data: one record at a time, or a whole file."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from server.guards import admin_only
from server.importer import import_records
from server.problems import BadRequest
from server.reference import RecordRejected, put_record
from server.registry import Registry
from server.wire import reply

__all__ = ["ReferenceController"]


class ReferenceController(Controller):
    """Administrator only."""

    path = "/v1/admin"
    guards = [admin_only]

    @put("/reference/{kind:str}/{key:str}")
    async def put_reference(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        kind: FromPath[str],
        key: FromPath[str],
    ) -> Response[bytes]:
        """Create or replace a record: ``inspector``, ``instrument``, ``entity``, ``site`` or
        ``assignment``; 400 with the field and reason if it does not check."""
        try:
            fields = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise BadRequest("malformed_body", f"the body is not JSON: {exc}") from exc
        if not isinstance(fields, dict):
            raise BadRequest("invalid_record", "the body must be a JSON object")
        try:
            record, changed = await registry.run(put_record, registry.database, kind, fields, key)
        except RecordRejected as exc:
            raise BadRequest(exc.code, str(exc), field=exc.field) from exc
        return reply(request, {"record": record, "changed": changed})

    @post("/import")
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        kind: FromQuery[str] = "",
        format: FromQuery[str] = "jsonl",
    ) -> Response[bytes]:
        """Import CSV (``format=csv``, one ``kind`` per file) or JSON lines; a report of what
        was stored and of every rejected row (line, field, reason)."""
        if format not in ("csv", "jsonl"):
            raise BadRequest("bad_format", "format is csv or jsonl")
        try:
            report = await registry.run(
                import_records, registry.database, kind, await request.body(), format
            )
        except RecordRejected as exc:
            raise BadRequest(exc.code, str(exc)) from exc
        return reply(request, report)
