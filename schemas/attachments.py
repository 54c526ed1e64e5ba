"""Attachments: evidence files (photos, scans) a protocol names by their SHA-256, never holds.

An attachment field's value is an ``Attachment``: the file's hash, size and media type, when it
was taken and where. The value is part of the protocol's content, so the signed content hash
covers every attachment's hash, and a file changed by one byte no longer matches the seal. The
bytes travel apart, by their own endpoints (``/v1/blobs/...``), resumably.

On the wire the value is an array, as ops and registers are (``array_like``):

    [sha256, size, media_type, taken_at, time_source, [lat, lon, accuracy_m, source] | null]
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = [
    "MEDIA_TYPES",
    "Attachment",
    "BlobOffsets",
    "BlobQuestion",
    "CaptureFix",
    "CaptureSource",
    "MediaType",
]

MediaType = Literal["image/jpeg", "image/png", "application/pdf"]
"""What an attachment may be: a photo (JPEG or PNG), or a scanned document (PDF)."""

MEDIA_TYPES: tuple[MediaType, ...] = ("image/jpeg", "image/png", "application/pdf")

CaptureSource = Literal["photo", "device"]
"""Where a capture time or place came from: the photo's own EXIF data, or the tablet (its
corrected clock, or the fix the app passed when attaching)."""

Sha256 = Annotated[str, msgspec.Meta(pattern=r"\A[0-9a-f]{64}\Z")]
"""A SHA-256 digest in lower-case hex."""

_Decimal = Annotated[str, msgspec.Meta(pattern=r"\A-?[0-9]{1,3}(?:\.[0-9]{1,9})?\Z",
                                       max_length=16)]
_Accuracy = Annotated[str, msgspec.Meta(pattern=r"\A[0-9]{1,6}(?:\.[0-9]{1,3})?\Z")]


class CaptureFix(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Where a photo was taken: decimal degrees and metres, as strings like every signed
    number."""

    lat: _Decimal
    lon: _Decimal
    accuracy_m: _Accuracy | None
    """Horizontal accuracy when known (EXIF ``GPSHPositioningError``, or the tablet's fix)."""
    source: CaptureSource


class Attachment(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The value of an attachment field."""

    sha256: Sha256
    size: Annotated[int, msgspec.Meta(ge=1, le=2**40)]
    """Bytes."""
    media_type: MediaType
    """Sniffed from the bytes when attached, and again by the registry when they arrive."""
    taken_at: Annotated[str, msgspec.Meta(max_length=40)]
    """ISO 8601 with its UTC offset."""
    time_source: CaptureSource
    location: CaptureFix | None = None
    """Where it was taken, when the photo or the tablet knew."""


class BlobQuestion(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /v1/blobs/missing``: which of these files does the registry lack?"""

    hashes: Annotated[list[Sha256], msgspec.Meta(max_length=1000)]


class BlobOffsets(msgspec.Struct, frozen=True):
    """The answer: each file the registry lacks, with how many of its bytes it has received
    already (an upload resumes there); files it holds are left out."""

    missing: dict[str, int]
