"""Reference data the registry owns and devices receive: inspectors, their working standards,
inspected entities and their sites, and assignments. Dates are ``YYYY-MM-DD`` in the site's time
zone; coordinates and lengths are decimal strings, as in all signed data. Keys, names and days
are bounded (``schemas.bounds``) to what the registry stores."""

from __future__ import annotations

import msgspec

from schemas.bounds import Day, Key, Name, OptionalDay, OptionalKey, Region, Text, Title

__all__ = ["Assignment", "Entity", "Inspector", "ReferenceInstrument", "Site"]


class Inspector(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A state inspector: the person who fills and signs protocols."""

    id: Key
    full_name: Name
    region: Region = ""
    suspended: bool = False
    attested_until: OptionalDay = ""
    """Last day the inspector's attestation is valid (empty: not attested)."""
    position: Name = ""
    """The inspector's post (``Bosh inspektor``), as the verification page and the printed
    protocol name it."""


class ReferenceInstrument(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                          omit_defaults=True):
    """A working standard an inspector measures with; it must be in verification to be used."""

    id: Key
    type: Name
    serial: Name
    verified_until: Day
    """Last day of its metrological verification (qiyoslash / поверка)."""
    inspector_id: OptionalKey = ""
    """The inspector it is issued to (empty: shared by the region)."""


class Entity(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An inspected business, by its taxpayer id (STIR)."""

    tin: Key
    name: Text
    address: Text = ""


class Site(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A place of an entity where inspections happen, with its geofence."""

    id: Key
    entity_tin: Key
    name: Text
    lat: Name
    lon: Name
    radius_m: Name
    """The geofence radius, metres."""
    address: Text = ""
    time_zone: Name = "Asia/Tashkent"
    region: Region = ""
    """The region the site lies in (viloyat): a supervisor may be limited to regions."""


class Assignment(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An inspection given to a team: its protocols are visible to every team member's device."""

    id: Key
    title: Title
    inspectors: tuple[Key, ...]
    starts_on: OptionalDay = ""
    """First day, ``YYYY-MM-DD`` (empty: open)."""
    ends_on: OptionalDay = ""
    """Last day, ``YYYY-MM-DD`` (empty: open)."""
    site_id: OptionalKey = ""
    """The site inspected (empty: none fixed, no geofence applies)."""
