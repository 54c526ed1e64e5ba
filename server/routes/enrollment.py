"""``POST /v1/enroll``: a tablet trades a one-time code and its public key for credentials."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, post

from field_sync.keys import InvalidKey, load_public_key
from schemas import EnrollRequest, EnrollResponse, Inspector
from server.auth import hash_secret, make_device_token
from server.clock import utcnow
from server.database import Database
from server.problems import BadRequest, Conflict, Unauthorized
from server.registry import Registry, now_ms
from server.routes.admin import normalize_code
from server.tables import DeviceRow, EnrollmentCodeRow, InspectorRow
from server.wire import decode_body, reply

__all__ = ["enroll"]


def _enroll(database: Database, request: EnrollRequest) -> EnrollResponse:
    try:
        load_public_key(request.public_key)
    except InvalidKey as exc:
        raise BadRequest(exc.code, exc.reason) from exc
    with database.write() as session:
        code = session.get(EnrollmentCodeRow, hash_secret(normalize_code(request.code)))
        if code is None:
            raise Unauthorized("unknown_code", "this enrollment code is not known")
        if code.used_at is not None:
            raise Conflict("code_used", "this enrollment code was already used")
        if code.expires_at < utcnow():
            raise Unauthorized("code_expired", "this enrollment code has expired")
        inspector = session.get(InspectorRow, code.inspector_id)
        assert inspector is not None  # a code's inspector is a foreign key
        device_id = str(uuid.uuid4())
        token, token_hash = make_device_token(device_id)
        code.used_at = utcnow()
        session.add(code)
        session.add(DeviceRow(id=device_id, inspector_id=inspector.id,
                              name=request.device_name[:200], public_key=request.public_key,
                              token_hash=token_hash, enrolled_at=utcnow()))
        return EnrollResponse(
            device_id=device_id, token=token,
            inspector=Inspector(inspector.id, inspector.full_name, inspector.region,
                                inspector.suspended),
            server_time_ms=now_ms(),
        )


@post("/v1/enroll")
async def enroll(request: Request[Any, Any, Any], registry: Registry) -> Response[bytes]:
    """Public, with a one-time code: enroll a device for the code's inspector."""
    body = await decode_body(request, EnrollRequest)
    return reply(request, await registry.run(_enroll, registry.database, body), 201)
