"""QR images of a seal: PNG for print and screens, SVG for documents.

Error correction level Q (25 % of the code may be lost to a fold, a stain or a stamp) and the
alphanumeric mode the seal text is made for. The symbol is made by zxing-cpp (its Zint writer,
in C): a pure-Python encoder spends some 30 ms choosing a seal's mask pattern, zxing-cpp about 1.
"""

from __future__ import annotations

import io
import re

import zxingcpp
from PIL import Image

__all__ = ["qr_png", "qr_svg", "qr_version"]

_SIZE = re.compile(r'<svg width="(\d+)" height="(\d+)"')

MODULE_PX = 6
"""Pixels a module in the PNG (and user units in the SVG): a version 13 seal is 462 across."""


def _symbol(text: str) -> zxingcpp.Barcode:
    return zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")


def qr_version(text: str) -> int:
    """The QR version (1 to 40) ``text`` needs at level Q."""
    modules: int = zxingcpp.write_barcode_to_image(_symbol(text), add_quiet_zones=False).shape[0]
    return (modules - 17) // 4  # version v is 17 + 4v modules across


def qr_png(text: str) -> bytes:
    """A PNG of the QR code of ``text``, with its quiet zone."""
    pixels = zxingcpp.write_barcode_to_image(_symbol(text), scale=MODULE_PX)
    out = io.BytesIO()
    Image.fromarray(pixels).convert("1").save(out, format="PNG")  # grey to 1 bit: a small file
    return out.getvalue()


def qr_svg(text: str) -> bytes:
    """An SVG of the QR code of ``text``, with its quiet zone: a file of its own, or inline in
    a page, where it scales to whatever size the page gives it (its ``viewBox``)."""
    svg = zxingcpp.write_barcode_to_svg(_symbol(text), scale=MODULE_PX)
    # From the <svg> element on (no XML prolog or doctype inside HTML); with no viewBox, a
    # page that sizes the image would crop the code instead of scaling it.
    svg = svg[svg.index("<svg"):]
    size = _SIZE.search(svg)
    assert size is not None, "zxing-cpp's SVG has its width and height"
    width, height = size.groups()
    return svg.replace("<svg ", f'<svg viewBox="0 0 {width} {height}" ', 1).encode()
