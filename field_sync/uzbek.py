"""Uzbek text as people type it, made canonical.

Uzbek Latin writes oʻ and gʻ with U+02BB (modifier letter turned comma) and the tutuq belgisi
with U+02BC (modifier letter apostrophe). Keyboards produce ', ‘, ’, `, ´ and ʹ instead; a
registry that stores them as typed finds "Gʻuzor" and "G'uzor" to be two different places.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_uzbek"]

_TURNED_COMMA = "\u02bb"  # ʻ in oʻ, gʻ
_APOSTROPHE = "\u02bc"  # ʼ, the tutuq belgisi
_LOOKALIKES = "'‘’`´ʹʼʻ"
_OG = re.compile(f"([OoGg])[{_LOOKALIKES}]")
# Between other letters it is the tutuq belgisi (taʼlim, sunʼiy); after o and g, the letter.
_TUTUQ = re.compile(f"(?<=[A-FH-NP-Za-fh-np-z])[{_LOOKALIKES}](?=[A-Za-z])")


def normalize_uzbek(text: str) -> str:
    """``text`` in NFC with Uzbek Latin apostrophes in their proper letters."""
    text = unicodedata.normalize("NFC", text)
    text = _OG.sub(lambda match: match.group(1) + _TURNED_COMMA, text)
    return _TUTUQ.sub(_APOSTROPHE, text)
