"""Reading a seal's base32: RFC 4648, upper case, without padding, in its one spelling.

Python's ``base64.b32decode`` works a character at a time in Python, and checking the spelling
meant encoding the bytes again the same way: a third of verifying a seal. Base32 is a number
written in base 32, so ``int`` reads it in C, once its letters are turned into the digits
``int`` reads (``A``-``Z``, ``2``-``7`` → ``0``-``9``, ``a``-``v``). Its one spelling is then
arithmetic: a length that ends on a whole byte or on the few bits past it, those bits zero.
"""

from __future__ import annotations

import re

__all__ = ["decode_canonical"]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_AS_DIGITS = str.maketrans(_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
# Only the alphabet: ``int`` would also take the digits 0, 1, 8, 9, signs, spaces and "_".
_LETTERS = re.compile(f"[{_ALPHABET}]*")


def decode_canonical(text: str) -> bytes:
    """The bytes ``text`` spells; ``ValueError`` unless it is exactly what
    ``base64.b32encode`` writes for them, less its padding."""
    if _LETTERS.fullmatch(text) is None:
        raise ValueError("not upper-case base32 letters")
    size, spare = divmod(len(text) * 5, 8)
    number = int(text.translate(_AS_DIGITS) or "0", 32)
    # A last character carrying no bit of a byte (spare of 5 to 7 bits), or spare bits that are
    # not zero, spell bytes another spelling spells as well.
    if spare >= 5 or number & ((1 << spare) - 1):
        raise ValueError("not base32 in its one spelling")
    return (number >> spare).to_bytes(size, "big")
