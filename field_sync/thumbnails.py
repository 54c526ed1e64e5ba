"""A photo's thumbnail: the same bytes wherever it is made, for the printed protocol (made on
the tablet and in the registry alike) and the registry's console.

The photo is decoded at a reduced scale where its format allows (a JPEG at a power of two),
turned upright by its EXIF orientation, fitted within ``THUMBNAIL_PX`` pixels and written as a
baseline JPEG without metadata (the capture place stays out of a thumbnail).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps

__all__ = ["THUMBNAIL_PX", "thumbnail"]

THUMBNAIL_PX = 480
"""The longest side of a thumbnail, in pixels: sharp at 55 mm on paper at 220 dpi."""
_QUALITY = 80


def thumbnail(source: Path | IO[bytes]) -> bytes:
    """The thumbnail of the photo at ``source`` (a path, or a binary file at its start), as
    JPEG bytes."""
    with Image.open(source) as image:
        image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=_QUALITY)
    return out.getvalue()
