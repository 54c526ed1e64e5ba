"""Editing one protocol: changes are checked against its template as they are made, and
``save()`` writes them to the tablet's file in one durable transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec

from client_lib.attach import Attached
from client_lib.blobs import Source
from field_sync import FieldPath, Form, InvalidOperation, parse_path
from field_sync.paths import DELETED, META_FIELDS
from schemas import Field, Op
from schemas.signing import LocationFix

__all__ = ["Attach", "ProtocolEditor"]

Stage = Callable[[str, Any], Op]
"""Makes an op for ``(path, value)`` on the edited protocol, checked, with a fresh stamp."""
Attach = Callable[[Source, Field, LocationFix | None], Attached]
"""Keeps a file as evidence for a field of the edited protocol (``client_lib.attach``)."""


class ProtocolEditor:
    """Changes to one protocol, saved together. Use as a context manager to save on success.

    Every method raises ``field_sync.InvalidOperation`` for a value the template refuses, and
    then nothing of that call is staged.
    """

    def __init__(self, protocol_id: str, form: Form, stage: Stage,
                 save: Callable[[list[Op]], None], attach: Attach | None = None) -> None:
        self.protocol_id = protocol_id
        self._form = form
        self._stage = stage
        self._save = save
        self._attach = attach
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

    def attach(self, source: Source, field: str, *,
               location: LocationFix | None = None) -> Attached:
        """Attach a file as evidence to an attachment field: ``field`` is its path
        (``premises_photo``, or ``instruments/<row uuid>/label_photo``), ``source`` the file's
        bytes, a path, or an open binary file. The file is kept on the tablet under its SHA-256
        and the field set to its hash, size, media type, capture time and place (from the
        photo's EXIF data, else from the tablet's clock and ``location``, the fix the app took).

        Raises ``client_lib.AttachmentRefused`` for a file that cannot be this field's
        evidence; the returned ``Attached.warnings`` say what the inspector should check (a
        capture time far from now)."""
        path = parse_path(field)
        if not isinstance(path, FieldPath) or self._attach is None:
            raise InvalidOperation(f"{field!r} is not an attachment field", code="bad_path")
        spec = self._form.field(path)
        if spec.type != "attachment":
            raise InvalidOperation(f"{field} is a {spec.type} field, not an attachment",
                                   code="not_an_attachment")
        attached = self._attach(source, spec, location)
        self._staged.append(self._stage(field, msgspec.to_builtins(attached.attachment)))
        return attached

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
