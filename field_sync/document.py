"""The printed protocol: the paper the inspected business keeps, and the file an inspector sends.

``render_pdf`` lays a protocol out as an A4 PDF in the reader's language: the agency's header;
the number and registry number (once registered); the kind; every field of the template, in its
order, with its label (date and place, the entity by name and STIR, the basis, the lead
inspector); every collection as a table (the inspection team, the working standards, the
instruments inspected, every measurement with its error against the MPE and pass or fail);
the evidence (every attached photo as its thumbnail, with when it was taken and how far from
the site: ``field_sync.printed_evidence``); the findings and the conclusion; the signer,
signing time, confirmation method and place; and the QR seal, 52 mm across, with the
verification address under it.

It reads only what it is given, never the clock: the tablet (offline, right after signing) and
the registry write the same bytes for the same protocol and language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from field_sync.evidence import read_attachment
from field_sync.i18n import SITE_ZONE, Catalog, local_date, local_datetime
from field_sync.pdf_page import MUTED, NAVY, ProtocolPage
from field_sync.printed_evidence import Exhibit, evidence_section, exhibit_name, exhibits
from schemas.documents import Protocol, Row
from schemas.reference import Site
from schemas.signing import BiometricConfirmation, SignedProtocol
from schemas.templates import Collection, Field, Template
from schemas.wire import TeamMember

__all__ = ["MESSAGES", "Person", "PrintedProtocol", "printed_protocol", "render_pdf"]

MESSAGES = Catalog.from_package("field_sync")
"""The printed protocol's words, and the agency's name, in every language."""

PERSON_FIELDS = frozenset({"lead_inspector", "inspector_id"})
"""Fields that name an inspector by id: printed as the person."""
_CLOSING = ("findings", "conclusion")
_QR_MM = 52.0
_UNSIGNED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class Person(NamedTuple):
    """An inspector as the reference data names them."""

    name: str
    position: str = ""


@dataclass(frozen=True)
class PrintedProtocol:
    """Everything the printed protocol shows; both sides build it from what they hold."""

    protocol: Protocol
    template: Template
    signed: SignedProtocol | None = None
    registry_number: str = ""
    people: Mapping[str, Person] = field(default_factory=dict)
    """Inspectors by id, for the team, the lead inspector and the signer."""
    verification_address: str = ""
    """Where a reader checks by number (``<public address>/check``)."""
    zone: str = SITE_ZONE
    site: Site | None = None
    """The site of the protocol's assignment: how far from it each photo was taken."""
    thumbnails: Mapping[str, bytes] = field(default_factory=dict)
    """The thumbnail (``field_sync.thumbnails``) of each photo at hand, by its SHA-256."""


def printed_protocol(protocol: Protocol, template: Template, signed: SignedProtocol | None,
                     registry_number: str, team: Iterable[TeamMember], site: Site | None = None,
                     thumbnails: Mapping[str, bytes] | None = None) -> PrintedProtocol:
    """What a tablet and the registry print of a protocol, from what both hold: the protocol,
    its signature, its registry number once registered, the team of its assignment (the
    names a device pulls with it), its site and the thumbnails of its photos. Same inputs,
    same bytes."""
    return PrintedProtocol(protocol, template, signed, registry_number,
                           {member.id: Person(member.full_name, member.position)
                            for member in team}, site=site, thumbnails=thumbnails or {})


