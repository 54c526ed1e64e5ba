"""Editing one protocol: changes are checked against its template as they are made, and
``save()`` writes them to the tablet's file in one durable transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from field_sync import Form, InvalidOperation
from field_sync.paths import DELETED, META_FIELDS
from schemas import Op

__all__ = ["ProtocolEditor"]

Stage = Callable[[str, Any], Op]
"""Makes an op for ``(path, value)`` on the edited protocol, checked, with a fresh stamp."""


class ProtocolEditor:
    """Changes to one protocol, saved together. Use as a context manager to save on success.

    Every method raises ``field_sync.InvalidOperation`` for a value the template refuses, and
    then nothing of that call is staged.
    """

    def __init__(self, protocol_id: str, form: Form, stage: Stage,
                 save: Callable[[list[Op]], None]) -> None:
        self.protocol_id = protocol_id
        self._form = form
        self._stage = stage
        self._save = save
        self._staged: list[Op] = []

    def create(self, meta: dict[str, Any], fields: dict[str, Any]) -> ProtocolEditor:
        """Stage the op that creates the protocol: its meta fields and the first values of its
        top-level fields, in one op (``Tablet.create_protocol``)."""
        if written := sorted(set(fields) & META_FIELDS):
            raise InvalidOperation(f"{', '.join(written)} cannot be typed", code="bad_path")
        self._staged.append(self._stage("", {**fields, **meta}))
        return self

    def set(self, field: str, value: Any) -> ProtocolEditor:
        """Set a top-level field (``None`` clears it)."""
        if field == "" or field in META_FIELDS:
            raise InvalidOperation(f"{field or 'the protocol root'} cannot be set: a protocol's "
                                   "template, assignment and the protocol it corrects are "
                                   "given when it is created", code="bad_path")
        self._staged.append(self._stage(field, value))
        return self

    def add_row(self, collection: str, values: dict[str, Any]) -> str:
        """Add a row to ``collection``; return its new UUID."""
        row = str(uuid.uuid4())
        self._staged.append(self._stage(f"{collection}/{row}", values))
        return row

    def update_row(self, collection: str, row: str, values: dict[str, Any]) -> ProtocolEditor:
        """Change some fields of a row; the others keep their values."""
        self._staged.append(self._stage(f"{collection}/{row}", values))
        return self

    def remove_row(self, collection: str, row: str) -> ProtocolEditor:
        """Remove a row (a later edit of it by anyone brings it back, see field_sync.merge)."""
        self._staged.append(self._stage(f"{collection}/{row}/{DELETED}", True))
        return self

    @property
    def staged(self) -> int:
        """How many changes wait for ``save()``."""
        return len(self._staged)

    def save(self) -> None:
        """Write the staged changes durably; on return they survive a crash."""
        if self._staged:
            self._save(self._staged)
            self._staged = []

    def discard(self) -> None:
        """Forget the staged changes."""
        self._staged = []

    def __enter__(self) -> ProtocolEditor:
        return self

    def __exit__(self, kind: object, _error: object, _trace: object) -> None:
        if kind is None:
            self.save()
        else:
            self.discard()
