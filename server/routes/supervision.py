"""Supervisors (and the administrator): registry queries, export, quarantine, the audit log;
supervisors alone annul."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Stream
from sqlmodel import col, select

from field_sync.signing import sign_canonical
from server.audit import append as audit
from server.auth import make_supervisor_token
from server.clock import now_ms, utcnow
from server.database import Database
from server.documents import decode_state
from server.guards import admin_only, supervisor_only, supervisor_or_admin
from server.problems import BadRequest, Conflict, NotFound
from server.queries import Filters, count, query, stream, summary
from server.registry import Registry
from server.revocation import revoke_supervisor
from server.tables import AnnulmentRow, AuditEntryRow, ProtocolRow, SupervisorRow
from server.wire import decode_body, reply

__all__ = ["RegistryController", "SupervisorAdmin", "SupervisorController"]

_EXPORT_COLUMNS = ("id", "number", "template", "status", "entity_tin", "inspector_id",
                   "site_id", "signed_at_ms", "registry_number", "superseded_by",
                   "offline_gap_ms")


class NewSupervisor(msgspec.Struct, forbid_unknown_fields=True):
    """An administrator appoints a supervisor."""

    id: str
    full_name: str


class Annulment(msgspec.Struct, forbid_unknown_fields=True):
    """Why a supervisor annuls a protocol."""

    reason: str


def _filters(number: str, entity_tin: str, inspector: str, site: str, status: str,
             signed_from: str, signed_to: str, gap_min_s: int | None,
             gap_max_s: int | None) -> Filters:
    return Filters(number, entity_tin, inspector, site, status, signed_from, signed_to,
                   gap_min_s, gap_max_s)


def _in_chunks(lines: Iterator[bytes], size: int = 200) -> Iterator[bytes]:
    """Lines joined a few hundred at a time: the response fetches each item of a blocking
    iterator on a worker thread, and a hop per line cost more than making the line."""
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield b"".join(chunk)
            chunk.clear()
    if chunk:
        yield b"".join(chunk)


def _export_lines(registry: Registry, filters: Filters, fmt: str) -> Iterator[bytes]:
    encoder = msgspec.json.Encoder()
    with registry.database.read() as session:
        if fmt == "csv":
            out = io.StringIO()
            csv.writer(out).writerow(_EXPORT_COLUMNS)
            yield out.getvalue().encode()
        for row in stream(session, filters):
            if fmt == "csv":
                out = io.StringIO()
                item = msgspec.to_builtins(summary(row))
                csv.writer(out).writerow([item.get(name, "") for name in _EXPORT_COLUMNS])
                yield out.getvalue().encode()
            else:
                template = registry.catalog.get(session, row.template_ref)
                protocol = decode_state(row).materialize(template)
                yield encoder.encode({"summary": summary(row), "protocol": protocol}) + b"\n"


class RegistryController(Controller):
    """Supervisors and the administrator."""

    path = "/v1/registry"
    guards = [supervisor_or_admin]

    @get("/protocols", sync_to_thread=True)
    def protocols(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                  number: FromQuery[str] = "", entity_tin: FromQuery[str] = "",
                  inspector: FromQuery[str] = "", site: FromQuery[str] = "",
                  status: FromQuery[str] = "", signed_from: FromQuery[str] = "",
                  signed_to: FromQuery[str] = "", after: FromQuery[str] = "",
                  limit: FromQuery[int] = 100, gap_min_s: FromQuery[int | None] = None,
                  gap_max_s: FromQuery[int | None] = None) -> Response[bytes]:
        """Protocols matching every filter given, by id; ``after`` is the page's ``next``.
        ``gap_min_s``/``gap_max_s`` bound the offline gap (seconds from signing to receipt)."""
        if not 1 <= limit <= 500:
            raise BadRequest("bad_limit", "limit is 1 to 500")
        filters = _filters(number, entity_tin, inspector, site, status, signed_from, signed_to,
                           gap_min_s, gap_max_s)
        with registry.database.read() as session:
            return reply(request, query(session, filters, after, limit))

    @get("/export", sync_to_thread=True)
    def export(self, registry: NamedDependency[Registry], format: FromQuery[str] = "jsonl",
               number: FromQuery[str] = "", entity_tin: FromQuery[str] = "",
               inspector: FromQuery[str] = "", site: FromQuery[str] = "",
               status: FromQuery[str] = "", signed_from: FromQuery[str] = "",
               signed_to: FromQuery[str] = "", gap_min_s: FromQuery[int | None] = None,
               gap_max_s: FromQuery[int | None] = None) -> Stream:
        """Every matching protocol, streamed: JSON lines (summary and content) or CSV
        (summary). ``X-Total-Count`` says how many, for a progress bar."""
        if format not in ("jsonl", "csv"):
            raise BadRequest("bad_format", "format is jsonl or csv")
        filters = _filters(number, entity_tin, inspector, site, status, signed_from, signed_to,
                           gap_min_s, gap_max_s)
        with registry.database.read() as session:
            total = count(session, filters)
        return Stream(_in_chunks(_export_lines(registry, filters, format)),
                      media_type="text/csv" if format == "csv" else "application/jsonl",
                      headers={"X-Total-Count": str(total)})


def _annul(registry: Registry, supervisor_id: str, protocol_id: str,
           reason: str) -> dict[str, Any]:
    if not reason.strip():
        raise BadRequest("reason_required", "an annulment states its reason")
    now = now_ms()
    with registry.database.write() as session:
        row = session.get(ProtocolRow, protocol_id)
        if row is None:
            raise NotFound("unknown_protocol", f"no protocol {protocol_id!r}")
        if row.status not in ("registered", "quarantined", "superseded"):
            raise Conflict("cannot_annul", f"a {row.status} protocol cannot be annulled")
        act: dict[str, Any] = {"protocol_id": protocol_id, "supervisor_id": supervisor_id,
                               "reason": reason.strip(), "at_ms": now}
        signature = sign_canonical(registry.keys.signing, act)
        changed = Database.next_change(session)
        session.add(AnnulmentRow(protocol_id=protocol_id, supervisor_id=supervisor_id,
                                 reason=act["reason"], at_ms=now, signature=signature))
        row.status, row.changed = "annulled", changed
        session.add(row)
        audit(session, now, f"supervisor:{supervisor_id}", "annulled", protocol_id, act, changed)
    return {**act, "signature": signature}


class SupervisorController(Controller):
    """Supervisors (the audit log and quarantine also to the administrator)."""

    path = "/v1/supervisor"

    @get("/quarantine", guards=[supervisor_or_admin], sync_to_thread=True)
    def quarantine(self, request: Request[Any, Any, Any],
                   registry: NamedDependency[Registry]) -> Response[bytes]:
        """Quarantined protocols with the rules they break."""
        with registry.database.read() as session:
            return reply(request, query(session, Filters(status="quarantined"), "", 500))

    @get("/audit", guards=[supervisor_or_admin], sync_to_thread=True)
    def audit_log(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                  after: FromQuery[int] = 0, limit: FromQuery[int] = 100) -> Response[bytes]:
        """Audit entries after ``after``, oldest first."""
        with registry.database.read() as session:
            rows = session.exec(select(AuditEntryRow).where(col(AuditEntryRow.seq) > after)
                                .order_by(col(AuditEntryRow.seq)).limit(min(limit, 1000)))
            return reply(request, [row.model_dump() for row in rows])

    @post("/protocols/{protocol_id:str}/annul", guards=[supervisor_only])
    async def annul(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                    protocol_id: FromPath[str]) -> Response[bytes]:
        """Annul a protocol; the act is signed by the registry and its seal verifies as
        annulled from now on."""
        body = await decode_body(request, Annulment)
        return reply(request, await registry.run(_annul, registry, request.state.supervisor_id,
                                                 protocol_id, body.reason))


def _appoint(database: Database, new: NewSupervisor) -> dict[str, str]:
    token, token_hash = make_supervisor_token(new.id)
    with database.write() as session:
        if session.get(SupervisorRow, new.id) is not None:
            raise Conflict("supervisor_exists", f"supervisor {new.id!r} already exists")
        session.add(SupervisorRow(id=new.id, full_name=new.full_name, token_hash=token_hash,
                                  created_at=utcnow()))
        audit(session, now_ms(), "admin", "supervisor", new.id, {"full_name": new.full_name},
              Database.next_change(session))
    return {"id": new.id, "token": token}


class SupervisorAdmin(Controller):
    """Administrator only."""

    path = "/v1/admin/supervisors"
    guards = [admin_only]

    @post("/")
    async def appoint(self, request: Request[Any, Any, Any],
                      registry: NamedDependency[Registry]) -> Response[bytes]:
        """Appoint a supervisor; the answer carries the supervisor's token, shown once."""
        new = await decode_body(request, NewSupervisor)
        if not new.id or "." in new.id:
            raise BadRequest("invalid_supervisor", "a supervisor id is a name without dots")
        return reply(request, await registry.run(_appoint, registry.database, new), 201)

    @post("/{supervisor_id:str}/revoke")
    async def revoke(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     supervisor_id: FromPath[str]) -> Response[bytes]:
        """Revoke a supervisor's token: it is refused from now on."""
        return reply(request, await registry.run(revoke_supervisor, registry.database,
                                                 supervisor_id))
