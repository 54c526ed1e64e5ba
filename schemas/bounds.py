"""Bounded types for what a request carries, so that a value the registry cannot hold is
refused as it is decoded, with the field named, and never reaches the database.

- Integers fit the registry's signed 64-bit columns (JSON has no limit of its own, and
  MessagePack goes to 2**64 - 1).
- A key (an inspector's, an assignment's, a site's…) fits its 64-character column and holds no
  control character.
- Text holds no NUL, which PostgreSQL text cannot store, and has a length its column takes.
- A day is written ``YYYY-MM-DD`` (whether it exists is checked where it is read).

msgspec checks each of these in C as it decodes, and writes them into the JSON Schema and
the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

__all__ = ["INT64_MAX", "KEY_LENGTH", "KEY_PATTERN", "NO_NUL", "OPTIONAL_KEY_PATTERN", "Day", "Key",
           "Millis", "Name", "OptionalDay", "OptionalKey", "Region", "Regions", "Serial", "Text",
           "Title"]

INT64_MAX = 2**63 - 1
KEY_LENGTH = 64
KEY_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""A key: no control characters (they are invisible in every listing, and PostgreSQL refuses
NUL)."""
OPTIONAL_KEY_PATTERN = r"^[^\x00-\x1f\x7f]*$"
NO_NUL = r"^[^\x00]*$"

Serial = Annotated[int, Meta(ge=0, le=INT64_MAX)]
"""A change number, a sequence number, a count."""
Millis = Annotated[int, Meta(ge=0, le=INT64_MAX,
                             description="Milliseconds since 1970-01-01T00:00:00Z.")]
Key = Annotated[str, Meta(min_length=1, max_length=KEY_LENGTH, pattern=KEY_PATTERN)]
OptionalKey = Annotated[str, Meta(max_length=KEY_LENGTH, pattern=OPTIONAL_KEY_PATTERN)]
"""A key, or empty for none."""
Name = Annotated[str, Meta(max_length=200, pattern=NO_NUL)]
"""A person's or a place's name."""
Region = Annotated[str, Meta(max_length=100, pattern=OPTIONAL_KEY_PATTERN)]
"""A region's name (viloyat): matched exactly, and kept one a line where a supervisor is limited
to regions, so no control character (a line break would make it two)."""
Regions = Annotated[list[Region], Meta(max_length=100)]
"""The regions a supervisor is limited to (the country has fourteen)."""
Title = Annotated[str, Meta(max_length=300, pattern=NO_NUL)]
Text = Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]
"""A line or a paragraph: a title, an address, a reason."""
Day = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                          description="A day, YYYY-MM-DD.")]
OptionalDay = Annotated[str, Meta(pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$",
                                  description="A day, YYYY-MM-DD, or empty for none.")]