class _Words:
    """One protocol's values as text in one language."""

    def __init__(self, printed: PrintedProtocol, lang: str) -> None:
        self.printed, self.lang = printed, lang
        self.exhibits = exhibits(printed.template, printed.protocol, lang)
        self._by_hash: dict[str, Exhibit] = {}
        for exhibit in self.exhibits:
            self._by_hash.setdefault(exhibit.attachment.sha256, exhibit)

    def __call__(self, key: str, **arguments: Any) -> str:
        return MESSAGES.text(self.lang, key, **arguments)

    def person(self, inspector_id: str) -> str:
        known = self.printed.people.get(inspector_id)
        if known is None:
            return inspector_id
        position = f", {known.position}" if known.position else ""
        return f"{known.name}{position} ({inspector_id})"

    def value(self, spec: Field, value: Any, rows: Mapping[str, Row] | None = None) -> str:
        """A field's value as a reader sees it."""
        if value is None or value == "":
            return "—"
        if spec.name in PERSON_FIELDS:
            return self.person(str(value))
        if spec.type == "attachment":
            attachment = read_attachment(value)
            exhibit = self._by_hash.get(attachment.sha256) if attachment else None
            return exhibit_name(self, exhibit) if exhibit else "—"
        if spec.type == "boolean":
            yes, no = ("doc.pass", "doc.fail") if spec.computed else ("doc.yes", "doc.no")
            return self(yes if value else no)
        if spec.type == "choice":
            label = next((o.label for o in spec.options if o.value == value), None)
            return label.text(self.lang) if label else str(value)
        if spec.type == "date":
            return local_date(str(value), self.lang)
        if spec.type == "datetime":
            return local_datetime(str(value), self.lang, self.printed.zone)
        if spec.type == "row" and rows is not None:
            named = rows.get(str(value), {})
            return " ".join(str(named[key]) for key in ("type", "serial") if named.get(key)) \
                or str(value)
        return f"{value} {spec.unit}" if spec.unit and spec.type != "row" else str(value)


def _header(page: ProtocolPage, printed: PrintedProtocol, words: _Words) -> None:
    page.text_line(words("agency.name"), 10.5, "B", "C", NAVY, 5.5)
    page.text_line(words("doc.registry"), 8.5, "", "C", MUTED, 4.5)
    page.set_draw_color(*NAVY)
    page.set_line_width(0.6)
    page.line(page.l_margin, page.get_y() + 2, page.w - page.r_margin, page.get_y() + 2)
    page.set_line_width(0.2)
    page.ln(6)
    page.text_line(printed.template.title.text(words.lang), 14, "B", "C", height=7)
    number = str(printed.protocol.fields.get("number", ""))
    page.text_line(words("doc.number", number=number), 11, "B", "C", height=6)
    registered = words("doc.registry_number", number=printed.registry_number) \
        if printed.registry_number else words("doc.not_registered")
    page.text_line(registered, 9, "", "C", MUTED, 5)
    if printed.protocol.supersedes:
        page.text_line(words("doc.corrects", id=printed.protocol.supersedes), 8, "", "C",
                       MUTED, 4.5)


def _details(page: ProtocolPage, printed: PrintedProtocol, words: _Words) -> None:
    fields = printed.protocol.fields
    rows = [(spec.label.text(words.lang), words.value(spec, fields.get(spec.name)))
            for spec in printed.template.fields
            if spec.name not in (*_CLOSING, "number") and fields.get(spec.name) not in (None, "")]
    page.heading(words("doc.section.details"))
    page.facts(rows)


def _order(text: str, numeric: bool) -> tuple[int, Decimal | str]:
    """How a table's rows are ordered: by their cells as printed, numbers as numbers (the
    rows' ids, made on tablets at random, only settle ties)."""
    if numeric:
        try:
            return (0, Decimal(text.split(" ")[0]))
        except InvalidOperation:
            pass
    return (1, text)


def _collection(page: ProtocolPage, printed: PrintedProtocol, words: _Words,
                spec: Collection) -> None:
    rows = printed.protocol.collections.get(spec.name, {})
    if not rows:
        return
    page.heading(spec.label.text(words.lang))
    # a row field names a row of another collection: look it up there
    referred = {name: row for collection in printed.protocol.collections.values()
                for name, row in collection.items()}
    numeric = [f.type in ("decimal", "integer") for f in spec.fields]
    table = sorted(([words.value(f, row.get(f.name), referred) for f in spec.fields], row_id)
                   for row_id, row in rows.items())
    table.sort(key=lambda entry: [_order(text, right) for text, right in
                                  zip(entry[0], numeric, strict=True)])
    widths = [1.0 if right or f.type in ("boolean", "date") else 1.6
              for f, right in zip(spec.fields, numeric, strict=True)]
    headings = [f.label.text(words.lang) + (f", {f.unit}" if f.unit else "")
                for f in spec.fields]
    page.grid(headings, [cells for cells, _ in table], widths, numeric)


