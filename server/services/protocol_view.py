"""A protocol whole, as a supervisor reads it: every field under its template's label in the
reader's language, each collection as a table (measurements with their computed error against
the MPE, passed or failed), the signing location against the site's geofence, the signature
(signer, device, key, method, signing time against the time the registry received it), the
seal, the status and its history, the ops held aside with their authors, the corrections
before and after it, and its evidence files."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from sqlmodel import Session, col, select

from field_sync.evidence import read_attachment
from field_sync.geo import decimal_or_none, distance_m
from field_sync.paths import SUPERSEDES
from field_sync.rules import fence_reach
from schemas import Template
from schemas.reference import Site
from schemas.signing import BiometricConfirmation, SignedProtocol
from schemas.templates import Field
from server.data.catalog import TemplateCatalog
from server.data.tables import (
    AnnulmentRow,
    DeviceRow,
    HeldOpRow,
    InspectorRow,
    ProtocolRow,
    ReceiptRow,
    ReferenceRow,
)
from server.services.evidence_view import EvidenceView, evidence_views
from server.services.reach import Reach
from server.services.supervision import StatusEvent, status_history
from server.sync.documents import decode_state

__all__ = ["Cell", "Column", "FieldView", "HeldView", "LinkView", "LocationView",
           "ProtocolView", "SignatureView", "TableView", "protocol_view"]


class FieldView(msgspec.Struct, frozen=True):
    """A value under its label: ``type`` says how to show ``value`` (a choice or a row
    reference comes as the words to show)."""

    name: str
    label: str
    type: str
    value: Any
    unit: str = ""


class Column(msgspec.Struct, frozen=True):
    """A table column: a field of the collection's rows."""

    name: str
    label: str
    type: str
    unit: str = ""
    computed: bool = False


class Cell(msgspec.Struct, frozen=True):
    """A value of a row; ``passed`` marks a pass/fail value (None: not one)."""

    type: str
    value: Any
    passed: bool | None = None


class TableView(msgspec.Struct, frozen=True):
    """A collection: its label, columns and rows."""

    name: str
    label: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]


class LocationView(msgspec.Struct, frozen=True):
    """The signing fix against the site: metres apart, what the geofence allows, inside or
    not. Coordinates as signed (decimal strings)."""

    lat: str
    lon: str
    accuracy_m: str
    at_ms: int
    mock: bool
    site_name: str = ""
    site_lat: str = ""
    site_lon: str = ""
    radius_m: str = ""
    distance_m: Decimal | None = None
    allowed_m: Decimal | None = None

    @property
    def inside(self) -> bool | None:
        """Whether the fix counts as inside the geofence (None: no site to judge by)."""
        if self.distance_m is None or self.allowed_m is None:
            return None
        return self.distance_m <= self.allowed_m


class SignatureView(msgspec.Struct, frozen=True):
    """Who signed, on which device, with which key and confirmation, and when."""

    signer: str
    signer_name: str
    device_id: str
    device_name: str
    kid: str
    method: str
    """``totp`` or ``biometric``."""
    signed_at_ms: int
    received_at_ms: int
    """When the registry received the signature (0 if not known)."""
    seal: str

    @property
    def offline_gap_ms(self) -> int:
        """How long the tablet held the signature before the registry had it."""
        return max(0, self.received_at_ms - self.signed_at_ms) if self.received_at_ms else 0


class HeldView(msgspec.Struct, frozen=True):
    """An op kept aside after signing, with its author."""

    device_id: str
    inspector_id: str
    seq: int
    path: str
    value: Any
    hlc: int


class LinkView(msgspec.Struct, frozen=True):
    """A protocol of the correction chain."""

    id: str
    number: str
    status: str
    registry_number: str
    reachable: bool


class ProtocolView(msgspec.Struct, frozen=True):
    """Everything the console's protocol page shows."""

    id: str
    title: str
    template: str
    status: str
    region: str
    number: str
    registry_number: str
    reasons: tuple[str, ...]
    fields: tuple[FieldView, ...]
    tables: tuple[TableView, ...]
    location: LocationView | None
    signature: SignatureView | None
    history: tuple[StatusEvent, ...]
    held: tuple[HeldView, ...]
    corrects: tuple[LinkView, ...]
    """The protocols this one corrects, nearest first."""
    corrected_by: tuple[LinkView, ...]
    """The corrections of this one, nearest first."""
    annulment_reason: str = ""
    evidence: tuple[EvidenceView, ...] = ()
    """The files it names, in the printed protocol's order."""


def _shown(spec: Field, value: Any, lang: str, rows: dict[str, dict[str, Any]],
           files: dict[str, int]) -> Any:
    """What to show for ``value``: a choice's label, a referenced row's first values, the
    number of an evidence file (as the evidence list and the printed protocol number it)."""
    if spec.type == "attachment":
        attachment = read_attachment(value)
        return f"№ {files[attachment.sha256]}" if attachment is not None and \
            attachment.sha256 in files else value
    if spec.type == "choice":
        return next((option.label.text(lang) for option in spec.options
                     if option.value == value), value)
    if spec.type == "row" and isinstance(value, str):
        row = rows.get(value, {})
        return " ".join(str(row[name]) for name in list(row)[:2]) or value
    return value


def _fields(template: Template, values: dict[str, Any], lang: str,
            files: dict[str, int]) -> tuple[FieldView, ...]:
    return tuple(FieldView(spec.name, spec.label.text(lang), spec.type,
                           _shown(spec, values.get(spec.name), lang, {}, files), spec.unit or "")
                 for spec in template.fields if values.get(spec.name) not in (None, ""))


