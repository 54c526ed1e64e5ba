"""``POST /v1/push`` and ``GET /v1/pull``: the sync protocol, for enrolled devices."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery

from field_sync.evidence import has_attachment_fields
from schemas import PullResponse, PushRequest, PushResponse
from server.api.auth import Caller
from server.api.openapi import DEVICE, documented
from server.api.parameters import CursorQuery, PullLimit
from server.api.problems import BadRequest, TooLarge
from server.authority.registry_time import tell
from server.metrics import count_pull, count_push
from server.registry import Registry, now_ms
from server.sync.changes import Cursor, pull
from server.sync.ingest import ingest
from server.sync.whole import as_msgpack
from server.sync.wire import JSON, decode_body, replies_in_json, reply

__all__ = ["pull_changes", "push_ops"]


@post("/v1/push", status_code=200, security=DEVICE,
      operation_class=documented(PushRequest, PushResponse))
async def push_ops(
    request: Request[Any, Any, Any],
    registry: NamedDependency[Registry],
    caller: NamedDependency[Caller],
) -> Response[bytes]:
    """Device. Merge a batch of the device's own ops; one result per op, or one per protocol
    pushed whole whose ops all fared alike."""
    batch = await decode_body(request, PushRequest)
    count = len(batch.ops) + sum(len(item.ops) for item in batch.protocols)
    if count > registry.config.max_batch_ops:
        raise TooLarge("batch_too_large",
                       f"{count} ops; send at most {registry.config.max_batch_ops}")
    if batch.protocols and JSON in request.headers.get("content-type", "").lower():
        try:  # values are kept as MessagePack
            batch.protocols = await registry.run(as_msgpack, batch.protocols)
        except (OverflowError, msgspec.EncodeError) as exc:
            raise BadRequest("bad_value", f"a value of a protocol pushed whole has no "
                             f"MessagePack form: {exc}") from exc
    answers = await registry.run(
        ingest,
        registry.database,
        registry.catalog,
        caller,
        batch.ops,
        now_ms(),
        registry.config.max_clock_ahead_ms,
        registry.signing,
        batch.protocols,
    )
    sizes = {item.doc: len(item.ops) for item in batch.protocols}
    count_push(answers.results, [(whole.status, sizes[whole.doc]) for whole in answers.protocols])
    told = now_ms()
    return reply(request, PushResponse(results=answers.results, server_time_ms=told,
                                       protocols=answers.protocols,
                                       registry_time=tell(registry.keys, caller.device_id, told)))


def _pull(registry: Registry, caller: Caller, cursor: Cursor, limit: int, states: bool,
          stored: bool, packed: bool, attachments: bool) -> Any:
    with registry.database.pull_reads.session() as session:
        page = pull(session, registry.catalog, caller.inspector_id, cursor, limit, now_ms(),
                    states, stored=stored, packed=packed, deltas=registry.deltas)
    if not attachments:  # a device that reads no attachment field is not sent such a form
        page.templates = [t for t in page.templates if not has_attachment_fields(t)]
    page.registry_time = tell(registry.keys, caller.device_id, page.server_time_ms)
    return page


@get("/v1/pull", security=DEVICE, operation_class=documented(response=PullResponse))
async def pull_changes(
    request: Request[Any, Any, Any],
    registry: NamedDependency[Registry],
    caller: NamedDependency[Caller],
    cursor: CursorQuery = "",
    limit: PullLimit = None,
    states: FromQuery[bool] = False,
    packed: FromQuery[bool] = False,
    attachments: FromQuery[bool] = False,
) -> Response[bytes]:
    """Device. The changes in the device's scope since ``cursor``; with ``states=true``,
    protocols sent whole come as their registers, not as ops, and with ``packed=true`` too,
    as the registry stores them, packed (``schemas.packed``), in a MessagePack reply. Templates
    with attachment fields only with ``attachments=true`` (a device that reads them)."""
    page = registry.config.pull_page_protocols
    if limit is not None and not 1 <= limit <= page:
        raise BadRequest("bad_limit", f"limit is a number of protocols from 1 to {page}")
    response = await registry.run(_pull, registry, caller, Cursor.parse(cursor), limit or page,
                                  states, not replies_in_json(request), packed, attachments)
    answer = reply(request, response)
    count_pull(len(answer.content))
    return answer
