"""Paths into a protocol and how an op's value spreads over them.

A path is ``field``, ``collection/row/field``, or a whole row ``collection/row`` whose value is a
map of its fields. Meta paths begin with ``_``: ``_template``, ``_assignment`` and a row's
``_deleted`` tombstone. The empty path is the protocol itself, whose value is a map of its
top-level fields: the op that creates a protocol writes its meta fields there in one go
(``{"_template": ..., "_assignment": ...}``), so that a registry never sees a protocol without
knowing its form and whose it is, and with them the first values the inspector typed, as a
whole-row op does for a row. A freeze is never part of it: it is an op of its own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection
from functools import lru_cache, partial
from typing import Any, NamedTuple, NoReturn

from field_sync.errors import InvalidOperation

__all__ = [
    "ASSIGNMENT",
    "DELETED",
    "FREEZE",
    "SUPERSEDES",
    "META_FIELDS",
    "TEMPLATE",
    "UUID_FORM",
    "FieldPath",
    "Written",
    "is_field_name",
    "is_uuid",
    "parse_path",
    "spread",
    "written_whole",
]

TEMPLATE = "_template"
ASSIGNMENT = "_assignment"
DELETED = "_deleted"
FREEZE = "_freeze"
SUPERSEDES = "_supersedes"
META_FIELDS = frozenset({TEMPLATE, ASSIGNMENT, SUPERSEDES})

_NAME_FORM = r"_?[a-z][a-z0-9_]{0,63}"
_NAME = re.compile(_NAME_FORM)
_LONGEST_NAME = 65
# What str(uuid.UUID(x)) gives back unchanged: lower-case hex, hyphenated 8-4-4-4-12. Matched
# instead of parsed because every op's row key goes through it.
UUID_FORM = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CANONICAL_UUID = re.compile(UUID_FORM)
# Every good path in one match (``field``, ``collection/row``, ``collection/row/field``): each
# op has one, so a good one costs a single call; a bad one is taken apart to say what is wrong.
_PATH = re.compile(rf"({_NAME_FORM})(?:/({UUID_FORM})(?:/({_NAME_FORM}))?)?")
MAX_PATH = 200


class FieldPath(NamedTuple):
    """A parsed path: ``collection`` and ``row`` are empty for a top-level field."""

    collection: str
    row: str
    field: str

    def __str__(self) -> str:
        return f"{self.collection}/{self.row}/{self.field}" if self.row else self.field


# ``FieldPath(a, b, c)`` runs a generated Python ``__new__``; every op builds a path, so paths
# are made by the C constructor directly: ``_path((collection, row, field))``.
_path: Callable[[tuple[str, str, str]], FieldPath] = partial(tuple.__new__, FieldPath)


class Written(NamedTuple):
    """What one op writes: fields of one row (``collection`` and ``row`` empty for the
    protocol's top level), by name."""

    collection: str
    row: str
    fields: Collection[tuple[str, Any]]
    """The written map's own items, for a whole row or the root (not a copy: never change
    them), or the one field a field's op writes."""

    @property
    def prefix(self) -> str:
        """What the path of each field begins with."""
        return f"{self.collection}/{self.row}/" if self.row else ""


_written: Callable[[tuple[str, str, Collection[tuple[str, Any]]]], Written] = partial(
    tuple.__new__, Written)  # as ``_path``: one an op


def is_field_name(name: str) -> bool:
    """True for a name a path may hold (a field's, or a collection's)."""
    # Longer ones never match, and are not worth remembering: the cache keeps short names only.
    return len(name) <= _LONGEST_NAME and _known_name(name)


@lru_cache(maxsize=4096)
def _known_name(name: str) -> bool:
    # Field names come from a small vocabulary and every op carries several: remember them.
    return _NAME.fullmatch(name) is not None


_GOOD_NAMES: dict[tuple[Any, ...], bool] = {}
"""Combinations of field names found good: a row's fields come in a few, so an op's names are
one lookup, not one a name. Bounded, as the names come from devices."""


def _good_names(names: tuple[Any, ...]) -> bool:
    if names in _GOOD_NAMES:
        return True
    good = all(isinstance(name, str) and is_field_name(name) for name in names)
    if good and len(names) <= 64:
        if len(_GOOD_NAMES) >= 4096:  # full (of junk a device sent, or templates galore): anew
            _GOOD_NAMES.clear()
        _GOOD_NAMES[names] = True
    return good


def _check_name(name: str, path: str) -> str:
    if not is_field_name(name):
        raise InvalidOperation(f"bad name {name!r} in path {path!r}", code="bad_path")
    return name


def is_uuid(value: object) -> bool:
    """True for a UUID in its one canonical spelling (lower case, hyphenated)."""
    return isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is not None


def _check_row(row: str, path: str) -> str:
    if is_uuid(row):
        return row
    try:
        uuid.UUID(row)
    except ValueError:
        raise InvalidOperation(f"row key {row!r} in {path!r} is not a UUID",
                               code="bad_path") from None
    raise InvalidOperation(f"row key {row!r} must be a lower-case UUID", code="bad_path")


def parse_path(path: str) -> FieldPath | tuple[str, str]:
    """A field path, or ``(collection, row)`` for a whole-row path."""
    found = _PATH.fullmatch(path) if isinstance(path, str) else None
    if found is None:
        _refuse_path(path)
    first, row, name = found.groups()
    if row is None:
        return _path(("", "", first))
    return (first, row) if name is None else _path((first, row, name))


def _refuse_path(path: object) -> NoReturn:
    """Say what is wrong with a path ``_PATH`` does not match."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise InvalidOperation(f"bad path {path!r}", code="bad_path")
    parts = path.split("/")
    if len(parts) > 3:
        raise InvalidOperation(f"path {path!r} is too deep", code="bad_path")
    for place, part in enumerate(parts):
        if place == 1:
            _check_row(part, path)
        else:
            _check_name(part, path)
    raise InvalidOperation(f"bad path {path!r}", code="bad_path")  # each part was good alone


def spread(path: str, value: Any) -> Written:
    """Every field an op writes: a whole-row op (or the root) writes each field of its map."""
    if path == "":
        if not isinstance(value, dict) or not value:
            raise InvalidOperation("the protocol's root takes a map of its fields",
                                   code="bad_value")
        if FREEZE in value:
            raise InvalidOperation("a freeze is an op of its own, at _freeze", code="bad_value")
        return _written(("", "", _fields(path, value)))
    parsed = parse_path(path)
    if isinstance(parsed, FieldPath):
        if isinstance(value, dict) and path != FREEZE:  # a freeze carries its vector and hash
            raise InvalidOperation(f"a map may only be written to a whole row, not {path!r}",
                                   code="bad_value")
        return _written((parsed.collection, parsed.row, [(parsed.field, value)]))
    collection, row = parsed
    if not isinstance(value, dict) or not value:
        raise InvalidOperation(f"a whole-row op on {path!r} needs a map of fields",
                               code="bad_value")
    return _written((collection, row, _fields(path, value)))


def written_whole(collection: str, row: str, value: dict[str, Any]) -> Written:
    """What a map written whole to a row (the root: ``collection`` and ``row`` empty) writes,
    for a map whose names are known good (as ``spread``, or a form's row type, checks them)."""
    return _written((collection, row, value.items()))


def _fields(path: str, value: dict[Any, Any]) -> Collection[tuple[str, Any]]:
    """The fields of a map written at ``path`` (a whole row, or the root)."""
    if not _good_names(tuple(value)):
        for name in value:  # find the one to name
            if not isinstance(name, str):
                raise InvalidOperation(f"field names in {path!r} must be strings",
                                       code="bad_path")
            _check_name(name, path)
    for name, field_value in value.items():
        if isinstance(field_value, dict):
            raise InvalidOperation(f"field {name!r} of {path!r} cannot hold a map",
                                   code="bad_value")
    return value.items()
