"""QR images of a seal: PNG for print and screens, SVG for documents.

Error correction level Q (25 % of the code may be lost to a fold, a stain or a stamp) and the
alphanumeric mode the seal text is made for.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_Q

__all__ = ["qr_png", "qr_svg", "qr_version"]


def _code(text: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, box_size=6, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code


def qr_version(text: str) -> int:
    """The QR version (1 to 40) ``text`` needs at level Q."""
    version: int = _code(text).version
    return version


def qr_png(text: str) -> bytes:
    """A PNG of the QR code of ``text``."""
    out = io.BytesIO()
    _code(text).make_image().save(out)
    return out.getvalue()


def qr_svg(text: str) -> bytes:
    """An SVG of the QR code of ``text``."""
    out = io.BytesIO()
    _code(text).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return out.getvalue()
