"""Protocols as people see them: the merged state of a document's operations."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Protocol", "Row"]

Row = dict[str, Any]
"""One row of a collection: field name to value, computed values included."""


class Protocol(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A protocol's current content, as merged from its operations.

    ``fields`` holds top-level values; ``collections`` maps a collection name to its live rows
    keyed by row UUID (removed rows are not shown). Computed values are included.
    """

    id: str
    template: str
    assignment: str | None
    fields: dict[str, Any]
    collections: dict[str, dict[str, Row]]
    supersedes: str | None = None
    """The protocol this one corrects (its content, so the correction signs it too)."""
