"""The shape a value must have to be written to a field of a given type.

Shape is checked on every op (a wrong type never enters a replica); completeness, such as
required fields and patterns, only when a protocol is checked as a whole, because a draft is
allowed to be half-typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Any

from field_sync.errors import InvalidOperation
from field_sync.paths import is_uuid
from schemas.templates import Field

__all__ = ["DECIMAL", "check_value", "value_check"]

DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_TEXT = 10_000


def _bad(field: Field, why: str) -> InvalidOperation:
    return InvalidOperation(f"{field.name}: {why}", code="bad_value")


def _text(field: Field, value: Any) -> None:
    if not isinstance(value, str):
        raise _bad(field, "expected text")
    limit = field.max_length or MAX_TEXT
    if len(value) > limit:
        raise _bad(field, f"longer than {limit} characters")


def _decimal(field: Field, value: Any) -> None:
    if not isinstance(value, str) or not DECIMAL.fullmatch(value):
        raise _bad(field, f"expected a decimal written as a string, such as '12.50', not {value!r}")
    if field.scale is not None and "." in value and len(value.split(".")[1]) > field.scale:
        raise _bad(field, f"more than {field.scale} digits after the point")


def _integer(field: Field, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(field, "expected an integer")


def _boolean(field: Field, value: Any) -> None:
    if not isinstance(value, bool):
        raise _bad(field, "expected true or false")


def _date(field: Field, value: Any) -> None:
    # fromisoformat alone also reads week dates ("2024-W23-1"); the form is YYYY-MM-DD only
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _bad(field, f"expected a date YYYY-MM-DD, not {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise _bad(field, f"{value!r} is not a day of the calendar") from None


def _datetime(field: Field, value: Any) -> None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _bad(field, f"expected an ISO 8601 date and time, not {value!r}") from None
    if parsed.tzinfo is None:
        raise _bad(field, "the time needs its UTC offset, such as +05:00")


def _choice(field: Field, value: Any) -> None:
    allowed = [option.value for option in field.options]
    if value not in allowed:
        raise _bad(field, f"expected one of {', '.join(allowed)}, not {value!r}")


def _row(field: Field, value: Any) -> None:
    if not is_uuid(value):
        raise _bad(field, f"expected the UUID of a row of {field.collection}")


_CHECKS: dict[str, Callable[[Field, Any], None]] = {
    "text": _text,
    "decimal": _decimal,
    "integer": _integer,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "choice": _choice,
    "row": _row,
}


def check_value(field: Field, value: Any) -> None:
    """Raise ``InvalidOperation`` unless ``value`` may be written to ``field`` (null clears)."""
    if field.computed is not None:
        raise InvalidOperation(f"{field.name} is computed and cannot be typed",
                               code="computed_field")
    if value is not None:
        _CHECKS[field.type](field, value)


def value_check(field: Field) -> Callable[[Any], None]:
    """``check_value`` for one field, its type looked up once (a form checks every op's
    fields with these)."""
    if field.computed is not None:
        return partial(check_value, field)
    shape = _CHECKS[field.type]

    def check(value: Any) -> None:
        if value is not None:
            shape(field, value)

    return check
