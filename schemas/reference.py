"""Reference data the registry owns and devices receive: inspectors, their working standards,
inspected entities and their sites, and assignments. Dates are ``YYYY-MM-DD`` in the site's time
zone; coordinates and lengths are decimal strings, as in all signed data."""

from __future__ import annotations

import msgspec

__all__ = ["Assignment", "Entity", "Inspector", "ReferenceInstrument", "Site"]


class Inspector(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A state inspector: the person who fills and signs protocols."""

    id: str
    full_name: str
    region: str = ""
    suspended: bool = False
    attested_until: str = ""
    """Last day the inspector's attestation is valid (empty: not attested)."""
    position: str = ""
    """The inspector's post (``Bosh inspektor``), as the verification page and the printed
    protocol name it."""


class ReferenceInstrument(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                          omit_defaults=True):
    """A working standard an inspector measures with; it must be in verification to be used."""

    id: str
    type: str
    serial: str
    verified_until: str
    """Last day of its metrological verification (qiyoslash / поверка)."""
    inspector_id: str = ""
    """The inspector it is issued to (empty: shared by the region)."""


class Entity(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An inspected business, by its taxpayer id (STIR)."""

    tin: str
    name: str
    address: str = ""


class Site(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A place of an entity where inspections happen, with its geofence."""

    id: str
    entity_tin: str
    name: str
    lat: str
    lon: str
    radius_m: str
    """The geofence radius, metres."""
    address: str = ""
    time_zone: str = "Asia/Tashkent"
    region: str = ""
    """The region the site lies in (viloyat): a supervisor may be limited to regions."""


class Assignment(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An inspection given to a team: its protocols are visible to every team member's device."""

    id: str
    title: str
    inspectors: tuple[str, ...]
    starts_on: str = ""
    """First day, ``YYYY-MM-DD`` (empty: open)."""
    ends_on: str = ""
    """Last day, ``YYYY-MM-DD`` (empty: open)."""
    site_id: str = ""
    """The site inspected (empty: none fixed, no geofence applies)."""
