"""Wire and data schemas of field-sync: msgspec Structs, and nothing else.

Everything a tablet, the registry and a verifier exchange is described here, so that an app in
another language can use the JSON Schema export instead of reading Python.
"""

from schemas.builtin import builtin_templates
from schemas.documents import Protocol, Row
from schemas.json_schema import export_json_schemas
from schemas.operations import Op, Register, VersionVector
from schemas.reference import Assignment, Inspector
from schemas.templates import LANGUAGES, Collection, Computation, Field, Label, Option, Template
from schemas.wire import (
    EnrollmentCode,
    EnrollRequest,
    EnrollResponse,
    InspectorCreate,
    OpResult,
    OpStatus,
    Problem,
    ProtocolHead,
    ProtocolPage,
    ProtocolRecord,
    ProtocolResult,
    ProtocolSummary,
    PulledPage,
    PullResponse,
    PushRequest,
    PushResponse,
    WholeOp,
    WholeProtocol,
)

__all__ = [
    "LANGUAGES",
    "Assignment",
    "Collection",
    "Computation",
    "EnrollRequest",
    "EnrollResponse",
    "EnrollmentCode",
    "Field",
    "Inspector",
    "InspectorCreate",
    "Label",
    "Op",
    "OpResult",
    "OpStatus",
    "Option",
    "Problem",
    "Protocol",
    "ProtocolHead",
    "ProtocolPage",
    "ProtocolRecord",
    "ProtocolResult",
    "ProtocolSummary",
    "PulledPage",
    "PullResponse",
    "PushRequest",
    "PushResponse",
    "Register",
    "Row",
    "Template",
    "VersionVector",
    "WholeOp",
    "WholeProtocol",
    "builtin_templates",
    "export_json_schemas",
]
