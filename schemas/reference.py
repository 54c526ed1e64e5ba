"""Reference data the registry owns and devices receive: inspectors and their assignments."""

from __future__ import annotations

import msgspec

__all__ = ["Assignment", "Inspector"]


class Inspector(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A state inspector: the person who fills and signs protocols."""

    id: str
    full_name: str
    region: str = ""
    suspended: bool = False


class Assignment(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An inspection given to a team: its protocols are visible to every team member's device."""

    id: str
    title: str
    inspectors: tuple[str, ...]
    starts_on: str = ""
    """First day, ``YYYY-MM-DD`` (empty: open)."""
    ends_on: str = ""
    """Last day, ``YYYY-MM-DD`` (empty: open)."""
