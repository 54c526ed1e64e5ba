"""Supervisors (and the administrator): registry queries, export, quarantine, the audit log;
supervisors alone annul and clear. A supervisor limited to regions sees and acts on those
regions' protocols only. The work is the services' (``server.services``), which the console
calls too."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Stream

from schemas import ProtocolPage
from schemas.bounds import Key, Name, Regions, Text
from schemas.signing import Receipt
from server.api.auth import make_supervisor_token
from server.api.guards import admin_only, supervisor_only, supervisor_or_admin
from server.api.openapi import (
    ADMINISTRATOR,
    SUPERVISOR,
    SUPERVISOR_OR_ADMINISTRATOR,
    Body,
    documented,
)
from server.api.parameters import (
    AfterSeq,
    AuditLimit,
    DayQuery,
    FileFormat,
    GapQuery,
    KeyPath,
    KeyQuery,
    LogQuery,
    PageLimit,
    RegionQuery,
    SearchQuery,
    StatusQuery,
)
from server.api.problems import BadRequest, Conflict
from server.authority.audit import append as audit
from server.authority.revocation import revoke_supervisor
from server.data.clock import now_ms, utcnow
from server.data.database import Database
from server.data.queries import Filters, Order, count, query
from server.data.tables import SupervisorRow
from server.registry import Registry
from server.routes.answers import (
    AnnulmentAct,
    AuditEntry,
    SupervisorAppointed,
    SupervisorRevoked,
)
from server.services.audit_log import AuditFilters, audit_page
from server.services.export import export_chunks, media_type
from server.services.reach import Reach, format_regions
from server.services.supervision import Awaiting, annul, clear
from server.sync.wire import decode_body, reply

__all__ = ["RegistryController", "SupervisorAdmin", "SupervisorController"]


class NewSupervisor(msgspec.Struct, forbid_unknown_fields=True):
    """An administrator appoints a supervisor, who may be limited to regions."""

    id: Key
    full_name: Name
    regions: Regions = msgspec.field(default_factory=list)


class Reasoned(msgspec.Struct, forbid_unknown_fields=True):
    """Why a supervisor annuls a protocol, or clears it from quarantine."""

    reason: Text


def _reach(request: Request[Any, Any, Any]) -> Reach:
    reach: Reach = request.state.reach
    return reach


def _filters(request: Request[Any, Any, Any], number: SearchQuery = "",
             entity_tin: SearchQuery = "", inspector: SearchQuery = "", site: SearchQuery = "",
             status: StatusQuery = "", signed_from: DayQuery = None, signed_to: DayQuery = None,
             registry_number: SearchQuery = "", region: RegionQuery = "",
             template: KeyQuery = "", entity: SearchQuery = "", gap_min_s: GapQuery = None,
             gap_max_s: GapQuery = None) -> Filters:
    """A registry selection from the query's filters, within the caller's reach: ``entity`` is
    a STIR or part of an entity's name, ``inspector`` and ``site`` an id or part of a name,
    ``template`` a kind (template id); ``gap_min_s``/``gap_max_s`` bound the offline gap
    (seconds from signing to receipt)."""
    return Filters(number=number, entity_tin=entity_tin, inspector=inspector, site=site,
                   status=status, signed_from=signed_from, signed_to=signed_to,
                   registry_number=registry_number, region=region, template=template,
                   entity=entity, reach=_reach(request), gap_min_s=gap_min_s,
                   gap_max_s=gap_max_s)


class RegistryController(Controller):
    """Supervisors and the administrator."""

    path = "/v1/registry"
    guards = [supervisor_or_admin]
    dependencies = {"filters": Provide(_filters, sync_to_thread=False)}
    security = SUPERVISOR_OR_ADMINISTRATOR

    @get("/protocols", sync_to_thread=True, operation_class=documented(response=ProtocolPage))
    def protocols(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                  filters: NamedDependency[Filters], after: KeyQuery = "",
                  limit: PageLimit = 100, order: FromQuery[Order] = "id") -> Response[bytes]:
        """Protocols matching every filter given, by id or newest signed first
        (``order=newest``); ``after`` is the page's ``next``."""
        with registry.database.read() as session:
            return reply(request, query(session, filters, after, limit, order))

    @get("/export", sync_to_thread=True, operation_class=documented(
        response=Body(str, ("application/jsonl", "text/csv"))))
    def export(self, registry: NamedDependency[Registry], filters: NamedDependency[Filters],
               format: FileFormat = "jsonl") -> Stream:
        """Every matching protocol, streamed: JSON lines (summary and content) or CSV
        (summary). ``X-Total-Count`` says how many, for a progress bar."""
        with registry.database.read() as session:
            total = count(session, filters)
        return Stream(export_chunks(registry, filters, format), media_type=media_type(format),
                      headers={"X-Total-Count": str(total)})


