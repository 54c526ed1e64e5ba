"""The printed protocol's page: an A4 sheet in fpdf2 with the fonts this package ships, and the
pieces a protocol is laid out from (headings, label and value rows, tables, the QR seal).

Nothing here reads the clock or draws a random number: the creation date is the one given and
the file id is a hash of the content, so a tablet and the registry write the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from importlib import resources

import zxingcpp
from fpdf import FPDF
from fpdf.fonts import TTFFont

__all__ = ["INK", "MUTED", "NAVY", "RULE", "ProtocolPage"]

NAVY = (11, 58, 117)
INK = (22, 32, 44)
MUTED = (74, 85, 100)
RULE = (201, 210, 222)
SHADE = (233, 238, 245)
_FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
_PAGES_ALIAS = "~pages~"
_QR_QUIET = 4  # modules of white around the code


class ProtocolPage(FPDF):
    """An A4 document in DejaVu Sans, with a footer naming the protocol and the page.

    Args:
        footer_text: what every page's footer says on its left (the protocol's number).
        page_text: the footer's right, a format with ``{page}`` and ``{pages}``.
        created: the document's creation date (the signing time: never the wall clock).
    """

    def __init__(self, footer_text: str, page_text: str, created: dt.datetime) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        self.page_text = page_text
        self.set_creation_date(created)
        self.set_producer("field-sync")
        self.alias_nb_pages(_PAGES_ALIAS)
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)
        folder = resources.files("field_sync") / "fonts"
        self._advances: dict[str, Mapping[int, float]] = {}
        for style, name in _FONTS.items():
            with resources.as_file(folder / name) as path:
                self.add_font("DejaVu", style, str(path))
            font = self.fonts[f"dejavu{style}"]
            assert isinstance(font, TTFFont)
            self._advances[style] = font.cw  # advance widths by code point, per 1000 em
            # The subset fpdf2 embeds keeps the font's own bounding box: recomputing it would
            # decompile and recompile every glyph kept, a third of the rendering time.
            font.ttfont.recalcBBoxes = False
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)

    def footer(self) -> None:
        """The protocol's number and the page, under a rule."""
        self.set_y(-13)
        self.set_font("DejaVu", "", 7.5)
        self.set_text_color(*MUTED)
        self.cell(self.epw / 2, 5, self.footer_text)
        self.cell(self.epw / 2, 5, self.page_text.format(page=self.page_no(),
                                                         pages=_PAGES_ALIAS), align="R")
        self.set_text_color(*INK)

    def text_line(self, text: str, size: float = 9.5, style: str = "", align: str = "L",
                  colour: Sequence[int] = INK, height: float | None = None,
                  left: float | None = None, right: float | None = None) -> None:
        """A paragraph from ``left`` (the margin) to ``right`` (the right margin),
        left-aligned or centred (``align="C"``)."""
        start = self.l_margin if left is None else left
        width = (self.w - self.r_margin if right is None else right) - start
        leading = height or size * 0.5
        self.set_font("DejaVu", style, size)
        self.set_text_color(*colour)
        y = self.get_y()
        for line in self.wrap(text, width, style, size):
            if y + leading > self.page_break_trigger:
                self.add_page()
                self.set_font("DejaVu", style, size)
                self.set_text_color(*colour)
                y = self.get_y()
            shift = (width - self.width(line, style, size)) / 2 if align == "C" else 0
            self.text(start + shift, y + leading * 0.78, line)
            y += leading
        self.set_xy(self.l_margin, y)
        self.set_text_color(*INK)

    def heading(self, text: str) -> None:
        """A section's heading, with a rule under it."""
        if self.get_y() > self.h - 50:
            self.add_page()
        self.ln(3)
        self.text_line(text, 11, "B", colour=NAVY, height=6.5)
        self.set_draw_color(*NAVY)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_draw_color(*RULE)
        self.ln(2)

    def width(self, text: str, style: str, size: float) -> float:
        """How wide ``text`` is in mm in the sans face: a sum of the font's advance widths
        (fpdf2's own measure goes through its line breaker, ten times slower)."""
        widths = self._advances[style]
        return sum(map(widths.__getitem__, map(ord, text))) * size * 0.001 / self.k

    def wrap(self, text: str, width: float, style: str = "", size: float = 9) -> list[str]:
        """``text`` broken into lines no wider than ``width`` mm: at spaces, else anywhere."""
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line = ""
            for word in paragraph.split(" "):
                candidate = f"{line} {word}" if line else word
                if self.width(candidate, style, size) <= width:
                    line = candidate
                    continue
                if line:
                    lines.append(line)
                line = word
                while self.width(line, style, size) > width and len(line) > 1:
                    low, high = 1, len(line) - 1  # the longest head that fits
                    while low < high:
                        middle = (low + high + 1) // 2
                        if self.width(line[:middle], style, size) <= width:
                            low = middle
                        else:
                            high = middle - 1
                    lines.append(line[:low])
                    line = line[low:]
            lines.append(line)
        return lines

    def _row(self, cells: Sequence[str], widths: Sequence[float], numeric: Sequence[bool],
             style: str, size: float, colours: Sequence[Sequence[int]],
             fill: Sequence[int] | None = None) -> float:
        """One row of a table at the current position; returns its height."""
        pad, leading = 1.3, size * 0.45
        wrapped = [self.wrap(text, width - 2 * pad, style, size)
                   for text, width in zip(cells, widths, strict=True)]
        height = max(map(len, wrapped)) * leading + 2 * pad
        x, y = self.l_margin, self.get_y()
        if fill is not None:
            self.set_fill_color(*fill)
            self.rect(x, y, sum(widths), height, style="F")
        self.set_font("DejaVu", style, size)
        for lines, width, right, colour in zip(wrapped, widths, numeric, colours, strict=True):
            self.set_text_color(*colour)
            for index, line in enumerate(lines):
                shift = width - pad - self.width(line, style, size) if right else pad
                self.text(x + shift, y + pad + leading * (index + 0.78), line)
            x += width
        self.set_text_color(*INK)
        self.line(self.l_margin, y + height, self.l_margin + sum(widths), y + height)
        self.set_y(y + height)
        return height

    def _fits(self, height: float) -> bool:
        return self.get_y() + height <= self.page_break_trigger

    def facts(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label and value rows, the label in a narrow column."""
        widths = (self.epw * 0.34, self.epw * 0.66)
        for label, value in rows:
            lines = max(len(self.wrap(label, widths[0] - 2.6, "", 9)),
                        len(self.wrap(value, widths[1] - 2.6, "", 9)))
            if not self._fits(lines * 4.05 + 2.6):
                self.add_page()
            self._row((label, value), widths, (False, False), "", 9, (MUTED, INK))
        self.ln(1.5)

    def grid(self, headings: Sequence[str], rows: Sequence[Sequence[str]],
             weights: Sequence[float], numeric: Sequence[bool]) -> None:
        """A table with a shaded heading row, repeated on each page it spans."""
        widths = [self.epw * weight / sum(weights) for weight in weights]
        inks = [INK] * len(widths)
        left = [False] * len(widths)
        self.set_draw_color(*RULE)
        self._row(headings, widths, left, "B", 7.5, inks, SHADE)
        for values in rows:
            lines = max(len(self.wrap(text, width - 2.6, "", 8))
                        for text, width in zip(values, widths, strict=True))
            if not self._fits(lines * 3.6 + 2.6):
                self.add_page()
                self._row(headings, widths, left, "B", 7.5, inks, SHADE)
            self._row(values, widths, numeric, "", 8, inks)
        self.ln(2)

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        """The QR code of ``text`` (level Q) as vector squares, ``size`` mm across with its
        quiet zone: sharp at any printer's resolution."""
        symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
        image = zxingcpp.write_barcode_to_image(symbol, scale=1, add_quiet_zones=False)
        modules = image.shape[0]
        # one byte a module, 0 for dark (zxing-cpp's Image has the buffer protocol; its stub
        # does not say so)
        pixels = bytes(memoryview(image))  # type: ignore[arg-type]
        step = size / (modules + 2 * _QR_QUIET)
        squares = []  # one filled path of every run of dark modules in a row
        for row in range(modules):
            line = pixels[row * modules:(row + 1) * modules]
            column = 0
            while column < modules:
                if line[column] != 0:
                    column += 1
                    continue
                end = column
                while end < modules and line[end] == 0:
                    end += 1
                left, top = x + (_QR_QUIET + column) * step, y + (_QR_QUIET + row) * step
                squares.append(f"{left * self.k:.2f} {(self.h - top) * self.k:.2f} "
                               f"{(end - column) * step * self.k:.2f} {-step * self.k:.2f} re")
                column = end
        # fpdf2 writes a rect a call; one path of ~600 rectangles is a tenth of the time
        self._out("q 0 g " + " ".join(squares) + " f Q")

    def small(self, text: str, size: float = 6.5) -> None:
        """Small grey text broken anywhere (a seal's text)."""
        self.text_line(text, size, colour=MUTED, height=size * 0.45)
