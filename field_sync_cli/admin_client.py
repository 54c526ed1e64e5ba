"""A thin client of the registry's administrator API (JSON over HTTP).

A refusal raises ``RegistryRefused`` (exit 1 from a command), a registry that cannot be reached
httpx's ``TransportError`` (exit 3), and an answer that is not the registry's JSON
``NotARegistry`` (exit 3).
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
import msgspec

from field_sync_cli.errors import RegistryRefused, Unreachable
from schemas import Assignment, EnrollmentCode, Inspector, InspectorCreate, ProtocolRecord

__all__ = ["AdminClient", "NotARegistry", "read_answer"]

T = TypeVar("T")


class NotARegistry(Unreachable):
    """An address answered, but not as a field-sync registry does."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.url} did not answer as a field-sync registry "
                         f"({response.status_code}, {response.headers.get('content-type', '')})")


def read_answer(response: httpx.Response, kind: type[T]) -> T:
    """A registry's JSON answer as ``kind``; ``RegistryRefused`` for a problem detail, and
    ``NotARegistry`` for anything else that is not the registry's answer."""
    if response.status_code >= 400 and "problem+json" not in response.headers.get(
            "content-type", ""):
        raise NotARegistry(response)
    RegistryRefused.check(response)
    try:
        return msgspec.json.decode(response.content, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise NotARegistry(response) from exc


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
        return read_answer(self._http.request(method, path, content=content), kind)

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

    def revoke_device(self, device_id: str) -> dict[str, Any]:
        """Revoke a device's credentials (and, with them, what it signs from now on)."""
        return self._call("POST", f"/v1/admin/devices/{device_id}/revoke", dict[str, Any])

    def protocol(self, protocol_id: str) -> ProtocolRecord:
        """The registry's copy of a protocol."""
        return self._call("GET", f"/v1/protocols/{protocol_id}", ProtocolRecord)
