"""The templates shipped with field-sync, as data files beside this module."""

from __future__ import annotations

from functools import cache
from importlib import resources

import msgspec

from schemas.templates import Template

__all__ = ["builtin_templates"]

_decoder = msgspec.json.Decoder(Template)


@cache
def builtin_templates() -> tuple[Template, ...]:
    """Every built-in template, sorted by reference."""
    folder = resources.files("schemas") / "templates"
    found = [
        _decoder.decode(entry.read_bytes())
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    ]
    return tuple(sorted(found, key=lambda template: template.ref))
