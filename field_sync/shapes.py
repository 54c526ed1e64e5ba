"""Text of a fixed form checked many values at a time: decimals, and rows' UUIDs.

A protocol pushed whole carries some forty such values (a measurement's nominal, indication and
error limit, the instrument it names, each row's id). A regular expression costs some 2,500
instructions a value, mostly the match's own set-up. Here a value's *shape* is the value with
each character class it may hold written as one character of that class (for a decimal ``1-9``
become ``9`` and ``0`` stays; for a UUID every hexadecimal digit becomes ``f``); a value has
the form exactly when its shape matches the same expression written over shapes, since the
mapping keeps every character's class and leaves all others as they are. A batch of values is
joined, translated and split in C, and only its distinct shapes, a handful, go through the
expression: a few hundred instructions a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["ROW_ID", "Shape", "decimal_shape"]

_SEPARATOR = "\n"  # no value of a checked form holds one: a value that does is refused
_KEPT = 4096
"""How many shapes a form remembers (then it starts anew): values come from devices."""


class Shape:
    """Values of one form, checked many at a time.

    Args:
        classes: each class of characters the form is written in, and the one character that
            stands for it in a shape (which must belong to the class).
        pattern: the form, written over shapes.
    """

    def __init__(self, classes: dict[str, str], pattern: str, fixed: str = "") -> None:
        for members, standing in classes.items():
            assert standing in members and _SEPARATOR not in members and members.isascii()
        # Over the values' UTF-8 bytes: a character past ASCII stays bytes no class holds.
        self._table = bytes.maketrans(
            "".join(classes).encode(),
            "".join(standing * len(members) for members, standing in classes.items()).encode())
        self._fullmatch = re.compile(pattern.encode()).fullmatch
        self._known: dict[bytes, bool] = {}
        self._fixed = (fixed + _SEPARATOR).encode() if fixed else b""
        """The one shape of a form that has one (then a batch is one comparison)."""
        assert not fixed or self._fullmatch(fixed.encode())

    def takes(self, values: Iterable[str | None]) -> bool:
        """Whether every one of ``values`` that is text has the form (None: a cleared field,
        which has none to check)."""
        listed = [value for value in values if value is not None]
        if not listed:
            return True
        joined = _SEPARATOR.join(listed)
        if joined.count(_SEPARATOR) != len(listed) - 1:
            return False  # a value held the separator, so it has no form
        shapes = joined.encode().translate(self._table)
        if self._fixed:
            return shapes + self._fixed[-1:] == self._fixed * len(listed)
        known = self._known
        for shape in set(shapes.split(_SEPARATOR.encode())):
            good = known.get(shape)
            if good is None:
                if len(known) >= _KEPT:
                    known.clear()
                good = known[shape] = self._fullmatch(shape) is not None
            if not good:
                return False
        return True

    def takes_one(self, value: str) -> bool:
        """Whether ``value`` (text) has the form."""
        return self.takes([value])


@lru_cache(maxsize=32)
def decimal_shape(scale: int) -> Shape:
    """Decimals written as text, at most 18 digits before the point and ``scale`` after, with
    no leading zero: ``-?(0|[1-9][0-9]{0,17})(\\.[0-9]{1,scale})?``."""
    fraction = rf"(?:\.[09]{{1,{scale}}})?" if scale else ""
    return Shape({"123456789": "9", "0": "0"}, rf"-?(?:0|9[09]{{0,17}}){fraction}")


ROW_ID = Shape({"0123456789abcdef": "f"}, "f{8}-f{4}-f{4}-f{4}-f{12}",
               fixed="ffffffff-ffff-ffff-ffff-ffffffffffff")
"""A UUID in its one canonical spelling, lower case and hyphenated, as rows are named."""
