"""Administrator API: inspectors (and their suspension), enrollment codes, assignments,
devices."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, post, put
from litestar.di import NamedDependency

from schemas import Assignment, EnrollmentCode, Inspector, InspectorCreate
from schemas.bounds import Text
from server.api.guards import admin_only
from server.api.openapi import ADMINISTRATOR, documented
from server.api.parameters import KeyPath
from server.api.problems import BadRequest
from server.authority.revocation import reinstate_inspector, revoke_device, suspend_inspector
from server.registry import Registry
from server.routes.answers import DeviceRevoked, InspectorSuspension
from server.services.inspectors import create_inspector, issue_code, put_assignment
from server.sync.wire import decode_body, reply

__all__ = ["AdminController", "Suspension"]


class Suspension(msgspec.Struct, forbid_unknown_fields=True):
    """Why an administrator suspends an inspector."""

    reason: Text


class AdminController(Controller):
    """Administrator only."""

    path = "/v1/admin"
    guards = [admin_only]
    security = ADMINISTRATOR

    @post("/inspectors", operation_class=documented(InspectorCreate, Inspector))
    async def create_inspector(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Response[bytes]:
        """Register an inspector; 409 if the id is taken."""
        new = await decode_body(request, InspectorCreate)
        return reply(request, await registry.run(create_inspector, registry.database, new), 201)

    @post("/inspectors/{inspector_id:str}/enrollment-codes",
          operation_class=documented(response=EnrollmentCode))
    async def issue_enrollment_code(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        inspector_id: KeyPath,
    ) -> Response[bytes]:
        """A one-time enrollment code for the inspector's tablet."""
        code = await registry.run(
            issue_code,
            registry.database,
            registry.keys,
            inspector_id,
            registry.config.enrollment_code_ttl_s,
            registry.public_url(request),
        )
        return reply(request, code, 201)

    @put("/assignments/{assignment_id:str}", operation_class=documented(Assignment, Assignment))
    async def put_assignment(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        assignment_id: KeyPath,
    ) -> Response[bytes]:
        """Create or replace an assignment and its team."""
        assignment = await decode_body(request, Assignment)
        if assignment.id != assignment_id:
            raise BadRequest("id_mismatch", "the body's id differs from the URL's")
        return reply(request, await registry.run(put_assignment, registry.database, assignment))

    @post("/devices/{device_id:str}/revoke", status_code=200,
          operation_class=documented(response=DeviceRevoked))
    async def revoke_device(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        device_id: KeyPath,
    ) -> Response[bytes]:
        """Revoke a device's credentials and signing keys from now: it can no longer push or
        pull, and its signatures dated later are refused and their seals verify as
        revoked."""
        revoked = await registry.run(revoke_device, registry.database, device_id)
        return reply(request, revoked)

    @post("/inspectors/{inspector_id:str}/suspend", status_code=200,
          operation_class=documented(Suspension, InspectorSuspension))
    async def suspend_inspector(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        inspector_id: KeyPath,
    ) -> Response[bytes]:
        """Suspend an inspector, with a reason: the signing keys of all their devices are
        revoked from now, and no device or key is enrolled for them until reinstated."""
        body = await decode_body(request, Suspension)
        if not body.reason.strip():
            raise BadRequest("reason_required", "a suspension states its reason")
        return reply(request, await registry.run(suspend_inspector, registry.database,
                                                 inspector_id, body.reason.strip()))

    @post("/inspectors/{inspector_id:str}/reinstate", status_code=200,
          operation_class=documented(response=InspectorSuspension))
    async def reinstate_inspector(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        inspector_id: KeyPath,
    ) -> Response[bytes]:
        """Lift a suspension; the revoked keys stay revoked (a device enrolls a new one)."""
        return reply(request, await registry.run(reinstate_inspector, registry.database,
                                                 inspector_id))
