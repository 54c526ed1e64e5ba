"""``POST /v1/enroll``: a tablet trades a one-time code and its public key for credentials."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from field_sync.keys import InvalidKey, load_public_key
from field_sync.seal import key_id
from field_sync.signing import from_b64url
from schemas import EnrollRequest, EnrollResponse, Inspector
from server.api.auth import hash_secret, make_device_token
from server.api.openapi import documented
from server.api.problems import BadRequest, Conflict, Unauthorized
from server.authority.audit import append as audit
from server.authority.keys import RegistryKeys
from server.authority.registry_time import tell
from server.data.clock import utcnow
from server.data.database import Database
from server.data.tables import (
    BiometricCredentialRow,
    DeviceKeyRow,
    DeviceRow,
    EnrollmentCodeRow,
    InspectorRow,
)
from server.registry import Registry, now_ms
from server.services.inspectors import normalize_code
from server.sync.wire import decode_body, reply

__all__ = ["enroll"]


def _biometric(request: EnrollRequest, device_id: str) -> BiometricCredentialRow | None:
    if not request.biometric_credential_id:
        return None
    try:
        public_key = from_b64url(request.biometric_public_key)
    except ValueError as exc:
        raise BadRequest(
            "invalid_biometric_key", "the biometric public key is not base64url"
        ) from exc
    return BiometricCredentialRow(
        credential_id=request.biometric_credential_id, device_id=device_id, public_key=public_key
    )


def _enroll(database: Database, keys: RegistryKeys, request: EnrollRequest,
            public_url: str) -> EnrollResponse:
    try:
        public_key = load_public_key(request.public_key)
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
        if inspector.suspended:
            raise Conflict("inspector_suspended", "the inspector is suspended: no new device "
                           "is enrolled until reinstated")
        device_id = str(uuid.uuid4())
        token, token_hash = make_device_token(device_id)
        code.used_at = utcnow()
        session.add(code)
        session.add(
            DeviceRow(
                id=device_id,
                inspector_id=inspector.id,
                name=request.device_name[:200],
                public_key=request.public_key,
                token_hash=token_hash,
                enrolled_at=utcnow(),
            )
        )
        session.flush()
        kid = key_id(public_key).hex()
        if session.get(DeviceKeyRow, kid) is not None:
            raise Conflict("key_in_use", "this public key is already enrolled")
        session.add(
            DeviceKeyRow(
                kid=kid,
                device_id=device_id,
                inspector_id=inspector.id,
                public_key=request.public_key,
                valid_from_ms=now_ms(),
            )
        )
        biometric = _biometric(request, device_id)
        if biometric is not None:
            if session.get(BiometricCredentialRow, biometric.credential_id) is not None:
                raise Conflict("credential_in_use", "this biometric credential is already "
                               "enrolled")
            session.add(biometric)
        audit(session, now_ms(), f"device:{device_id}", "enrolled", inspector.id,
              {"device_id": device_id, "kid": kid, "name": request.device_name[:200]},
              Database.next_change(session))
        told = now_ms()
        return EnrollResponse(
            device_id=device_id,
            token=token,
            inspector=Inspector(
                inspector.id,
                inspector.full_name,
                inspector.region,
                inspector.suspended,
                inspector.attested_until,
            ),
            server_time_ms=told,
            kid=kid,
            public_url=public_url,
            registry_key=keys.public_pem,
            registry_time=tell(keys, device_id, told),
        )


@post("/v1/enroll", operation_class=documented(EnrollRequest, EnrollResponse))
async def enroll(
    request: Request[Any, Any, Any], registry: NamedDependency[Registry]
) -> Response[bytes]:
    """Public, with a one-time code: enroll a device for the code's inspector."""
    body = await decode_body(request, EnrollRequest)
    return reply(
        request,
        await registry.run(_enroll, registry.database, registry.keys, body,
                           registry.public_url(request)),
        201,
    )
