"""Reading a seal's base32 in its one spelling, held to Python's own base32."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from field_sync.base32 import decode_canonical

pytestmark = pytest.mark.database_free

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _spelled(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


@given(raw=st.binary(max_size=400))
def test_reads_what_python_writes(raw: bytes) -> None:
    assert decode_canonical(_spelled(raw)) == raw


@given(text=st.text(alphabet=ALPHABET + "018 9=_+-az", max_size=40)
       | st.binary(max_size=30).map(_spelled).flatmap(
           lambda good: st.integers(0, len(good)).map(lambda cut: good[:cut])))
@example(text="AA")  # spare bits zero
@example(text="AB")  # spare bits set: the same byte as "AA"
@example(text="AAA")  # a length no bytes have
@example(text="MZXW6")
@example(text="1AAA")  # a digit int() reads, base32 lacks
@example(text=" AA")
@example(text="")
def test_takes_a_text_exactly_when_python_reads_it_and_spells_it_so(text: str) -> None:
    try:
        expected: bytes | None = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        expected = None
    if expected is not None and _spelled(expected) != text:
        expected = None
    try:
        found: bytes | None = decode_canonical(text)
    except ValueError:
        found = None
    assert found == expected
