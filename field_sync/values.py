"""The shape a value must have to be written to a field of a given type.

Shape is checked on every op (a wrong type never enters a replica); completeness, such as
required fields and patterns, only when a protocol is checked as a whole, because a draft is
allowed to be half-typed.

The registry checks every field of every op it merges, so each field's check is made once
(``value_check``), with what it compares against already at hand: one call a value, and for
most types a single test; the reason is worked out only for a bad value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, NamedTuple

import msgspec

from field_sync.errors import InvalidOperation
from field_sync.paths import is_uuid
from field_sync.shapes import ROW_ID, Shape, decimal_shape
from schemas.attachments import MEDIA_TYPES, Attachment
from schemas.templates import Field

__all__ = ["MAX_ATTACHMENT_BYTES", "ValueType", "check_value", "value_check", "value_type"]

_MAX_SCALE = 18


def _scale(field: Field) -> int:
    return _MAX_SCALE if field.scale is None else max(0, min(field.scale, _MAX_SCALE))


_ANY_DECIMAL = decimal_shape(_MAX_SCALE)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_TEXT = 10_000

Check = Callable[[Any], None]
"""Raises ``InvalidOperation`` unless the value may be written to the field (null clears)."""


def _bad(field: Field, why: str) -> InvalidOperation:
    return InvalidOperation(f"{field.name}: {why}", code="bad_value")


def _text(field: Field) -> Check:
    limit = field.max_length or MAX_TEXT

    def check(value: Any) -> None:
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise _bad(field, "expected text" if not isinstance(value, str)
                       else f"longer than {limit} characters")

    return check


def _decimal(field: Field) -> Check:
    # The field's scale in the form, so a good value is one test.
    scale = _scale(field)
    good = decimal_shape(scale).takes_one

    def check(value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not good(value)):
            raise _bad(field, f"more than {scale} digits after the point"
                       if isinstance(value, str) and _ANY_DECIMAL.takes_one(value) else
                       f"expected a decimal written as a string, such as '12.50', not {value!r}")

    return check


def _integer(field: Field) -> Check:
    def check(value: Any) -> None:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise _bad(field, "expected an integer")

    return check


def _boolean(field: Field) -> Check:
    def check(value: Any) -> None:
        if value is not None and not isinstance(value, bool):
            raise _bad(field, "expected true or false")

    return check


def _date(field: Field) -> Check:
    def check(value: Any) -> None:
        if value is None:
            return
        # fromisoformat alone also reads week dates ("2024-W23-1"); the form is YYYY-MM-DD only
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise _bad(field, f"expected a date YYYY-MM-DD, not {value!r}")
        try:
            date.fromisoformat(value)
        except ValueError:
            raise _bad(field, f"{value!r} is not a day of the calendar") from None

    return check


def _datetime(field: Field) -> Check:
    def check(value: Any) -> None:
        if value is None:
            return
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise _bad(field, f"expected an ISO 8601 date and time, not {value!r}") from None
        if parsed.tzinfo is None:
            raise _bad(field, "the time needs its UTC offset, such as +05:00")

    return check


def _choice(field: Field) -> Check:
    allowed = [option.value for option in field.options]
    options = frozenset(allowed)

    def check(value: Any) -> None:
        if value is not None and (not isinstance(value, str) or value not in options):
            raise _bad(field, f"expected one of {', '.join(allowed)}, not {value!r}")

    return check


def _row(field: Field) -> Check:
    def check(value: Any) -> None:
        if value is not None and not is_uuid(value):
            raise _bad(field, f"expected the UUID of a row of {field.collection}")

    return check


MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
"""The largest file an attachment field without its own ``max_bytes`` takes."""


def _attachment_rules(field: Field) -> Check:
    """What a value read as an ``Attachment`` must also meet: the field's media types and size,
    and a capture time with its offset."""
    allowed = field.media_types or MEDIA_TYPES
    limit = field.max_bytes or MAX_ATTACHMENT_BYTES
    taken = _datetime(field)

    def check(value: Any) -> None:
        if value is None:
            return
        attachment = value if isinstance(value, Attachment) else msgspec.convert(value, Attachment)
        if attachment.media_type not in allowed:
            raise _bad(field, f"takes {', '.join(allowed)}, not {attachment.media_type}")
        if attachment.size > limit:
            raise _bad(field, f"takes files of at most {limit} bytes, not {attachment.size}")
        taken(attachment.taken_at)

    return check


def _attachment(field: Field) -> Check:
    rules = _attachment_rules(field)

    def check(value: Any) -> None:
        try:
            rules(value)
        except msgspec.ValidationError as exc:
            raise _bad(field, "expected an attachment [sha256, size, media type, taken at, "
                       f"time source, location]: {exc}") from None

    return check


def _computed(field: Field) -> Check:
    def check(_value: Any) -> None:
        raise InvalidOperation(f"{field.name} is computed and cannot be typed",
                               code="computed_field")

    return check


_CHECKS: dict[str, Callable[[Field], Check]] = {
    "text": _text,
    "decimal": _decimal,
    "integer": _integer,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "choice": _choice,
    "row": _row,
    "attachment": _attachment,
}


def value_check(field: Field) -> Check:
    """The check of values written to ``field`` (a form makes one a field and keeps it)."""
    return _computed(field) if field.computed is not None else _CHECKS[field.type](field)


class ValueType(NamedTuple):
    """What ``value_type`` gives for a field that takes values."""

    kind: Any
    """A msgspec type."""
    check: Callable[[Any], object] | None = None
    """The check still to run on a value the type took."""
    shape: Shape | None = None
    """The form text the type took must have (checked many values at a time)."""


def value_type(field: Field) -> ValueType | None:
    """A msgspec type that, with the check or the form it names for a value it took, takes no
    value ``value_check(field)`` refuses; None for a computed field, which takes nothing.

    A date, or a date and time, is checked by the field's own check (msgspec reads spellings
    that Python's ``fromisoformat`` does not, and takes ``date`` objects as they are); a
    decimal, or a row's id, by its form (``field_sync.shapes``), many values at once: a pattern
    in the type (``msgspec.Meta(pattern=...)``) would cost msgspec some 4,000 instructions a
    value. A whole row's values are then checked in one ``msgspec.convert``, in C. The type may
    refuse a good value that the check takes (an integer past 64 bits): the check decides."""
    if field.computed is not None:
        return None
    if field.type == "text":
        limit = field.max_length or MAX_TEXT  # below 0, as the check: no text at all
        return ValueType(Annotated[str, msgspec.Meta(max_length=limit)] | None
                         if limit >= 0 else None)
    if field.type == "decimal":
        return ValueType(str | None, shape=decimal_shape(_scale(field)))
    if field.type == "choice":
        options = tuple(option.value for option in field.options)
        return ValueType(Literal[options] | None if options else None)
    if field.type == "row":
        return ValueType(str | None, shape=ROW_ID)
    if field.type in ("date", "datetime"):
        return ValueType(str | None, value_check(field))
    if field.type == "attachment":
        return ValueType(Attachment | None, _attachment_rules(field))
    return ValueType(_TYPES[field.type] | None)


_TYPES: dict[str, Any] = {"integer": int, "boolean": bool}
"""Types that take what their check takes (msgspec takes no bool as an integer)."""


def check_value(field: Field, value: Any) -> None:
    """Raise ``InvalidOperation`` unless ``value`` may be written to ``field`` (null clears)."""
    value_check(field)(value)
