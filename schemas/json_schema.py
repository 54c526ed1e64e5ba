"""JSON Schema of every public message, for tablet apps written in other languages."""

from __future__ import annotations

from pathlib import Path

import msgspec

from schemas.documents import Protocol
from schemas.operations import Op
from schemas.reference import Assignment, Inspector
from schemas.signing import SignedProtocol, TrustList
from schemas.templates import Template
from schemas.wire import (
    EnrollmentCode,
    EnrollRequest,
    EnrollResponse,
    InspectorCreate,
    Problem,
    ProtocolRecord,
    PullResponse,
    PushRequest,
    PushResponse,
)

__all__ = ["EXPORTED", "export_json_schemas"]

EXPORTED: tuple[type, ...] = (
    Assignment,
    EnrollRequest,
    EnrollResponse,
    EnrollmentCode,
    Inspector,
    InspectorCreate,
    Op,
    Problem,
    Protocol,
    ProtocolRecord,
    PullResponse,
    PushRequest,
    PushResponse,
    SignedProtocol,
    Template,
    TrustList,
)


def export_json_schemas(folder: Path) -> list[Path]:
    """Write ``<Name>.schema.json`` for each exported type into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in EXPORTED:
        schema = msgspec.json.schema(kind)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path = folder / f"{kind.__name__}.schema.json"
        path.write_bytes(msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n")
        written.append(path)
    return written
