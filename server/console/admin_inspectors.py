"""Administrators' pages for the field: inspectors (attestation, suspension, a tablet's
enrollment code shown as text and QR, a new one-time-code secret shown once), devices and their
keys (revocation, with what it does to the trust list), and assignments with their teams."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from field_sync.qr import qr_svg
from schemas import Assignment, Inspector, InspectorCreate
from schemas.bounds import INT64_MAX
from server.api.parameters import KeyId, KeyPath, SearchQuery
from server.api.problems import BadRequest, ProblemError
from server.authority import revocation
from server.console.auth import administrator, current_account
from server.console.forms import Form, checked
from server.console.pages import console_page, flash, problem_text, see_other
from server.data.clock import now_ms
from server.registry import Registry
from server.services import devices as device_service
from server.services import inspectors as inspector_service

__all__ = ["AssignmentPages", "DevicePages", "InspectorPages"]


def _actor(request: Request[Any, Any, Any]) -> str:
    return f"account:{current_account(request).id}"


def _inspector_page(request: Request[Any, Any, Any], registry: Registry, inspector_id: str,
                    error: str = "", status: int = 200) -> Template:
    found = inspector_service.inspector(registry.database, inspector_id)
    return console_page(request, registry, "admin/inspector.html", {
        "inspector": found, "devices": device_service.devices(registry.database, inspector_id),
        "error": error}, section="inspectors", status=status)


class InspectorPages(Controller):
    """Administrators."""

    path = "/console/admin/inspectors"
    guards = [administrator]

    @get("/", sync_to_thread=True)
    def list(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
             q: SearchQuery = "") -> Template:
        """Inspectors, and a form to register one."""
        return _inspectors_page(request, registry, q.strip())

    @post("/")
    async def create(self, request: Request[Any, Any, Any],
                     registry: NamedDependency[Registry]) -> Template | Redirect:
        """Register an inspector (with an attestation date, if given)."""
        form = await Form.read(request)
        new = Inspector(form.value("id"), form.value("full_name"), form.value("region"),
                        attested_until=form.value("attested_until"))
        try:
            checked(new, "inspector")
            await registry.run(inspector_service.create_inspector, registry.database,
                               InspectorCreate(new.id, new.full_name, new.region), _actor(request))
            if new.attested_until:
                await registry.run(inspector_service.update_inspector, registry.database, new,
                                   _actor(request))
        except ProblemError as refused:
            return await registry.run(_inspectors_page, request, registry, "",
                                      problem_text(request, refused), new, 400)
        flash(request, "success", "console.inspectors.created", id=new.id)
        return see_other(request, f"/console/admin/inspectors/{new.id}")

    @get("/{inspector_id:str}", sync_to_thread=True)
    def inspector(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                  inspector_id: KeyPath) -> Template:
        """An inspector: details, attestation, devices, codes."""
        return _inspector_page(request, registry, inspector_id)

    @post("/{inspector_id:str}")
    async def update(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     inspector_id: KeyPath) -> Template | Redirect:
        """Change the name, region, attestation date, or suspend and reinstate."""
        form = await Form.read(request)
        current = await registry.run(inspector_service.inspector, registry.database,
                                     inspector_id)
        changed = msgspec.structs.replace(
            current, full_name=form.value("full_name") or current.full_name,
            region=form.value("region") if "region" in form.fields else current.region,
            attested_until=form.value("attested_until") if "attested_until" in form.fields
            else current.attested_until)
        try:
            if form.value("action") == "suspend":  # revokes the keys of all their tablets
                await registry.run(revocation.suspend_inspector, registry.database,
                                   inspector_id, form.text("reason", 500) or
                                   "suspended in the console", _actor(request))
            elif form.value("action") == "reinstate":
                await registry.run(revocation.reinstate_inspector, registry.database,
                                   inspector_id, _actor(request))
            else:
                await registry.run(inspector_service.update_inspector, registry.database,
                                   checked(changed), _actor(request))
        except ProblemError as refused:
            return await registry.run(_inspector_page, request, registry, inspector_id,
                                      problem_text(request, refused), 400)
        flash(request, "success", "console.inspectors.saved")
        return see_other(request, f"/console/admin/inspectors/{inspector_id}")

    @post("/{inspector_id:str}/enrollment-code")
    async def enrollment_code(self, request: Request[Any, Any, Any],
                              registry: NamedDependency[Registry],
                              inspector_id: KeyPath) -> Template:
        """A tablet's one-time enrollment code, as text and as a QR carrying the registry's
        address; the first time, the inspector's one-time-code app too. Shown once."""
        issued = await registry.run(inspector_service.issue_code, registry.database,
                                    registry.keys, inspector_id,
                                    registry.config.enrollment_code_ttl_s,
                                    registry.public_url(request), _actor(request))
        return console_page(request, registry, "admin/enrollment.html", {"issued": issued},
                            section="inspectors")

    @post("/{inspector_id:str}/totp")
    async def totp(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                   inspector_id: KeyPath) -> Template:
        """A new one-time-code secret for the inspector's app, shown once."""
        uri = await registry.run(inspector_service.reprovision_totp, registry.database,
                                 registry.keys, inspector_id, _actor(request))
        return console_page(request, registry, "admin/totp.html", {
            "inspector_id": inspector_id, "uri": uri, "qr": qr_svg(uri).decode()},
            section="inspectors")


def _inspectors_page(request: Request[Any, Any, Any], registry: Registry, text: str,
                     error: str = "", draft: Inspector | None = None,
                     status: int = 200) -> Template:
    return console_page(request, registry, "admin/inspectors.html", {
        "inspectors": inspector_service.inspectors(registry.database, text), "q": text,
        "error": error, "draft": draft or Inspector("", "")}, section="inspectors",
        status=status)


