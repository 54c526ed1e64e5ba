"""Reference data: inspectors, working standards, entities, sites and assignments.

One way in for all of them, row by row, from the admin API and from ``field-sync admin import``:
each record is decoded into its schema, normalized (NFC, Uzbek apostrophes), checked, and
upserted. An unchanged record is left alone, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from field_sync.uzbek import normalize_uzbek
from schemas import Assignment, Inspector
from schemas.reference import Entity, ReferenceInstrument, Site
from server.authority.audit import append as audit
from server.data.clock import now_ms, utcnow
from server.data.database import Database
from server.data.tables import (
    AssignmentMember,
    AssignmentRow,
    InspectorRow,
    ProtocolRow,
    ReferenceRow,
)

__all__ = ["KINDS", "LooseRecord", "RecordRejected", "field_named", "label_of", "protocol_region",
           "upsert"]

_encoder = msgspec.msgpack.Encoder()
_TIN = re.compile(r"^[0-9]{9}$")
# msgspec names the field as "... - at `$.lat`" or "... field `name`"
_FIELD = re.compile(r"at `\$\.([^`\[]+)|field `([^`]+)`")


Loose = str | int | float | bool | None
LooseRecord = dict[str, Loose | list[Loose]]
"""A record as a request or a file gives it, before it is read as its kind (``decode``): a
map of values and lists of values, no deeper (a field is a value; ``inspectors`` a list)."""


def field_named(error: msgspec.ValidationError) -> str:
    """The field a msgspec error names, or empty when it is about the whole record."""
    named = _FIELD.search(str(error))
    return next((group for group in named.groups() if group), "") if named else ""


class RecordRejected(ValueError):
    """A record that cannot be stored: which field, why, and a stable code."""

    def __init__(self, field: str, reason: str, code: str = "invalid_record") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.code = code


def _date(field: str, text: str, required: bool = True) -> None:
    if not text and not required:
        return
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise RecordRejected(field, f"expected a date YYYY-MM-DD, not {text!r}") from None


def _decimal(field: str, text: str, low: Decimal, high: Decimal) -> None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RecordRejected(field, f"expected a decimal, not {text!r}") from None
    if not number.is_finite() or not low <= number <= high:
        raise RecordRejected(field, f"{text} is outside {low}..{high}")


def _check_inspector(record: Inspector) -> None:
    _date("attested_until", record.attested_until, required=False)


def _check_instrument(record: ReferenceInstrument) -> None:
    _date("verified_until", record.verified_until)


def _check_entity(record: Entity) -> None:
    if not _TIN.match(record.tin):
        raise RecordRejected("tin", f"a STIR is nine digits, not {record.tin!r}")


def _check_site(record: Site) -> None:
    try:
        ZoneInfo(record.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecordRejected("time_zone", f"unknown time zone {record.time_zone!r}") from None
    if not _TIN.match(record.entity_tin):
        raise RecordRejected("entity_tin", f"a STIR is nine digits, not {record.entity_tin!r}")
    _decimal("lat", record.lat, Decimal(-90), Decimal(90))
    _decimal("lon", record.lon, Decimal(-180), Decimal(180))
    _decimal("radius_m", record.radius_m, Decimal(1), Decimal(100_000))


def _check_assignment(record: Assignment) -> None:
    _date("starts_on", record.starts_on, required=False)
    _date("ends_on", record.ends_on, required=False)
    if not record.inspectors:
        raise RecordRejected("inspectors", "an assignment needs a team", "invalid_assignment")


@dataclass(frozen=True)
class Kind:
    """One kind of reference record: its schema, key, scope owner and checks."""

    schema: type[Any]
    key: Callable[[Any], str]
    check: Callable[[Any], None]
    owner: Callable[[Any], str] = lambda _record: ""


KINDS: dict[str, Kind] = {
    "inspector": Kind(Inspector, lambda r: r.id, _check_inspector),
    "instrument": Kind(ReferenceInstrument, lambda r: r.id, _check_instrument,
                       lambda r: r.inspector_id),
    "entity": Kind(Entity, lambda r: r.tin, _check_entity),
    "site": Kind(Site, lambda r: r.id, _check_site),
    "assignment": Kind(Assignment, lambda r: r.id, _check_assignment),
}


_KEYS = frozenset({"id", "tin", "entity_tin", "site_id", "inspector_id", "inspectors", "kind",
                   "time_zone"})
"""Fields that name records: kept exactly as given (an id is not Uzbek text)."""


def _normalized(name: str, value: Any) -> Any:
    if name in _KEYS or not isinstance(value, str):
        return value.strip() if isinstance(value, str) else value
    return normalize_uzbek(value.strip())


def decode(kind: str, fields: dict[str, Any]) -> Any:
    """A record of ``kind`` from loose fields (CSV strings or JSON), normalized and checked."""
    spec = KINDS.get(kind)
    if spec is None:
        raise RecordRejected("kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    try:
        record = msgspec.convert({name: _normalized(name, value) for name, value in fields.items()
                                  if value not in ("", None)}, spec.schema, strict=False)
    except msgspec.ValidationError as exc:
        raise RecordRejected(field_named(exc) or "record", str(exc)) from None
    if not spec.key(record):
        raise RecordRejected("id", "every record needs its key")
    spec.check(record)
    return record


def _upsert_inspector(session: Session, record: Inspector, _changed: int) -> bool:
    """Suspension is not reference data: it revokes the inspector's keys, and is changed only
    through the suspend and reinstate endpoints. A record here that would suspend is refused;
    one without it leaves a suspension as it is."""
    row = session.get(InspectorRow, record.id)
    if record.suspended and (row is None or not row.suspended):
        raise RecordRejected("suspended", "an inspector is suspended with POST "
                             f"/v1/admin/inspectors/{record.id}/suspend, which revokes their "
                             "keys", "suspension_by_endpoint")
    if row is None:
        row = InspectorRow(id=record.id, full_name=record.full_name, created_at=utcnow())
    elif (row.full_name, row.region, row.attested_until, row.position) == (
            record.full_name, record.region, record.attested_until, record.position):
        return False
    row.full_name, row.region = record.full_name, record.region
    row.attested_until, row.position = record.attested_until, record.position
    session.add(row)
    return True


def _upsert_assignment(session: Session, record: Assignment, changed: int) -> bool:
    for inspector_id in record.inspectors:
        if session.get(InspectorRow, inspector_id) is None:
            raise RecordRejected("inspectors", f"no inspector {inspector_id!r}",
                                 "unknown_inspector")
    row = session.get(AssignmentRow, record.id)
    team = set(record.inspectors)
    current = {member.inspector_id for member in session.exec(
        select(AssignmentMember).where(AssignmentMember.assignment_id == record.id))}
    fields = (record.title, record.starts_on, record.ends_on, record.site_id)
    if row is not None and current == team and (
            row.title, row.starts_on, row.ends_on, row.site_id) == fields:
        return False
    row = row or AssignmentRow(id=record.id, title="", changed=changed)
    row.title, row.starts_on, row.ends_on, row.site_id = fields
    row.changed = changed
    session.add(row)
    session.flush()
    session.execute(delete(AssignmentMember).where(
        col(AssignmentMember.assignment_id) == record.id,
        col(AssignmentMember.inspector_id).not_in(team)))
    session.add_all([AssignmentMember(assignment_id=record.id, inspector_id=inspector,
                                      added=changed) for inspector in sorted(team - current)])
    return True


def label_of(kind: str, record: Any) -> str:
    """What people search a record by, casefolded (so a search ignores case in every script):
    an entity's or a site's name, an instrument's type and serial."""
    if kind == "instrument":
        return f"{record.type} {record.serial}".strip().casefold()[:300]
    return str(getattr(record, "name", "")).casefold()[:300]


