"""The registry's OpenAPI document, served as JSON at ``/schema`` (and ``/schema/openapi.json``).

The handlers read and write their bodies themselves (``server.sync.wire``: MessagePack or JSON as
the ``Content-Type`` says, plain, gzipped or in Zstandard, and answered as ``Accept`` asks), so
Litestar sees no body type in their signatures. Each handler declares them instead, as its
``operation_class``: ``documented(request=PushRequest, response=PushResponse)``. The schemas
are msgspec's own, as ``field-sync schemas export`` writes them: msgspec knows how its types
travel (an ``array_like`` struct, such as an op, is an array on the wire, which Litestar's
generator would describe as an object) and writes their bounds (``schemas.bounds``).

Errors are problem details (RFC 9457, ``application/problem+json``) with a stable ``code``;
every operation documents them as ``4XX``. Bearer tokens come in three kinds: the
administrator's, a device's, and a supervisor's (``sup.<id>.<secret>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)

from schemas.wire import Problem

__all__ = ["ADMINISTRATOR", "DEVICE", "SUPERVISOR", "SUPERVISOR_OR_ADMINISTRATOR", "Body",
           "documented", "openapi_config"]

MSGPACK, JSON = "application/msgpack", "application/json"
ADMINISTRATOR: list[SecurityRequirement] = [{"administrator": []}]
DEVICE: list[SecurityRequirement] = [{"device": []}]
SUPERVISOR: list[SecurityRequirement] = [{"supervisor": []}]
SUPERVISOR_OR_ADMINISTRATOR: list[SecurityRequirement] = [{"supervisor": []},
                                                          {"administrator": []}]

_SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "administrator": SecurityScheme(
        type="http", scheme="bearer",
        description="The administrator's token (`FIELD_SYNC_ADMIN_TOKEN`, or the file "
                    "`admin-token` in the data directory)."),
    "device": SecurityScheme(
        type="http", scheme="bearer",
        description="An enrolled device's token, `<device id>.<secret>`, from `POST /v1/enroll`."),
    "supervisor": SecurityScheme(
        type="http", scheme="bearer",
        description="A supervisor's token, `sup.<supervisor id>.<secret>`, shown once when "
                    "the administrator appoints the supervisor."),
}

_DESCRIPTION = """\
The central registry of field-sync: tablets push the ops of inspection protocols and pull the
changes in their scope; administrators keep reference data; supervisors query and annul; anyone
verifies a seal.

Bodies are MessagePack (`application/msgpack`, the default) or JSON (`application/json`), as
`Content-Type` says, sent as they are, gzipped or in Zstandard (`Content-Encoding: gzip` or
`zstd`), never inflated past the body limit. Answers come in JSON when `Accept` (else
`Content-Type`) asks for it, MessagePack otherwise, compressed as `Accept-Encoding` asks.
Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`.
"""


@dataclass(frozen=True)
class Body:
    """What a request or response body holds (a msgspec type, or ``str`` for text), in which
    media types."""

    kind: Any
    media: tuple[str, ...] = (MSGPACK, JSON)


_DECLARED: set[Any] = {Problem}
"""Every type a handler declares: msgspec describes them together, naming each struct once."""


@cache
def _described(kinds: frozenset[Any]) -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    ordered = sorted(kinds, key=repr)
    schemas, components = msgspec.json.schema_components(
        ordered, ref_template="#/components/schemas/{name}")
    return dict(zip(ordered, schemas, strict=True)), components


@dataclass
class _MsgspecSchema(Schema):
    """A schema msgspec wrote, rendered as it is."""

    written: dict[str, Any] = field(default_factory=dict)

    def to_schema(self) -> dict[str, Any]:
        return self.written


def _content(body: Body) -> dict[str, OpenAPIMediaType]:
    written = {"type": "string"} if body.kind is str else \
        _described(frozenset(_DECLARED))[0][body.kind]
    return {media: OpenAPIMediaType(schema=_MsgspecSchema(written=written))
            for media in body.media}


def _as_body(declared: Body | Any) -> Body | None:
    if declared is None or isinstance(declared, Body):
        return declared
    return Body(declared)


def _document(operation: Operation, request: Body | None, response: Body | None,
              responses: Mapping[str, tuple[str, Body | None]]) -> None:
    """Put the declared bodies, the problem details and the ``responses`` named by status
    into ``operation``, in place of what Litestar read off the handler's signature."""
    if request is not None:
        operation.request_body = RequestBody(content=_content(request), required=True)
    answers = dict(operation.responses or {})
    answers.pop("400", None)  # Litestar's own shape for a bad parameter; ours is a problem
    for status, answer in answers.items():
        if response is not None and status.startswith("2") and isinstance(answer,
                                                                          OpenAPIResponse):
            answer.content = _content(response)
    answers.update({status: OpenAPIResponse(description=description, content=_content(body)
                                            if body is not None else None)
                    for status, (description, body) in responses.items()})
    answers["4XX"] = OpenAPIResponse(
        description="A problem detail: the request is refused, and nothing changed.",
        content=_content(Body(Problem, ("application/problem+json",))))
    operation.responses = answers


def documented(request: Body | Any = None, response: Body | Any = None,
               responses: Mapping[str, str | tuple[str, Any]] | None = None
               ) -> type[Operation]:
    """The ``operation_class`` of a handler whose bodies ``server.sync.wire`` reads and writes.

    Args:
        request: the type of the request body (or a ``Body`` for other media), if any.
        response: the type of the answer's body on success (or a ``Body``); None keeps what
            Litestar reads off the handler's return type.
        responses: other answers by status, each with its description, or a description
            and the type of its body.
    """
    request_body, response_body = _as_body(request), _as_body(response)
    others = {status: (answer, None) if isinstance(answer, str) else
              (answer[0], _as_body(answer[1])) for status, answer in (responses or {}).items()}
    _DECLARED.update(body.kind for body in (request_body, response_body,
                                            *(body for _, body in others.values()))
                     if body is not None and body.kind is not str)

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            _document(self, request_body, response_body, others)

    return Documented


@dataclass
class _Components(Components):
    """Litestar's components, and the schemas of every declared type's structs."""

    def to_schema(self) -> dict[str, Any]:
        rendered = super().to_schema()
        rendered["schemas"] = {**_described(frozenset(_DECLARED))[1],
                               **rendered.get("schemas", {})}
        return rendered


def openapi_config(version: str) -> OpenAPIConfig:
    """The document's configuration: JSON only (no page that loads scripts from elsewhere)."""
    return OpenAPIConfig(
        title="field-sync registry", version=version, description=_DESCRIPTION,
        path="/schema", render_plugins=[JsonRenderPlugin()], use_handler_docstrings=True,
        components=_Components(security_schemes=dict(_SECURITY_SCHEMES)))