def _tables(template: Template, collections: dict[str, dict[str, dict[str, Any]]],
            lang: str, files: dict[str, int]) -> tuple[TableView, ...]:
    every_row = {row_id: row for rows in collections.values() for row_id, row in rows.items()}
    tables = []
    for spec in template.collections:
        rows = collections.get(spec.name, {})
        if not rows:
            continue
        columns = tuple(Column(field.name, field.label.text(lang), field.type, field.unit or "",
                               field.computed is not None) for field in spec.fields)
        cells = tuple(tuple(
            Cell(field.type, _shown(field, row.get(field.name), lang, every_row, files),
                 row.get(field.name) if field.computed is not None and field.type == "boolean"
                 else None)
            for field in spec.fields) for row in rows.values())
        tables.append(TableView(spec.name, spec.label.text(lang), columns, cells))
    return tuple(tables)


def _location(session: Session, row: ProtocolRow,
              signed: SignedProtocol | None) -> LocationView | None:
    fix = signed.statement.location if signed is not None else None
    if fix is None:
        return None
    reference = session.get(ReferenceRow, ("site", row.site_id)) if row.site_id else None
    site = msgspec.msgpack.decode(reference.body, type=Site) if reference else None
    view = LocationView(fix.lat, fix.lon, fix.accuracy_m, fix.at_ms, fix.mock)
    numbers = [decimal_or_none(text) for text in (fix.lat, fix.lon, fix.accuracy_m)]
    if site is None:
        return view
    view = msgspec.structs.replace(view, site_name=site.name, site_lat=site.lat,
                                   site_lon=site.lon, radius_m=site.radius_m)
    site_numbers = [decimal_or_none(text) for text in (site.lat, site.lon, site.radius_m)]
    if None in numbers or None in site_numbers:
        return view
    lat, lon, accuracy = (number or Decimal(0) for number in numbers)
    site_lat, site_lon, radius = (number or Decimal(0) for number in site_numbers)
    return msgspec.structs.replace(view, distance_m=distance_m(site_lat, site_lon, lat, lon),
                                   allowed_m=fence_reach(radius, accuracy))


def _signature(session: Session, signed: SignedProtocol | None,
               history: list[StatusEvent]) -> SignatureView | None:
    if signed is None:
        return None
    statement = signed.statement
    signer = session.get(InspectorRow, statement.signer)
    device = session.get(DeviceRow, statement.device_id)
    arrived = next((event.at_ms for event in history
                    if event.status in ("registered", "quarantined")), 0)
    receipt = session.get(ReceiptRow, statement.protocol_id)
    received = arrived or (receipt.registered_at_ms if receipt is not None else 0)
    method = "biometric" if isinstance(statement.confirmation, BiometricConfirmation) \
        else "totp"
    return SignatureView(statement.signer, signer.full_name if signer else "",
                         statement.device_id, device.name if device else "", statement.kid,
                         method, statement.signed_at_ms, received, signed.seal)


def _held(session: Session, protocol_id: str) -> tuple[HeldView, ...]:
    rows = session.exec(select(HeldOpRow).where(col(HeldOpRow.doc) == protocol_id)
                        .order_by(col(HeldOpRow.changed), col(HeldOpRow.seq)))
    owners: dict[str, str] = {}
    held = []
    for op in rows:
        if op.actor not in owners:
            device = session.get(DeviceRow, op.actor)
            owners[op.actor] = device.inspector_id if device else ""
        held.append(HeldView(op.actor, owners[op.actor], op.seq, op.path,
                             msgspec.msgpack.decode(op.value), op.hlc))
    return tuple(held)


def _chain(session: Session, reach: Reach, row: ProtocolRow,
           forward: bool) -> tuple[LinkView, ...]:
    """The corrections after ``row`` (``forward``) or the protocols it corrects, in order."""
    links: list[LinkView] = []
    current: ProtocolRow | None = row
    while current is not None and len(links) < 50:
        next_id = current.superseded_by if forward else \
            decode_state(current).value(SUPERSEDES)
        current = session.get(ProtocolRow, next_id) if isinstance(next_id, str) and next_id \
            else None
        if current is not None:
            links.append(LinkView(current.id, current.number, current.status,
                                  current.registry_number, reach.admits(current.region)))
    return tuple(links)


def protocol_view(session: Session, catalog: TemplateCatalog, reach: Reach, protocol_id: str,
                  lang: str) -> ProtocolView:
    """The protocol within ``reach`` whole, labelled in ``lang``; 404 when out of reach."""
    row = reach.protocol(session.get(ProtocolRow, protocol_id), protocol_id)
    template = catalog.get(session, row.template_ref)
    assert template is not None  # a stored protocol's template is never removed
    state = decode_state(row)
    protocol = state.materialize(template)
    frozen = state.frozen
    signed = frozen.signed if frozen is not None else None
    history = status_history(session, protocol_id)
    annulment = session.get(AnnulmentRow, protocol_id)
    evidence = evidence_views(session, template, protocol, lang)
    files = {view.sha256: view.number for view in evidence}
    return ProtocolView(
        id=row.id, title=template.title.text(lang), template=row.template_ref,
        status=row.status, region=row.region, number=row.number,
        registry_number=row.registry_number, reasons=tuple(row.reasons.splitlines()),
        fields=_fields(template, protocol.fields, lang, files),
        tables=_tables(template, protocol.collections, lang, files),
        location=_location(session, row, signed), signature=_signature(session, signed, history),
        history=tuple(history), held=_held(session, protocol_id),
        corrects=_chain(session, reach, row, forward=False),
        corrected_by=_chain(session, reach, row, forward=True),
        annulment_reason=annulment.reason if annulment is not None else "", evidence=evidence)