def protocol_region(session: Session, site_id: str, inspector_id: str) -> str:
    """A new protocol's region: its site's, or, with no site or none given for it, that of the
    inspector who made it."""
    site = session.get(ReferenceRow, ("site", site_id)) if site_id else None
    region = msgspec.msgpack.decode(site.body, type=Site).region if site is not None else ""
    if not region:
        inspector = session.get(InspectorRow, inspector_id)
        region = inspector.region if inspector is not None else ""
    return region


def _upsert_reference(session: Session, kind: str, record: Any, changed: int) -> bool:
    spec = KINDS[kind]
    body = _encoder.encode(record)
    row = session.get(ReferenceRow, (kind, spec.key(record)))
    if row is not None and row.body == body:
        return False
    row = row or ReferenceRow(kind=kind, key=spec.key(record), body=b"", changed=changed)
    row.owner, row.body, row.changed = spec.owner(record), body, changed
    row.label = label_of(kind, record)
    session.add(row)
    if kind == "site" and record.region:
        # A site's protocols move with it: a supervisor's reach follows the site's region.
        session.execute(update(ProtocolRow).where(
            col(ProtocolRow.site_id) == record.id, col(ProtocolRow.region) != record.region)
            .values(region=record.region))
    return True


def upsert(session: Session, kind: str, record: Any, changed: int, actor: str = "admin") -> bool:
    """Store ``record`` (and note it in the audit log, done by ``actor``); say whether anything
    changed."""
    if kind == "inspector":
        stored = _upsert_inspector(session, record, changed)
    elif kind == "assignment":
        stored = _upsert_assignment(session, record, changed)
    else:
        stored = _upsert_reference(session, kind, record, changed)
    if stored:
        audit(session, now_ms(), actor, kind, KINDS[kind].key(record),
              msgspec.to_builtins(record), changed)
    return stored


def put_record(database: Database, kind: str, fields: dict[str, Any],
               key: str | None = None, actor: str = "admin") -> tuple[Any, bool]:
    """Decode, check and store one record (whose key must be ``key``, if given)."""
    record = decode(kind, fields)
    if key is not None and KINDS[kind].key(record) != key:
        raise RecordRejected("id", "the record's key differs from the URL's", "id_mismatch")
    with database.write() as session:
        changed = upsert(session, kind, record, Database.next_change(session), actor)
    return record, changed
