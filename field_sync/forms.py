"""Templates put to work: which ops a protocol accepts, and whether a protocol is complete."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import msgspec

from field_sync.errors import InvalidOperation
from field_sync.freeze import parse_freeze
from field_sync.paths import (
    ASSIGNMENT,
    DELETED,
    FREEZE,
    SUPERSEDES,
    TEMPLATE,
    FieldPath,
    Written,
    is_field_name,
    is_uuid,
    parse_path,
    spread,
    written_whole,
)
from field_sync.row_types import RowType
from field_sync.values import ValueType, value_check, value_type
from schemas.documents import Protocol
from schemas.operations import Op
from schemas.templates import Field, Template

__all__ = ["Form", "Violation", "form_of"]


class Violation(msgspec.Struct, frozen=True):
    """Why a protocol is not complete: which path, a stable code, and a sentence."""

    path: str
    code: str
    message: str


class Form:
    """A template indexed for checking ops and protocols."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.fields = {field.name: field for field in template.fields}
        self.collections = {
            collection.name: {field.name: field for field in collection.fields}
            for collection in template.collections
        }
        # The check of each path an op may write, by collection ("" for the protocol's own
        # fields) and name: a typed field's shape, or a meta field's rule (which wins over a
        # template field of the same name).
        self._checks: dict[str, dict[str, Callable[[Any], object]]] = {
            "": {**{name: value_check(field) for name, field in self.fields.items()},
                 TEMPLATE: self._check_template, ASSIGNMENT: _check_assignment,
                 FREEZE: parse_freeze, SUPERSEDES: _check_supersedes},
            **{name: {**{field_name: value_check(field) for field_name, field in fields.items()},
                      DELETED: _check_deleted}
               for name, fields in self.collections.items()},
        }
        # What a map written whole may hold, by collection: the checks above as types, and
        # the meta fields' own checks run after (one map a protocol). A freeze is an op of
        # its own, never a field of the root's map, whatever the template. A collection no
        # path may name has none: nothing is ever written to it.
        root_checks = self._checks[""]
        self._row_types = {
            "": RowType({**_typed(self.fields, leave_out=FREEZE),
                         **{name: ValueType(Any, root_checks[name])
                            for name in (TEMPLATE, ASSIGNMENT, SUPERSEDES)}}),
            **{name: RowType({**_typed(fields), DELETED: ValueType(bool)})
               for name, fields in self.collections.items() if is_field_name(name)},
        }

    def field(self, path: FieldPath) -> Field:
        """The field a path writes, or ``InvalidOperation`` if the template has none there."""
        fields = self._collection(path.collection) if path.collection else self.fields
        found = fields.get(path.field)
        if found is None:
            raise InvalidOperation(f"{self.template.ref} has no field {path}", code="unknown_field")
        return found

    def check_op(self, op: Op) -> Written:
        """Raise ``InvalidOperation`` unless ``op`` may be applied to a protocol of this form;
        return the fields it writes (for ``DocumentState.apply``, which then need not spread
        the op again)."""
        if type(op.value) is dict and op.path != FREEZE:  # a whole row, or the root
            whole = self._whole(op.path, op.value)
            if whole is not None:
                return whole
        written = spread(op.path, op.value)
        checks = self._checks.get(written.collection)
        if checks is None:
            raise _no_collection(self.template.ref, written.collection)
        for name, value in written.fields:
            check = checks.get(name)
            if check is None:
                raise InvalidOperation(f"{self.template.ref} has no field {written.prefix}{name}",
                                       code="unknown_field")
            check(value)
        return written

    def _whole(self, path: str, value: dict[str, Any]) -> Written | None:
        """What a map written whole writes, if its collection's row type takes it; None to
        take the op the long way, which also says what is wrong with it."""
        where = ("", "") if path == "" else parse_path(path)
        if isinstance(where, FieldPath):
            return None  # a field's path with a map: refused the long way
        return self.written_whole(where[0], where[1], value)

    def row_type(self, collection: str) -> RowType | None:
        """What a map written whole to a row of ``collection`` (``""``: the protocol's root)
        may hold; None for a collection the template does not have."""
        return self._row_types.get(collection)

    def written_whole(self, collection: str, row: str, value: dict[str, Any]) -> Written | None:
        """What a map written whole to ``row`` of ``collection`` (both empty: the protocol's
        root) writes, if the collection's row type takes the map as it is: what ``check_op``
        then finds too. None when only the long way (``check_op``) can tell."""
        row_type = self._row_types.get(collection)
        if not value or row_type is None or not row_type.takes(value):
            return None  # an empty map, or anything the type refuses: the long way says why
        return written_whole(collection, row, value)

    def _check_template(self, value: Any) -> None:
        if value != self.template.ref:
            raise InvalidOperation("a protocol's template cannot change", code="template_changed")

    def _collection(self, name: str) -> dict[str, Field]:
        if name not in self.collections:
            raise _no_collection(self.template.ref, name)
        return self.collections[name]

    def violations(self, protocol: Protocol) -> list[Violation]:
        """Everything that keeps ``protocol`` from being complete; empty when it is."""
        found = list(_field_violations(self.template.fields, protocol.fields, ""))
        for collection in self.template.collections:
            rows = protocol.collections.get(collection.name, {})
            if not collection.min_rows <= len(rows) <= collection.max_rows:
                found.append(Violation(
                    collection.name, "row_count",
                    f"{collection.name} needs {collection.min_rows} to {collection.max_rows} rows, "
                    f"has {len(rows)}",
                ))
            for row_id, row in sorted(rows.items()):
                prefix = f"{collection.name}/{row_id}/"
                found.extend(_field_violations(collection.fields, row, prefix))
                found.extend(_dangling_rows(collection.fields, row, prefix, protocol))
        return found


