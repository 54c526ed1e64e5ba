"""Evidence in a protocol: the attachment fields a template declares, the files a protocol
names in them, and where each was taken against the site.

Rule 7 (``field_sync.rules``) is built from these, and so is the tablet's check when a photo is
attached (``client_lib``), so a photo that would break the rule is refused on the spot, offline,
with the same words the registry would use.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from field_sync.geo import decimal_or_none, distance_m
from schemas.attachments import Attachment
from schemas.documents import Protocol
from schemas.reference import Site
from schemas.templates import Field, Template

__all__ = ["DEFAULT_ALLOWANCE_M", "Evidence", "Placement", "attachments_of", "evidence_of",
           "has_attachment_fields", "outside_site", "placement", "read_attachment"]

DEFAULT_ALLOWANCE_M = Decimal(30)
"""How far past a site's geofence a photo of unknown accuracy still counts as taken there (the
same cap the signing fix's accuracy allowance has)."""


class Evidence(NamedTuple):
    """One attachment slot of a protocol: its path, its field, and the file it names (None
    while empty)."""

    path: str
    """``premises_photo``, or ``instruments/<row uuid>/label_photo`` for a row's."""
    field: Field
    attachment: Attachment | None


class Placement(NamedTuple):
    """Where a photo was taken against the site: its distance from the site's centre, and the
    most the geofence allows a photo of its accuracy."""

    distance_m: Decimal
    allowed_m: Decimal

    @property
    def outside(self) -> bool:
        """Whether even the photo's accuracy cannot bring it inside the geofence."""
        return self.distance_m > self.allowed_m


def has_attachment_fields(template: Template) -> bool:
    """Whether a template declares an attachment field (which a tablet older than attachments
    cannot read)."""
    return any(field.type == "attachment" for field in template.fields) or any(
        field.type == "attachment" for collection in template.collections
        for field in collection.fields)


def read_attachment(value: Any) -> Attachment | None:
    """An attachment field's value as an ``Attachment`` (None for an empty or unreadable one:
    a value the form took always reads)."""
    if value is None:
        return None
    try:
        return msgspec.convert(value, Attachment)
    except msgspec.ValidationError:
        return None


def evidence_of(template: Template, protocol: Protocol) -> Iterator[Evidence]:
    """Every attachment slot of the protocol's fields and of its live rows, in template order
    (rows by id)."""
    for field in template.fields:
        if field.type == "attachment":
            yield Evidence(field.name, field, read_attachment(protocol.fields.get(field.name)))
    for collection in template.collections:
        slots = [field for field in collection.fields if field.type == "attachment"]
        if not slots:
            continue
        for row_id, row in sorted(protocol.collections.get(collection.name, {}).items()):
            for field in slots:
                yield Evidence(f"{collection.name}/{row_id}/{field.name}", field,
                               read_attachment(row.get(field.name)))


def attachments_of(template: Template, protocol: Protocol) -> list[tuple[str, Attachment]]:
    """The files a protocol names, by path."""
    return [(item.path, item.attachment) for item in evidence_of(template, protocol)
            if item.attachment is not None]


def placement(attachment: Attachment, site: Site | None) -> Placement | None:
    """Where ``attachment`` was taken against ``site``; None when either place is unknown."""
    fix = attachment.location
    if site is None or fix is None:
        return None
    numbers = [decimal_or_none(text) for text in (fix.lat, fix.lon, site.lat, site.lon,
                                                  site.radius_m)]
    lat, lon, site_lat, site_lon, radius = numbers
    if lat is None or lon is None or site_lat is None or site_lon is None or radius is None:
        return None
    accuracy = decimal_or_none(fix.accuracy_m)
    allowance = DEFAULT_ALLOWANCE_M if accuracy is None else max(accuracy, DEFAULT_ALLOWANCE_M)
    return Placement(distance_m(site_lat, site_lon, lat, lon), radius + allowance)


def outside_site(attachment: Attachment, site: Site | None) -> Placement | None:
    """The placement of a photo taken away from the site, or None when it was taken there (or
    nobody knows where)."""
    where = placement(attachment, site)
    return where if where is not None and where.outside else None