def _closing(page: ProtocolPage, printed: PrintedProtocol, words: _Words) -> None:
    specs = {spec.name: spec for spec in printed.template.fields if spec.name in _CLOSING}
    if not specs:
        return
    page.heading(words("doc.section.findings"))
    for name in _CLOSING:
        spec = specs.get(name)
        if spec is None:
            continue
        page.text_line(spec.label.text(words.lang), 8.5, "B", colour=MUTED, height=4.8)
        bold = "B" if name == "conclusion" else ""
        page.text_line(words.value(spec, printed.protocol.fields.get(name)), 10, bold,
                       height=5.2)
        page.ln(1.5)


def _signature(page: ProtocolPage, printed: PrintedProtocol, words: _Words) -> None:
    if page.get_y() > page.h - 18 - 125:  # the signature and the seal stay together
        page.add_page()
    page.heading(words("doc.section.signature"))
    signed = printed.signed
    if signed is None:
        page.text_line(words("doc.unsigned"), 10, "B")
        return
    statement = signed.statement
    method = "biometric" if isinstance(statement.confirmation, BiometricConfirmation) \
        else "totp"
    rows = [(words("doc.signed_by"), words.person(statement.signer)),
            (words("doc.signed_at"),
             local_datetime(statement.signed_at_ms, words.lang, printed.zone)),
            (words("doc.confirmation"), words(f"doc.confirmation.{method}"))]
    if statement.location is not None:
        fix = statement.location
        rows.append((words("doc.location"), words("doc.location_value", lat=fix.lat,
                                                    lon=fix.lon, accuracy=fix.accuracy_m)))
    rows += [(words("doc.key"), statement.kid),
             (words("doc.content_hash"), statement.content_hash)]
    page.facts(rows)
    _seal(page, printed, words, signed.seal)


def _seal(page: ProtocolPage, printed: PrintedProtocol, words: _Words, seal: str) -> None:
    top = page.get_y() + 2
    page.qr(seal, page.l_margin, top, _QR_MM)
    beside = page.l_margin + _QR_MM + 4
    page.set_y(top + 4)
    page.text_line(words("doc.seal"), 9, "B", height=5, left=beside)
    address = printed.verification_address or seal[:seal.find("/V/")].lower() + "/check"
    page.text_line(words("doc.verify_hint", address=address,
                         number=printed.protocol.fields.get("number", ""),
                         stir=printed.protocol.fields.get("entity_tin", "")),
                   8.5, height=4.4, left=beside)
    page.set_y(top + _QR_MM + 1)
    page.small(seal)


def render_pdf(printed: PrintedProtocol, lang: str) -> bytes:
    """The printed protocol in ``lang`` (``uz-Latn``, ``uz-Cyrl``, ``ru`` or ``en``)."""
    words = _Words(printed, lang)
    signed_at = printed.signed.statement.signed_at_ms if printed.signed else None
    created = dt.datetime.fromtimestamp(signed_at / 1000, dt.UTC) if signed_at else _UNSIGNED
    number = str(printed.protocol.fields.get("number", ""))
    page = ProtocolPage(words("doc.number", number=number), MESSAGES.text(lang, "doc.page"),
                        created)
    page.set_title(f"{printed.template.title.text(lang)} {words('doc.number', number=number)}")
    page.set_lang(lang)
    page.add_page()
    _header(page, printed, words)
    _details(page, printed, words)
    for spec in printed.template.collections:
        _collection(page, printed, words, spec)
    evidence_section(page, words("doc.section.evidence"), words.exhibits, words,
                     printed.thumbnails, printed.site, lang, printed.zone)
    _closing(page, printed, words)
    _signature(page, printed, words)
    return bytes(page.output())