class SupervisorController(Controller):
    """Supervisors (the audit log and quarantine also to the administrator)."""

    path = "/v1/supervisor"

    @get("/quarantine", guards=[supervisor_or_admin], sync_to_thread=True,
         security=SUPERVISOR_OR_ADMINISTRATOR, operation_class=documented(response=ProtocolPage))
    def quarantine(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                   rule: KeyQuery = "", after: KeyQuery = "") -> Response[bytes]:
        """Quarantined protocols with the rules they break, newest signed first; ``rule``
        keeps those that break that rule (its code, ``outside_geofence``)."""
        filters = Filters(status="quarantined", rule=rule, reach=_reach(request))
        with registry.database.read() as session:
            return reply(request, query(session, filters, after, 500, "newest"))

    @get("/audit", guards=[supervisor_or_admin], sync_to_thread=True,
         security=SUPERVISOR_OR_ADMINISTRATOR,
         operation_class=documented(response=list[AuditEntry]))
    def audit_log(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                  after: AfterSeq = 0, limit: AuditLimit = 100,
                  actor: LogQuery = "", action: LogQuery = "",
                  subject: LogQuery = "") -> Response[bytes]:
        """Audit entries after ``after``, oldest first."""
        with registry.database.read() as session:
            rows = audit_page(session, AuditFilters(actor, action, subject), _reach(request),
                              after=after, limit=limit)
            return reply(request, [row.model_dump() for row in rows])

    @post("/protocols/{protocol_id:str}/annul", status_code=200, guards=[supervisor_only],
          security=SUPERVISOR, operation_class=documented(Reasoned, AnnulmentAct))
    async def annul(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                    protocol_id: KeyPath) -> Response[bytes]:
        """Annul a protocol; the act is signed by the registry and its seal verifies as
        annulled from now on."""
        body = await decode_body(request, Reasoned)
        return reply(request, await registry.run(annul, registry.database, registry.keys,
                                                 _reach(request), protocol_id, body.reason))

    @post("/protocols/{protocol_id:str}/clear", status_code=200, guards=[supervisor_only],
          security=SUPERVISOR, operation_class=documented(Reasoned, Receipt, responses={
              "202": ("Cleared, and awaiting evidence files that have not all arrived: "
                      "registered when the last of them does.", Awaiting)}))
    async def clear(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                    protocol_id: KeyPath) -> Response[bytes]:
        """Clear a quarantined protocol for registration, with a reason: it gets a registry
        number and a receipt, as ingest would have given it; one whose evidence files have
        not all arrived awaits them (202)."""
        body = await decode_body(request, Reasoned)
        outcome = await registry.run(clear, registry.database, registry.keys, registry.catalog,
                                     _reach(request), protocol_id, body.reason)
        return reply(request, outcome, 202 if isinstance(outcome, Awaiting) else 200)


def _appoint(database: Database, new: NewSupervisor) -> dict[str, str]:
    token, token_hash = make_supervisor_token(new.id)
    regions = format_regions(new.regions)
    with database.write() as session:
        if session.get(SupervisorRow, new.id) is not None:
            raise Conflict("supervisor_exists", f"supervisor {new.id!r} already exists")
        session.add(SupervisorRow(id=new.id, full_name=new.full_name, token_hash=token_hash,
                                  created_at=utcnow(), regions=regions))
        audit(session, now_ms(), "admin", "supervisor", new.id,
              {"full_name": new.full_name, "regions": regions.splitlines()},
              Database.next_change(session))
    return {"id": new.id, "token": token}


class SupervisorAdmin(Controller):
    """Administrator only."""

    path = "/v1/admin/supervisors"
    guards = [admin_only]
    security = ADMINISTRATOR

    @post("/", operation_class=documented(NewSupervisor, SupervisorAppointed))
    async def appoint(self, request: Request[Any, Any, Any],
                      registry: NamedDependency[Registry]) -> Response[bytes]:
        """Appoint a supervisor (limited to ``regions`` if given); the answer carries the
        supervisor's token, shown once."""
        new = await decode_body(request, NewSupervisor)
        if not new.id or "." in new.id:
            raise BadRequest("invalid_supervisor", "a supervisor id is a name without dots")
        return reply(request, await registry.run(_appoint, registry.database, new), 201)

    @post("/{supervisor_id:str}/revoke", status_code=200,
          operation_class=documented(response=SupervisorRevoked))
    async def revoke(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     supervisor_id: KeyPath) -> Response[bytes]:
        """Revoke a supervisor's token: it is refused from now on."""
        return reply(request, await registry.run(revoke_supervisor, registry.database,
                                                 supervisor_id))
