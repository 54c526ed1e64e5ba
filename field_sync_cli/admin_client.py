"""A thin client of the registry's administrator API (JSON over HTTP)."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
import msgspec

from schemas import Assignment, EnrollmentCode, Inspector, InspectorCreate, ProtocolRecord

__all__ = ["AdminClient", "AdminError"]

T = TypeVar("T")


class AdminError(Exception):
    """The registry refused an administrator request."""


class AdminClient:
    """Administrator calls against ``base_url`` with ``token``."""

    def __init__(self, base_url: str, token: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=30.0, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json",
            "Content-Type": "application/json"})

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, kind: type[T], body: Any = None) -> T:
        content = None if body is None else msgspec.json.encode(body)
        response = self._http.request(method, path, content=content)
        if response.status_code >= 400:
            raise AdminError(f"{method} {path}: {response.status_code} {response.text}")
        return msgspec.json.decode(response.content, type=kind)

    def create_inspector(self, inspector_id: str, full_name: str, region: str = "") -> Inspector:
        """Register an inspector."""
        body = InspectorCreate(inspector_id, full_name, region)
        return self._call("POST", "/v1/admin/inspectors", Inspector, body)

    def enrollment(self, inspector_id: str) -> EnrollmentCode:
        """A fresh one-time enrollment code for the inspector's tablet (and, the first time,
        the otpauth URI of the inspector's one-time-code secret)."""
        return self._call("POST", f"/v1/admin/inspectors/{inspector_id}/enrollment-codes",
                          EnrollmentCode)

    def enrollment_code(self, inspector_id: str) -> str:
        """A fresh one-time enrollment code for the inspector's tablet."""
        return self.enrollment(inspector_id).code

    def put_reference(self, kind: str, key: str, record: dict[str, Any]) -> None:
        """Create or replace a reference record (``inspector``, ``instrument``, ``entity``,
        ``site``, ``assignment``)."""
        self._call("PUT", f"/v1/admin/reference/{kind}/{key}", dict[str, Any], record)

    def put_assignment(self, assignment: Assignment) -> Assignment:
        """Create or replace an assignment and its team."""
        return self._call("PUT", f"/v1/admin/assignments/{assignment.id}",
                          Assignment, assignment)

    def protocol(self, protocol_id: str) -> ProtocolRecord:
        """The registry's copy of a protocol."""
        return self._call("GET", f"/v1/protocols/{protocol_id}", ProtocolRecord)
