"""Administrator API for reference data: one record at a time, or a whole file."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post, put
from litestar.di import NamedDependency

from server.api.guards import admin_only
from server.api.openapi import ADMINISTRATOR, Body, documented
from server.api.parameters import FileFormat, ImportKind, KeyPath, RecordKind
from server.api.problems import BadRequest
from server.data.importer import ImportReport, import_records
from server.data.reference import LooseRecord, RecordRejected, put_record
from server.registry import Registry
from server.routes.answers import ReferenceStored
from server.sync.wire import decode_body, reply

__all__ = ["ReferenceController"]


class ReferenceController(Controller):
    """Administrator only."""

    path = "/v1/admin"
    guards = [admin_only]
    security = ADMINISTRATOR

    @put("/reference/{kind:str}/{key:str}",
         operation_class=documented(LooseRecord, ReferenceStored))
    async def put_reference(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        kind: RecordKind,
        key: KeyPath,
    ) -> Response[bytes]:
        """Create or replace a record: ``inspector``, ``instrument``, ``entity``, ``site`` or
        ``assignment``; 400 with the field and reason if it does not check."""
        fields = await decode_body(request, LooseRecord)
        try:
            record, changed = await registry.run(put_record, registry.database, kind, fields, key)
        except RecordRejected as exc:
            raise BadRequest(exc.code, str(exc), field=exc.field) from exc
        return reply(request, {"record": record, "changed": changed})

    @post("/import", status_code=200, operation_class=documented(
        Body(str, ("text/csv", "application/jsonl")), ImportReport))
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        kind: ImportKind = "",
        format: FileFormat = "jsonl",
    ) -> Response[bytes]:
        """Import CSV (``format=csv``, one ``kind`` per file) or JSON lines; a report of what
        was stored and of every rejected row (line, field, reason)."""
        try:
            report = await registry.run(
                import_records, registry.database, kind, await request.body(), format
            )
        except RecordRejected as exc:
            raise BadRequest(exc.code, str(exc)) from exc
        return reply(request, report)
