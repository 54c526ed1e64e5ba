"""Evidence files for tests: real JPEGs and PNGs made with Pillow (noise, so they do not
compress to nothing), with EXIF capture time and GPS position when asked, and a small PDF."""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal

from PIL import ExifTags, Image

__all__ = ["PDF", "jpeg", "png", "with_gps"]

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")
"""A PDF as far as its first and last bytes go (the registry parses no further)."""


def _noise(seed: int, width: int, height: int) -> Image.Image:
    return Image.frombytes("RGB", (width, height),
                           random.Random(seed).randbytes(width * height * 3))


def with_gps(lat: Decimal, lon: Decimal, accuracy_m: float | None = None,
             taken_at: dt.datetime | None = None) -> Image.Exif:
    """EXIF data saying where (and when) a photo was taken."""
    exif = Image.Exif()
    camera = exif.get_ifd(ExifTags.IFD.Exif)
    if taken_at is not None:
        camera[ExifTags.Base.DateTimeOriginal] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        if taken_at.tzinfo is not None:
            camera[ExifTags.Base.OffsetTimeOriginal] = taken_at.strftime("%z")[:3] + ":" + \
                taken_at.strftime("%z")[3:]
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    for ref, tag, value, negative in ((ExifTags.GPS.GPSLatitudeRef, ExifTags.GPS.GPSLatitude,
                                       lat, "S"),
                                      (ExifTags.GPS.GPSLongitudeRef, ExifTags.GPS.GPSLongitude,
                                       lon, "W")):
        gps[ref] = negative if value < 0 else ("N" if negative == "S" else "E")
        degrees = abs(value)
        whole = int(degrees)
        minutes = (degrees - whole) * 60
        gps[tag] = (float(whole), float(int(minutes)), float((minutes - int(minutes)) * 60))
    if accuracy_m is not None:
        gps[ExifTags.GPS.GPSHPositioningError] = accuracy_m
    return exif


def jpeg(seed: int = 0, width: int = 320, height: int = 240, exif: Image.Exif | None = None,
         quality: int = 85) -> bytes:
    """A JPEG photo of noise (about 1.2 bytes a pixel at the default quality)."""
    out = io.BytesIO()
    _noise(seed, width, height).save(out, "JPEG", quality=quality,
                                      **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def png(seed: int = 0, width: int = 64, height: int = 48) -> bytes:
    """A PNG image of noise."""
    out = io.BytesIO()
    _noise(seed, width, height).save(out, "PNG")
    return out.getvalue()
