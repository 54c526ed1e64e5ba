"""Administrator API: inspectors, enrollment codes, assignments, devices."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post, put
from litestar.di import NamedDependency

from schemas import Assignment, EnrollmentCode, Inspector, InspectorCreate
from server.guards import admin_only
from server.openapi import ADMINISTRATOR, documented
from server.parameters import KeyPath
from server.problems import BadRequest
from server.registry import Registry
from server.routes.answers import DeviceRevoked
from server.services.devices import revoke_device
from server.services.inspectors import create_inspector, issue_code, put_assignment
from server.wire import decode_body, reply

__all__ = ["AdminController"]


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
        """Revoke a device's credentials; it can no longer push or pull."""
        revoked = await registry.run(revoke_device, registry.database, device_id)
        return reply(request, revoked)
