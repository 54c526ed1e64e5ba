"""The printed protocol's evidence: each attached file numbered, a photo as its thumbnail, with
when it was taken and how far from the site, and where each fact came from.

Three to a row, in the template's order (a row's files by the row's id). A file the renderer
was not given (a teammate's photo not on this tablet; a file the registry awaits) is named, its
place left blank: the bytes match the registry's once the same files are at hand.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import NamedTuple

from field_sync.evidence import evidence_of, placement
from field_sync.i18n import local_datetime
from field_sync.pdf_page import INK, MUTED, RULE, ProtocolPage
from schemas.attachments import Attachment
from schemas.documents import Protocol
from schemas.reference import Site
from schemas.templates import Template

__all__ = ["Exhibit", "evidence_section", "exhibit_name", "exhibits"]

_PER_ROW = 3
_GAP = 4.0
_CAPTION = 3.2
"""Height of a caption line, mm."""


class Exhibit(NamedTuple):
    """One attached file as printed: its number and what it shows."""

    number: int
    label: str
    attachment: Attachment


Words = Callable[..., str]
"""The printed protocol's words in its language: ``words(key, **arguments)``."""


def exhibits(template: Template, protocol: Protocol, lang: str) -> list[Exhibit]:
    """Every file the protocol names, numbered in the template's order: a row's file labelled
    with its field and the row it belongs to (its type and serial)."""
    found: list[Exhibit] = []
    for item in evidence_of(template, protocol):
        if item.attachment is None:
            continue
        label = item.field.label.text(lang)
        collection, _, rest = item.path.partition("/")
        if rest:
            row = protocol.collections.get(collection, {}).get(rest.partition("/")[0], {})
            named = " ".join(str(row[key]) for key in ("type", "serial") if row.get(key))
            label = f"{label}: {named}" if named else label
        found.append(Exhibit(len(found) + 1, label, item.attachment))
    return found


def exhibit_name(words: Words, exhibit: Exhibit) -> str:
    """``Photo 3`` or ``Document 4``: how a field's value and its caption name the file."""
    key = "doc.evidence.file" if exhibit.attachment.media_type == "application/pdf" \
        else "doc.evidence.photo"
    return words(key, number=exhibit.number)


def _caption(words: Words, exhibit: Exhibit, site: Site | None, lang: str,
             zone: str) -> list[str]:
    attachment = exhibit.attachment
    taken = words(f"doc.evidence.taken.{attachment.time_source}",
                  time=local_datetime(attachment.taken_at, lang, zone))
    where = placement(attachment, site)
    place = words("doc.evidence.place_unknown") if where is None or attachment.location is None \
        else words(f"doc.evidence.distance.{attachment.location.source}",
                   distance=f"{where.distance_m:.0f}")
    return [f"{exhibit_name(words, exhibit)}. {exhibit.label}", taken, place,
            f"SHA-256 {attachment.sha256[:16]}…"]


def _picture(page: ProtocolPage, words: Words, attachment: Attachment,
             thumbnails: Mapping[str, bytes], x: float, y: float, width: float,
             height: float) -> None:
    page.set_draw_color(*RULE)
    page.rect(x, y, width, height)
    picture = thumbnails.get(attachment.sha256)
    if picture is None:
        note = words("doc.evidence.pdf", size=f"{max(1, round(attachment.size / 1024))}") \
            if attachment.media_type == "application/pdf" else words("doc.evidence.not_here")
        page.set_font("DejaVu", "", 7)
        page.set_text_color(*MUTED)
        page.text(x + 2, y + height / 2, note[:60])
        return
    page.image(io.BytesIO(picture), x=x, y=y, w=width, h=height, keep_aspect_ratio=True)


def evidence_section(page: ProtocolPage, heading: str, items: list[Exhibit], words: Words,
                     thumbnails: Mapping[str, bytes], site: Site | None, lang: str,
                     zone: str) -> None:
    """Lay the exhibits out under ``heading``, three to a row."""
    if not items:
        return
    page.heading(heading)
    width = (page.epw - _GAP * (_PER_ROW - 1)) / _PER_ROW
    picture_height = width * 0.75
    for start in range(0, len(items), _PER_ROW):
        row = items[start:start + _PER_ROW]
        captions = [_caption(words, exhibit, site, lang, zone) for exhibit in row]
        lines = max(sum(len(page.wrap(line, width, "", 6.5)) for line in caption)
                    for caption in captions)
        needed = picture_height + 1.5 + lines * _CAPTION + _GAP
        if page.get_y() + needed > page.page_break_trigger:
            page.add_page()
        top = page.get_y()
        for place, (exhibit, caption) in enumerate(zip(row, captions, strict=True)):
            x = page.l_margin + place * (width + _GAP)
            _picture(page, words, exhibit.attachment, thumbnails, x, top, width, picture_height)
            page.set_xy(x, top + picture_height + 1.5)
            for number, line in enumerate(caption):
                page.text_line(line, 6.5, "B" if number == 0 else "",
                               colour=MUTED if number else INK, height=_CAPTION,
                               left=x, right=x + width)
        page.set_xy(page.l_margin, top + needed)
