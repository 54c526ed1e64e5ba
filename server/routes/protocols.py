"""``GET /v1/protocols/{id}``: the registry's current copy of a protocol."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from sqlmodel import col, select

from field_sync import content_hash
from schemas import Op, ProtocolRecord
from server.api.auth import Caller, require_admin, require_device
from server.api.openapi import ADMINISTRATOR, DEVICE, documented
from server.api.parameters import KeyPath
from server.api.problems import NotFound, Unauthorized
from server.data.tables import HeldOpRow, ProtocolRow
from server.registry import Registry
from server.sync.documents import decode_state
from server.sync.scope import assignments_in_scope
from server.sync.wire import reply

__all__ = ["get_protocol"]


def _caller(request: Request[Any, Any, Any], registry: Registry) -> Caller | None:
    """The device asking, or None for the administrator."""
    try:
        require_admin(request, registry.config.admin_token)
    except Unauthorized:
        return require_device(request, registry.database)
    return None


def _record(registry: Registry, request: Request[Any, Any, Any], protocol_id: str) -> Any:
    caller = _caller(request, registry)
    with registry.database.read() as session:
        row = session.get(ProtocolRow, protocol_id)
        if (
            row is not None
            and caller is not None
            and (row.assignment_id not in assignments_in_scope(session, caller.inspector_id))
        ):
            row = None  # out of scope looks the same as absent: ids are not to be probed
        if row is None:
            raise NotFound("unknown_protocol", f"no protocol {protocol_id!r} in your reach")
        template = registry.catalog.get(session, row.template_ref)
        held = [
            Op(op.actor, op.seq, op.doc, op.path, msgspec.msgpack.decode(op.value), op.hlc)
            for op in session.exec(
                select(HeldOpRow)
                .where(HeldOpRow.doc == protocol_id)
                .order_by(col(HeldOpRow.changed), col(HeldOpRow.seq))
            )
        ]
    state = decode_state(row)
    protocol = state.materialize(template)
    return ProtocolRecord(
        protocol=protocol, content_hash=content_hash(protocol), vector=state.vector, held=held
    )


@get("/v1/protocols/{protocol_id:str}", security=[*ADMINISTRATOR, *DEVICE],
     operation_class=documented(response=ProtocolRecord))
async def get_protocol(
    request: Request[Any, Any, Any], registry: NamedDependency[Registry], protocol_id: KeyPath
) -> Response[bytes]:
    """Administrator, or a device whose scope holds the protocol."""
    return reply(request, await registry.run(_record, registry, request, protocol_id))
