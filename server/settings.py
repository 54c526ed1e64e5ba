"""How a configuration field reaches an operator: a flag, an environment variable and its help.

Every field of ``ServerConfig`` is a setting. Its flag and its variable are derived from the
field's name (``public_url``: ``--public-url``, ``FIELD_SYNC_PUBLIC_URL``), its help is the
field's attribute docstring, and its type says how a string becomes its value. So a new setting
is one field with a docstring: ``serve --help``, the environment and the settings reference
page follow from it. ``setting()`` gives a field what cannot be derived: another name, or that
it is a secret.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

__all__ = ["ENV_PREFIX", "Setting", "SettingError", "setting", "settings_of"]

ENV_PREFIX = "FIELD_SYNC_"

_NAME = "field_sync_setting_name"
_SECRET = "field_sync_setting_secret"  # noqa: S105 - a metadata key, not a password
_SHOWN_DEFAULT = "field_sync_setting_shown_default"
_WHAT: dict[type, str] = {int: "a whole number"}


class SettingError(ValueError):
    """A setting's value is not one the registry can run with."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


def setting(default: Any = dataclasses.MISSING, *,
            default_factory: Callable[[], Any] | Any = dataclasses.MISSING, name: str = "",
            secret: bool = False, shown_default: str = "") -> Any:
    """A configuration field with what its name and type cannot say.

    Args:
        default: the value when neither a flag nor the environment gives one.
        default_factory: makes the default instead (for mutable or computed defaults).
        name: the setting's name when it differs from the field's (``db`` for ``db_url``).
        secret: never shown, neither in ``repr`` nor as a default in help.
        shown_default: how the help states a computed default.
    """
    metadata = {_NAME: name, _SECRET: secret, _SHOWN_DEFAULT: shown_default}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, repr=not secret,
                                 metadata=metadata)
    return dataclasses.field(default=default, repr=not secret, metadata=metadata)


@dataclass(frozen=True)
class Setting:
    """One setting of a configuration class, as an operator reaches it."""

    field: str
    """The configuration field it fills."""
    name: str
    """The setting's name, dashed: ``--<name>`` and ``FIELD_SYNC_<NAME>``."""
    help: str
    """What it sets: the field's attribute docstring."""
    kind: type
    """The type of its value (of one item, for a list)."""
    default: Any
    """Its default value (None when computed at start)."""
    shown_default: str
    """Its default as the help states it."""
    choices: tuple[str, ...] = ()
    """The values it takes, when they are few."""
    multiple: bool = False
    """It takes several values (a flag given more than once, a comma-separated variable)."""
    secret: bool = False
    """It is a secret: its value is never shown."""

    @property
    def flag(self) -> str:
        """The command-line flag: ``--public-url``."""
        return f"--{self.name}"

    @property
    def env(self) -> str:
        """The environment variable: ``FIELD_SYNC_PUBLIC_URL``."""
        return ENV_PREFIX + self.name.upper().replace("-", "_")

    def parse(self, text: str) -> Any:
        """The value a string stands for (an environment variable's), or ``SettingError``."""
        if self.multiple:
            return tuple(self.parse_one(item.strip()) for item in text.split(",") if item.strip())
        return self.parse_one(text)

    def parse_one(self, text: str) -> Any:
        if self.choices and text not in self.choices:
            raise SettingError(self.env, f"{text!r} is not one of {', '.join(self.choices)}")
        try:
            return self.kind(text)
        except ValueError as exc:
            raise SettingError(self.env, f"{text!r} is not {_WHAT.get(self.kind, 'valid')}") \
                from exc

    def format(self, value: Any) -> str:
        """A value as an environment variable carries it."""
        return ",".join(map(str, value)) if self.multiple else str(value)


@cache
def _attribute_docs(cls: type) -> dict[str, str]:
    """Each field's attribute docstring (the string right after its annotation), unwrapped."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = next(node for node in tree.body if isinstance(node, ast.ClassDef)).body
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and \
                isinstance(after.value.value, str):
            docs[node.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def _kind(annotation: Any) -> tuple[type, tuple[str, ...], bool]:
    """(item type, choices, multiple) of a field's annotation."""
    if get_origin(annotation) in (typing.Union, types.UnionType):  # X | None: X, or unset
        return _kind(next(arg for arg in get_args(annotation) if arg is not type(None)))
    if get_origin(annotation) is tuple:
        return _kind(get_args(annotation)[0])[0], (), True
    if get_origin(annotation) is typing.Literal:
        return str, tuple(get_args(annotation)), False
    if annotation in (str, int, Path, bool):
        return annotation, (), False
    raise TypeError(f"a setting of type {annotation!r} has no reading from a string")


@cache
def settings_of(cls: type) -> tuple[Setting, ...]:
    """The settings of a configuration dataclass, in the order of its fields."""
    docs = _attribute_docs(cls)
    hints = get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        meta: Mapping[str, Any] = field.metadata
        kind, choices, multiple = _kind(hints[field.name])
        default = None if field.default is dataclasses.MISSING else field.default
        shown = meta.get(_SHOWN_DEFAULT) or ("" if default in (None, "", ()) else
                                               ",".join(map(str, default)) if multiple
                                               else str(default))
        found.append(Setting(
            field=field.name, name=meta.get(_NAME) or field.name.replace("_", "-"),
            help=docs.get(field.name, ""), kind=kind, default=default,
            shown_default="" if meta.get(_SECRET) else shown, choices=choices,
            multiple=multiple, secret=bool(meta.get(_SECRET))))
    return tuple(found)