def _field_violations(
    fields: tuple[Field, ...], values: dict[str, Any], prefix: str
) -> Iterable[Violation]:
    for field in fields:
        value = values.get(field.name)
        path = prefix + field.name
        if value is None or value == "":
            # A required attachment missing is rule 7's (field_sync.evidence), not this one's.
            if field.required and field.computed is None and field.type != "attachment":
                yield Violation(path, "required", f"{field.name} is required")
            continue
        if field.pattern and isinstance(value, str) and not re.fullmatch(field.pattern, value):
            yield Violation(path, "pattern", f"{field.name} does not match {field.pattern}")
        if field.type in ("decimal", "integer"):
            number = Decimal(str(value))
            if field.minimum is not None and number < Decimal(field.minimum):
                yield Violation(path, "minimum", f"{field.name} is below {field.minimum}")
            if field.maximum is not None and number > Decimal(field.maximum):
                yield Violation(path, "maximum", f"{field.name} is above {field.maximum}")


def _dangling_rows(
    fields: tuple[Field, ...], row: dict[str, Any], prefix: str, protocol: Protocol
) -> Iterable[Violation]:
    for field in fields:
        target = row.get(field.name)
        if (field.type == "row" and target is not None and field.collection is not None
                and target not in protocol.collections.get(field.collection, {})):
            yield Violation(prefix + field.name, "dangling_row",
                            f"{field.name} names a row of {field.collection} that is not there")


_forms: dict[str, Form] = {}
def _typed(fields: dict[str, Field], leave_out: str = "") -> dict[str, ValueType]:
    """The type of each field that takes a value (a computed one takes none)."""
    return {name: kind for name, field in fields.items()
            if name != leave_out and (kind := value_type(field)) is not None}


def _no_collection(template_ref: str, name: str) -> InvalidOperation:
    return InvalidOperation(f"{template_ref} has no collection {name!r}", code="unknown_field")


def _check_assignment(value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidOperation("_assignment must name an assignment", code="bad_value")


def _check_supersedes(value: Any) -> None:
    if not is_uuid(value):
        raise InvalidOperation("_supersedes names the protocol corrected, by id", code="bad_value")


def _check_deleted(value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidOperation("a row's _deleted must be true or false", code="bad_value")


def form_of(template: Template) -> Form:
    """The form of ``template``, indexed once. Kept by reference, since hashing a whole
    template on every op costs more than checking the op; a different template under a known
    reference (only ever in tests) replaces the kept form."""
    form = _forms.get(template.ref)
    if form is None or (form.template is not template and form.template != template):
        form = _forms[template.ref] = Form(template)
    return form
