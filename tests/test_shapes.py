"""The forms of decimals and row ids, checked many values at a time, take exactly what their
regular expressions take, one value or many, whatever the values hold."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from field_sync.paths import is_uuid
from field_sync.shapes import ROW_ID, decimal_shape

pytestmark = pytest.mark.database_free


def _decimal(scale: int) -> re.Pattern[str]:
    fraction = rf"(?:\.[0-9]{{1,{scale}}})?" if scale else ""
    return re.compile(rf"-?(?:0|[1-9][0-9]{{0,17}}){fraction}")


_NEAR = st.text(st.sampled_from("0123456789-.\n +e٣９abcdefABCDEF"), max_size=40)
_UUIDS = st.uuids().map(str)
_DECIMALS = st.from_regex(_decimal(3), fullmatch=True)
_VALUES = st.one_of(_NEAR, _UUIDS, _DECIMALS, _UUIDS.map(str.upper),
                    _UUIDS.map(lambda text: text.replace("-", "")), st.text(max_size=40))


@settings(max_examples=400)
@given(value=_VALUES, scale=st.integers(0, 18))
def test_one_value_has_the_form_its_expression_takes(value: str, scale: int) -> None:
    assert decimal_shape(scale).takes_one(value) == bool(_decimal(scale).fullmatch(value))
    assert ROW_ID.takes_one(value) == is_uuid(value)


@settings(max_examples=300)
@given(values=st.lists(st.one_of(_VALUES, st.none()), max_size=12), scale=st.integers(0, 18))
def test_many_values_have_their_forms_when_each_has(values: list[str | None],
                                                     scale: int) -> None:
    """A batch, nulls among it (cleared fields, which have no form), is taken exactly when every
    text of it would be alone: a value holding the batch's separator cannot pass as two."""
    texts = [value for value in values if value is not None]
    assert decimal_shape(scale).takes(values) == all(
        _decimal(scale).fullmatch(text) for text in texts)
    assert ROW_ID.takes(values) == all(map(is_uuid, texts))


def test_values_that_look_like_two_in_a_batch_are_refused() -> None:
    row = str(uuid.uuid4())
    assert not ROW_ID.takes([f"{row}\n{row}"]) and not decimal_shape(3).takes(["1\n2"])
    assert ROW_ID.takes([row, row]) and decimal_shape(3).takes(["1", "2.5", None])
