"""Computed values: a measurement's error and its pass/fail against the MPE.

They are derived, never typed: a template names a formula from this fixed vocabulary and the
sibling fields it reads, and every replica computes the same value with exact decimal
arithmetic. A value is left out while any input is missing or malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Any

from schemas.templates import Field

__all__ = ["FORMULAS", "apply_computed", "decimal_text"]


def decimal_text(value: Decimal) -> str:
    """A decimal as plain digits: no exponent, and no negative zero."""
    if value == 0:
        value = abs(value)
    return format(value, "f")


_EXACT = Context(prec=100)  # a field holds at most 18 + 18 digits: differences never round


def _difference(minuend: Decimal, subtrahend: Decimal) -> str:
    with localcontext(_EXACT):
        return decimal_text(minuend - subtrahend)


def _within(error: Decimal, limit: Decimal) -> bool:
    return abs(error) <= limit


FORMULAS: dict[str, Callable[..., Any]] = {"difference": _difference, "within": _within}
"""Formula name to function; every argument arrives as a Decimal."""


def _as_decimal(value: Any) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def apply_computed(fields: tuple[Field, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every computed field of ``fields`` filled in (or left out)."""
    result = {name: value for name, value in values.items()
              if name not in {field.name for field in fields if field.computed}}
    for field in fields:
        if field.computed is None:
            continue
        args = [_as_decimal(result.get(arg)) for arg in field.computed.args]
        if all(arg is not None for arg in args):
            result[field.name] = FORMULAS[field.computed.formula](*args)
    return result
