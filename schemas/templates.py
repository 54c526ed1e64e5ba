"""Protocol templates: versioned, data-defined forms.

TRIS issues some forty kinds of documents; adding one must not need a release, so a template is
data (a JSON file or a row the registry serves), never code. A template has top-level *fields*
and *collections*; a collection is a list of rows keyed by UUIDs made on the device, and each row
has fields of its own. Paths address values: ``conclusion`` is a field, and
``instruments/<row uuid>/serial`` is a field of a row.

A computed field is derived from other fields of the same row by a named formula from a small,
fixed vocabulary (see ``field_sync.computed``): templates stay data, and nobody can smuggle code
into a form.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.attachments import MediaType

__all__ = [
    "LANGUAGES",
    "Collection",
    "Computation",
    "Field",
    "FieldType",
    "Label",
    "Option",
    "Template",
]

LANGUAGES: tuple[str, ...] = ("uz-Latn", "uz-Cyrl", "ru", "en")
"""The languages every label carries, in the order a screen falls back through them."""

FieldType = Literal["text", "decimal", "integer", "boolean", "date", "datetime", "choice", "row",
                    "attachment"]
"""What a field holds on the wire.

``decimal`` values travel as strings (``"12.345"``): measured values are never floats, so that a
document hashes the same on every platform. ``date`` is ``YYYY-MM-DD``; ``datetime`` is ISO 8601
with an offset. ``row`` names a row of another collection of the same protocol by its UUID.
``attachment`` names an evidence file by its hash (``schemas.attachments.Attachment``): a photo
of the instrument's seal, of a sample, of the premises.
"""


class Label(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A human text in the four languages of the registry."""

    uz_latn: str = msgspec.field(name="uz-Latn")
    uz_cyrl: str = msgspec.field(name="uz-Cyrl")
    ru: str
    en: str

    def text(self, language: str) -> str:
        """The label in ``language`` (a tag such as ``ru`` or ``uz-Cyrl``), English otherwise."""
        by_tag = {"uz-Latn": self.uz_latn, "uz": self.uz_latn, "uz-Cyrl": self.uz_cyrl,
                  "ru": self.ru, "en": self.en}
        return by_tag.get(language, self.en)


class Option(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One allowed value of a ``choice`` field."""

    value: str
    label: Label


class Computation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A named formula over sibling fields: ``difference(indication, nominal)``."""

    formula: Literal["difference", "within"]
    args: tuple[str, ...]


class Field(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One field of a template or of a collection's rows."""

    name: str
    type: FieldType
    label: Label
    required: bool = False
    max_length: int | None = None
    pattern: str | None = None
    minimum: str | None = None
    """Lower bound, as a decimal or integer string, inclusive."""
    maximum: str | None = None
    """Upper bound, as a decimal or integer string, inclusive."""
    scale: int | None = None
    """Most digits after the decimal point a ``decimal`` may carry."""
    unit: str | None = None
    options: tuple[Option, ...] = ()
    """The allowed values of a ``choice`` field."""
    collection: str | None = None
    """For a ``row`` field: the collection whose row it names."""
    computed: Computation | None = None
    """Set for a value the registry computes; nobody may type it."""
    media_types: tuple[MediaType, ...] = ()
    """For an ``attachment`` field: the media types it takes (empty: every one of
    ``schemas.attachments.MEDIA_TYPES``)."""
    max_bytes: int | None = None
    """For an ``attachment`` field: the largest file it takes, in bytes. ``required`` on an
    attachment field means the protocol cannot be signed without the file (rule 7)."""


class Collection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A list of rows, each a map of fields, keyed by a UUID made on the device."""

    name: str
    label: Label
    fields: tuple[Field, ...]
    min_rows: int = 0
    max_rows: int = 500


class Template(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A versioned protocol form. ``ref`` (``id@version``) names it in documents."""

    id: str
    version: int
    kind: str
    """The document kind, e.g. ``metrology_supervision``."""
    code: str
    """A short code of the kind, printed in the QR seal (``MSP``); a few letters keep it small."""
    title: Label
    fields: tuple[Field, ...]
    collections: tuple[Collection, ...] = ()

    @property
    def ref(self) -> str:
        """The name documents use for this template: ``id@version``."""
        return f"{self.id}@{self.version}"
