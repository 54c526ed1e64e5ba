"""The core shared by tablet and registry: clock, merge, canonical hash, templates at work.

Pure and fast, and importing nothing but ``schemas``: the same code guides an inspector offline
and rules as the authority on the server.
"""

import logging

from field_sync.canonical import canonical_bytes, content_hash, normalize
from field_sync.computed import apply_computed
from field_sync.errors import ClockError, EncodingError, FieldSyncError, InvalidOperation
from field_sync.forms import Form, Violation, form_of
from field_sync.hlc import HybridLogicalClock, pack, physical_ms, unpack
from field_sync.merge import DocumentState, Register, replay
from field_sync.paths import FieldPath, Written, parse_path, spread

logging.getLogger("field_sync").addHandler(logging.NullHandler())

__all__ = [
    "ClockError",
    "DocumentState",
    "EncodingError",
    "FieldPath",
    "FieldSyncError",
    "Form",
    "HybridLogicalClock",
    "InvalidOperation",
    "Register",
    "Violation",
    "apply_computed",
    "canonical_bytes",
    "content_hash",
    "form_of",
    "normalize",
    "pack",
    "parse_path",
    "physical_ms",
    "replay",
    "spread",
    "Written",
    "unpack",
]
