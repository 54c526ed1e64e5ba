"""What an evidence file is, read from its bytes, never from a name or a header.

The tablet runs these when a photo is attached, and the registry again when the bytes arrive:

- ``sniff``: the media type from the file's first bytes (JPEG, PNG or PDF; anything else is
  refused);
- ``check_decodes``: a JPEG or PNG must decode with Pillow (a JPEG at an eighth of its size,
  which still reads every byte of its compressed data; a PNG whole), within a pixel budget, so
  a decompression bomb is refused before it is decoded; a PDF must open with ``%PDF-`` and end
  with ``%%EOF`` (there is no PDF reader among the dependencies; its pages are not parsed);
- ``photo_facts``: the capture time and GPS position from a photo's EXIF data, when it has them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, NamedTuple

from PIL import ExifTags, Image, UnidentifiedImageError

from field_sync.errors import FieldSyncError
from schemas.attachments import MediaType

__all__ = ["MAX_PIXELS", "MediaRefused", "PhotoFacts", "check_decodes", "photo_facts", "sniff"]

MAX_PIXELS = 64_000_000
"""The largest photo decoded (pixels): a 64-megapixel camera's; past it, refused unread."""

_SIGNATURES: tuple[tuple[bytes, MediaType], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
SNIFF_BYTES = 8
"""How many of a file's first bytes ``sniff`` needs."""
_PDF_TAIL = 1024

Source = Path | IO[bytes]


class MediaRefused(FieldSyncError, ValueError):
    """A file that is not what an attachment may be, or not what it says it is. ``code`` is
    ``unknown_media_type``, ``media_type_mismatch`` or ``undecodable``."""

    code = "undecodable"


class PhotoFacts(NamedTuple):
    """What a photo's EXIF data says of where and when it was taken (None where it is silent).
    ``taken_at`` is naive when the photo gives no UTC offset: camera local time."""

    taken_at: dt.datetime | None
    lat: Decimal | None
    lon: Decimal | None
    accuracy_m: Decimal | None


def sniff(head: bytes) -> MediaType:
    """The media type of a file that begins with ``head`` (at least ``SNIFF_BYTES``)."""
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    raise MediaRefused("not a JPEG, PNG or PDF file", code="unknown_media_type")


def _open(source: Source) -> Image.Image:
    try:
        return Image.open(source)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaRefused(f"the image does not open: {exc}") from exc


def check_decodes(source: Source, media_type: MediaType) -> None:
    """Raise ``MediaRefused`` unless the file (a path, or a binary file at its start) is a
    whole file of ``media_type``."""
    if media_type == "application/pdf":
        _check_pdf(source)
        return
    with _open(source) as image:
        expected = "JPEG" if media_type == "image/jpeg" else "PNG"
        if image.format != expected:
            raise MediaRefused(f"a {image.format} image, not {expected}",
                               code="media_type_mismatch")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise MediaRefused(f"{width}×{height} pixels; at most {MAX_PIXELS} are taken")
        if expected == "JPEG":
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        try:
            image.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise MediaRefused(f"the image does not decode: {exc}") from exc


def _check_pdf(source: Source) -> None:
    if isinstance(source, Path):
        with source.open("rb") as file:
            _check_pdf_file(file)
        return
    _check_pdf_file(source)


def _check_pdf_file(file: IO[bytes]) -> None:
    start = file.tell()
    if file.read(5) != b"%PDF-":
        raise MediaRefused("not a PDF file", code="media_type_mismatch")
    size = file.seek(0, 2)
    file.seek(max(start, size - _PDF_TAIL))
    tail = file.read(_PDF_TAIL)
    file.seek(start)
    if b"%%EOF" not in tail:
        raise MediaRefused("the PDF file is cut short (no %%EOF at its end)")


def _degrees(value: Any, ref: Any, negative: str) -> Decimal | None:
    """Degrees, minutes and seconds (EXIF rationals) as signed decimal degrees."""
    try:
        parts = [Fraction(part.numerator, part.denominator) if hasattr(part, "denominator")
                 else Fraction(part) for part in value]
        degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    sign = -1 if str(ref).upper().startswith(negative) else 1
    return (Decimal(degrees.numerator) / Decimal(degrees.denominator) * sign).quantize(
        Decimal("0.0000001"))


def _metres(value: Any) -> Decimal | None:
    try:
        metres = Fraction(value.numerator, value.denominator) if hasattr(value, "denominator") \
            else Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return (Decimal(metres.numerator) / Decimal(metres.denominator)).quantize(Decimal("0.1"))


def _time(text: Any, offset: Any) -> dt.datetime | None:
    try:
        taken = dt.datetime.strptime(str(text).strip(), "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None  # a camera that never had its clock set writes blanks or zeros
    if offset:
        try:
            return taken.replace(tzinfo=dt.datetime.strptime(str(offset), "%z").tzinfo)
        except ValueError:
            pass
    return taken


def photo_facts(source: Source) -> PhotoFacts:
    """The capture time and place a photo's EXIF data gives (a PDF, or a photo without EXIF,
    gives none)."""
    try:
        with Image.open(source) as image:
            exif = image.getexif()
    except (UnidentifiedImageError, OSError, ValueError):
        return PhotoFacts(None, None, None, None)
    camera = exif.get_ifd(ExifTags.IFD.Exif)
    taken = _time(camera.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime),
                  camera.get(ExifTags.Base.OffsetTimeOriginal))
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = lon = accuracy = None
    if ExifTags.GPS.GPSLatitude in gps and ExifTags.GPS.GPSLongitude in gps:
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef),
                       "W")
        if ExifTags.GPS.GPSHPositioningError in gps:
            accuracy = _metres(gps[ExifTags.GPS.GPSHPositioningError])
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = accuracy = None
    return PhotoFacts(taken, lat, lon, accuracy)