class DevicePages(Controller):
    """Administrators."""

    path = "/console/admin"
    guards = [administrator]

    @get("/devices", sync_to_thread=True)
    def list(self, request: Request[Any, Any, Any],
             registry: NamedDependency[Registry]) -> Template:
        """Every tablet, last heard from first."""
        return console_page(request, registry, "admin/devices.html", {
            "devices": device_service.devices(registry.database), "now_ms": now_ms()},
            section="devices")

    @get("/devices/{device_id:str}", sync_to_thread=True)
    def device(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
               device_id: KeyPath) -> Template:
        """A tablet, its keys as the trust list has them, and revocation."""
        return console_page(request, registry, "admin/device.html", {
            "device": device_service.device(registry.database, device_id), "now_ms": now_ms()},
            section="devices")

    @post("/devices/{device_id:str}/revoke")
    async def revoke(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     device_id: KeyPath) -> Redirect:
        """Revoke a tablet: it can no longer push or pull."""
        await registry.run(device_service.revoke_device, registry.database, device_id,
                           _actor(request))
        flash(request, "success", "console.devices.revoked")
        return see_other(request, f"/console/admin/devices/{device_id}")

    @post("/keys/{kid:str}/revoke")
    async def revoke_key(self, request: Request[Any, Any, Any],
                         registry: NamedDependency[Registry], kid: KeyId) -> Redirect:
        """Distrust a key's signatures from a moment on (now, unless one is given)."""
        form = await Form.read(request)
        after, device = _moment_ms(form.text("after", 32)) or now_ms(), form.text("device", 64)
        await registry.run(device_service.revoke_key, registry.database, kid, after,
                           _actor(request))
        flash(request, "success", "console.devices.key_revoked")
        return see_other(request, f"/console/admin/devices/{device}")


def _moment_ms(text: str) -> int:
    """A ``datetime-local`` field's moment (the agency's zone), in ms; 0 when empty."""
    if not text:
        return 0
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("bad_date", f"not a date and time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=5)))
    at_ms = int(moment.timestamp() * 1000)
    if not 0 < at_ms <= INT64_MAX:  # as the API's revocation takes it (``Millis``)
        raise BadRequest("bad_date", f"not a moment since 1970: {text!r}")
    return at_ms


def _assignment_from(form: Form, assignment_id: str, team: tuple[str, ...]) -> Assignment:
    return Assignment(assignment_id, form.value("title"), team, form.value("starts_on"),
                      form.value("ends_on"), form.value("site_id"))


class AssignmentPages(Controller):
    """Administrators."""

    path = "/console/admin/assignments"
    guards = [administrator]

    @get("/", sync_to_thread=True)
    def list(self, request: Request[Any, Any, Any],
             registry: NamedDependency[Registry]) -> Template:
        """Assignments and their teams, and a form to make one."""
        return _assignments_page(request, registry)

    @post("/")
    async def create(self, request: Request[Any, Any, Any],
                     registry: NamedDependency[Registry]) -> Template | Redirect:
        """Make an assignment with its first team."""
        form = await Form.read(request)
        try:
            made = checked(_assignment_from(form, form.value("id"),
                                            tuple(form.many("inspectors", 64))))
            await registry.run(inspector_service.put_assignment, registry.database, made,
                               _actor(request))
        except ProblemError as refused:
            return await registry.run(_assignments_page, request, registry,
                                      problem_text(request, refused), 400)
        flash(request, "success", "console.assignments.saved")
        return see_other(request, f"/console/admin/assignments/{made.id}")

    @get("/{assignment_id:str}", sync_to_thread=True)
    def assignment(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                   assignment_id: KeyPath) -> Template:
        """An assignment: its details and team."""
        return _assignment_page(request, registry, assignment_id)

    @post("/{assignment_id:str}")
    async def update(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     assignment_id: KeyPath) -> Template | Redirect:
        """Change the details, add an inspector or take one off the team."""
        form = await Form.read(request)
        current = await registry.run(inspector_service.assignment, registry.database,
                                     assignment_id)
        team = [member for member in current.inspectors if member != form.value("remove")]
        if form.value("add") and form.value("add") not in team:
            team.append(form.value("add"))
        changed = _assignment_from(form, assignment_id, tuple(team)) if "title" in form.fields \
            else msgspec.structs.replace(current, inspectors=tuple(team))
        try:
            await registry.run(inspector_service.put_assignment, registry.database,
                               checked(changed), _actor(request))
        except ProblemError as refused:
            return await registry.run(_assignment_page, request, registry, assignment_id,
                                      problem_text(request, refused), 400)
        flash(request, "success", "console.assignments.saved")
        return see_other(request, f"/console/admin/assignments/{assignment_id}")


def _assignments_page(request: Request[Any, Any, Any], registry: Registry, error: str = "",
                      status: int = 200) -> Template:
    return console_page(request, registry, "admin/assignments.html", {
        "assignments": inspector_service.assignments(registry.database), "error": error,
        "inspectors": inspector_service.inspectors(registry.database, limit=2000)},
        section="assignments", status=status)


def _assignment_page(request: Request[Any, Any, Any], registry: Registry, assignment_id: str,
                     error: str = "", status: int = 200) -> Template:
    return console_page(request, registry, "admin/assignment.html", {
        "assignment": inspector_service.assignment(registry.database, assignment_id),
        "inspectors": inspector_service.inspectors(registry.database, limit=2000),
        "error": error}, section="assignments", status=status)
