"""Canonical encoding and content hashes, with the test vectors other platforms must reproduce.

``tests/vectors/canonical.json`` was produced once with this library (see ``write_vectors``
below) and is checked here three ways: the library reproduces every byte, an independent
derivation with the standard library's ``json`` and ``hashlib`` agrees, and the protocol vector
is rebuilt from its ops through the merge.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from field_sync import (
    DocumentState,
    EncodingError,
    FieldSyncError,
    canonical_bytes,
    content_hash,
    normalize,
    pack,
    replay,
)
from schemas import Op
from tests.strategies import METROLOGY

pytestmark = pytest.mark.database_free

VECTORS = Path(__file__).parent / "vectors" / "canonical.json"


def independent_canonical(value: Any) -> bytes:
    """The canonical form derived without the library: NFC, then sorted compact JSON."""

    def nfc(item: Any) -> Any:
        if isinstance(item, str):
            return unicodedata.normalize("NFC", item)
        if isinstance(item, dict):
            return {unicodedata.normalize("NFC", key): nfc(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [nfc(inner) for inner in item]
        return item

    text = json.dumps(nfc(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.encode("utf-8")


# --- the protocol behind the "metrology_protocol" vector ---------------------------------------

PROTOCOL_ID = "5b0e9f3c-8a21-4d6e-b7f4-2c9a1e0d3b58"
TEAM_ROW = "0d9c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
REFERENCE_ROW = "2f4e6d8c-0b1a-4c3e-9d5f-7a9b1c3d5e7f"
INSTRUMENT_ROW = "6a8b0c2d-4e6f-4a1b-8c3d-5e7f9a1b3c5d"
REMOVED_ROW = "9e7d5c3b-1a2f-4e6d-8c0b-a9f8e7d6c5b4"
GOOD_MEASUREMENT = "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
BAD_MEASUREMENT = "c7d8e9f0-a1b2-4c3d-9e4f-5a6b7c8d9e0f"
_T0 = 1_717_389_000_000  # 2024-06-03T04:30:00Z


def metrology_protocol_ops() -> list[Op]:
    """A complete state metrological supervision protocol filled on two tablets."""
    a, b = "tablet-7f3a", "tablet-c91e"
    edits: list[tuple[str, str, Any]] = [
        (a, "", {"_template": METROLOGY.ref, "_assignment": "asg-tashkent-2024-117"}),
        (a, "number", "MN-2024/117"),
        (a, "started_at", "2024-06-03T09:30:00+05:00"),
        (a, "entity_tin", "302456789"),
        (a, "entity_name", "«Toshkent Yoqilgʻi» MChJ"),
        (a, "site_name", "АЁҚШ № 12"),
        (a, "site_address", "Toshkent sh., Chilonzor tumani, Bunyodkor koʻchasi, 12"),
        (a, "basis", "Приказ № 45 от 01.06.2024"),
        (a, "lead_inspector", "insp-0042"),
        (a, f"team/{TEAM_ROW}", {"inspector_id": "insp-0042", "role": "lead"}),
        (a, f"reference_instruments/{REFERENCE_ROW}",
         {"instrument_id": "ref-0007", "type": "Мерник эталонный М2р-10-01", "serial": "1187",
          "verified_until": "2025-03-31"}),
        (a, f"instruments/{INSTRUMENT_ROW}",
         {"type": "ТРК Нара-27М1С", "serial": "ZN-48213", "manufacturer": "Ливенка",
          "verification_certificate": "QS-2023/8812", "verified_until": "2024-11-30",
          "seal_intact": True}),
        (a, f"instruments/{REMOVED_ROW}", {"type": "typo", "serial": "0"}),
        (a, f"instruments/{REMOVED_ROW}/_deleted", True),
        (a, f"measurements/{GOOD_MEASUREMENT}",
         {"instrument": INSTRUMENT_ROW, "nominal": "10.000", "indication": "10.012",
          "mpe": "0.050", "unit": "l"}),
        (b, f"measurements/{BAD_MEASUREMENT}",
         {"instrument": INSTRUMENT_ROW, "nominal": "2.000", "indication": "1.931",
          "mpe": "0.050", "unit": "l"}),
        # typed on tablet b with a decomposed "й" (и + U+0306): NFC folds it when hashed
        (b, "findings", "Погрешность колонки на дозе 2 л превышает допустимую; пломба цела, "
                        "замечаний по учёту нет. Колонка №2 не прошла проверку, и\u0306"),
        (b, "conclusion", "non_compliant"),
        (b, "prescription", "Qiyoslashdan oʻtkazish, 10 kun ichida."),
        (a, "representative_name", "Karimov Oʻtkir Gʻayratovich"),
        (a, "representative_position", "Direktor"),
        (a, "representative_response", "acknowledged"),
    ]
    seqs = {a: 0, b: 0}
    ops = []
    for step, (actor, path, value) in enumerate(edits):
        seqs[actor] += 1
        ops.append(Op(actor, seqs[actor], PROTOCOL_ID, path, value, pack(_T0 + 1_000 * step, 0)))
    return ops


def metrology_protocol() -> Any:
    """The materialized protocol of ``metrology_protocol_ops``, as plain JSON data."""
    state = replay(PROTOCOL_ID, metrology_protocol_ops())
    return msgspec.to_builtins(state.materialize(METROLOGY))


def vector_inputs() -> dict[str, Any]:
    """Every vector's input, by name. Used once to write the file, never to check it."""
    return {
        "empty_map": {},
        "keys_sorted_by_code_point": {"b": 1, "a": 2, "B": 3, "aa": 4, "": 5, "\uff61": 6,
                                      "\U0001f600": 7, "_template": 8},
        "keys_sorted_after_nfc": {"o\u0301": "o\u0301", "p": "p"},
        "cyrillic_nfc": {"entity_name": "ООО «Тошкент Е\u0308қилғи»", "findings": "и\u0306 ў",
                         "uz_cyrl": "у\u0306лчаш воситаси", "ru": "средство измерений"},
        "uzbek_latin_okina_kept": {"uz": "Oʻlchash vositasi, gʻalla, toʻlov",
                                   "ascii_apostrophe": "o'lchash", "left_quote": "o‘lchash"},
        "scalars": {"true": True, "false": False, "null": None, "zero": 0, "negative": -17,
                    "empty_string": "", "empty_list": [], "list": [True, None, 0, "x", []]},
        "big_integers": {"int64_max": 2**63 - 1, "int64_min": -(2**63), "beyond_int64": 2**64 + 1,
                         "beyond_double": 2**53 + 1, "ten_to_thirty": 10**30},
        "nested_maps": {"z": {"y": {"x": [{"b": 1, "a": {"d": None, "c": [1, {"f": "g"}]}}]}},
                        "a": {}},
        "string_escapes": {"s": "quote \" backslash \\ slash / newline \n tab \t cr \r "
                                "nul \u0000 unit \u001f del \u007f ls \u2028 <b>&amp;"},
        "decimals_as_strings": {"nominal": "10.000", "indication": "10.012", "error": "0.012",
                                "negative": "-0.015", "integer": "12"},
        "metrology_protocol": metrology_protocol(),
    }


def write_vectors() -> None:  # pragma: no cover - run by hand, once, to make the file
    cases = []
    for name, value in vector_inputs().items():
        canonical = canonical_bytes(value)
        cases.append({"name": name, "input": value, "canonical": canonical.decode("utf-8"),
                      "sha256": hashlib.sha256(canonical).hexdigest()})
    # ASCII escapes keep the deliberately unnormalized inputs safe from editors and tools
    VECTORS.write_text(json.dumps(cases, indent=2, ensure_ascii=True) + "\n", encoding="ascii")


def _load_vectors() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return cases


_CASES = _load_vectors()


# --- the vectors -------------------------------------------------------------------------------


def test_vector_file_is_well_formed() -> None:
    names = [case["name"] for case in _CASES]
    assert len(names) >= 6
    assert len(set(names)) == len(names)
    for case in _CASES:
        assert set(case) == {"name", "input", "canonical", "sha256"}
        assert len(case["sha256"]) == 64
    assert {"metrology_protocol", "cyrillic_nfc", "uzbek_latin_okina_kept", "big_integers",
            "nested_maps", "scalars"} <= set(names)


def test_nfc_vectors_still_hold_unnormalized_input() -> None:
    by_name = {case["name"]: case for case in _CASES}
    for name in ("keys_sorted_after_nfc", "cyrillic_nfc"):
        raw = json.dumps(by_name[name]["input"], ensure_ascii=False)
        assert unicodedata.normalize("NFC", raw) != raw, name


@pytest.mark.parametrize("case", _CASES, ids=[case["name"] for case in _CASES])
def test_library_reproduces_the_vector(case: dict[str, Any]) -> None:
    expected = case["canonical"].encode("utf-8")
    assert canonical_bytes(case["input"]) == expected
    assert content_hash(case["input"]) == case["sha256"]


@pytest.mark.parametrize("case", _CASES, ids=[case["name"] for case in _CASES])
def test_vector_agrees_with_an_independent_derivation(case: dict[str, Any]) -> None:
    canonical = case["canonical"].encode("utf-8")
    assert independent_canonical(case["input"]) == canonical
    assert hashlib.sha256(canonical).hexdigest() == case["sha256"]
    assert json.loads(canonical) == json.loads(independent_canonical(case["input"]))


def test_protocol_vector_is_rebuilt_from_its_ops_in_any_order() -> None:
    vector = next(case for case in _CASES if case["name"] == "metrology_protocol")
    ops = metrology_protocol_ops()
    for order in (ops, ops[::-1], ops[1::2] + ops[::2] + ops[:5]):
        protocol = replay(PROTOCOL_ID, order).materialize(METROLOGY)
        assert content_hash(protocol) == vector["sha256"]
        assert canonical_bytes(protocol) == vector["canonical"].encode("utf-8")


def test_protocol_vector_holds_what_it_claims() -> None:
    protocol = next(case for case in _CASES if case["name"] == "metrology_protocol")["input"]
    measurements = protocol["collections"]["measurements"]
    assert measurements[GOOD_MEASUREMENT]["error"] == "0.012"
    assert measurements[GOOD_MEASUREMENT]["pass"] is True
    assert measurements[BAD_MEASUREMENT]["error"] == "-0.069"
    assert measurements[BAD_MEASUREMENT]["pass"] is False
    assert set(protocol["collections"]["instruments"]) == {INSTRUMENT_ROW}  # removed row hidden
    assert "ʻ" in protocol["fields"]["entity_name"]
    assert protocol["template"] == METROLOGY.ref


# --- the rules of the form ---------------------------------------------------------------------


def test_keys_are_sorted_and_there_is_no_white_space() -> None:
    assert canonical_bytes({"b": [1, 2], "a": {"d": True, "c": None}}) == \
        b'{"a":{"c":null,"d":true},"b":[1,2]}'


def test_keys_sort_by_code_point_not_by_utf16_unit() -> None:
    # U+FF61 < U+1F600 by code point; in UTF-16 the surrogate D83D would sort first
    assert canonical_bytes({"\U0001f600": 1, "\uff61": 2}) == \
        '{"\uff61":2,"\U0001f600":1}'.encode()


def test_strings_are_nfc() -> None:
    assert canonical_bytes("o\u0301") == canonical_bytes("ó") == '"ó"'.encode()
    assert canonical_bytes({"o\u0301": "и\u0306"}) == '{"ó":"й"}'.encode()
    assert normalize(["Е\u0308", ("у\u0306",)]) == ["Ё", ["ў"]]


def test_keys_are_sorted_after_they_are_normalized() -> None:
    # "o" + U+0301 sorts before "p", but its NFC form "ó" (U+00F3) sorts after it
    assert canonical_bytes({"o\u0301": 1, "p": 2}) == '{"p":2,"ó":1}'.encode()


def test_uzbek_okina_is_kept_as_it_is() -> None:
    text = "Oʻzbekiston, oʻlchash, gʻalla"  # U+02BB MODIFIER LETTER TURNED COMMA
    assert unicodedata.normalize("NFC", text) == text
    encoded = canonical_bytes(text)
    assert encoded == f'"{text}"'.encode()
    assert "\u02bb".encode() in encoded
    assert b"'" not in encoded
    assert canonical_bytes("o'") != canonical_bytes("oʻ") != canonical_bytes("o‘")


def test_non_ascii_is_written_as_utf8_not_escaped() -> None:
    assert canonical_bytes("Ўлчаш") == '"Ўлчаш"'.encode()
    assert b"\\u" not in canonical_bytes("Ўлчаш")


def test_structs_and_tuples_encode_as_their_plain_form() -> None:
    protocol = replay("d", [Op("a", 1, "d", "number", "N-1", 1)]).materialize()
    assert canonical_bytes(protocol) == canonical_bytes(msgspec.to_builtins(protocol))
    assert canonical_bytes(("a", 1)) == b'["a",1]'


def test_content_hash_is_lower_case_sha256_hex_of_the_canonical_bytes() -> None:
    value = {"b": "Ё", "a": 1}
    digest = content_hash(value)
    assert digest == hashlib.sha256('{"a":1,"b":"Ё"}'.encode()).hexdigest()
    assert digest == digest.lower()
    assert len(digest) == 64


def test_equal_protocols_hash_equal_whatever_their_key_order() -> None:
    assert content_hash({"a": 1, "b": {"x": 1, "y": 2}}) == \
        content_hash({"b": {"y": 2, "x": 1}, "a": 1})
    assert content_hash({"a": "1"}) != content_hash({"a": 1})


@pytest.mark.parametrize(
    "value",
    [1.5, 0.0, float("nan"), float("inf"), {"mpe": 0.05}, [1, 2.0], {"a": {"b": [1e3]}},
     Decimal("1.5"), b"bytes", {1, 2}, object()],
    ids=["float", "zero", "nan", "inf", "float_in_map", "float_in_list", "deep_float", "Decimal",
         "bytes", "set", "object"],
)
def test_values_without_a_canonical_form_are_refused(value: Any) -> None:
    with pytest.raises(EncodingError) as caught:
        canonical_bytes(value)
    assert caught.value.code == "not_canonical"
    assert isinstance(caught.value, FieldSyncError)
    with pytest.raises(EncodingError):
        content_hash(value)


@pytest.mark.parametrize("key", [1, None, True, ("a",), 1.5], ids=repr)
def test_map_keys_must_be_strings(key: Any) -> None:
    with pytest.raises(EncodingError):
        canonical_bytes({key: "value"})
    with pytest.raises(EncodingError):
        canonical_bytes({"outer": [{key: "value"}]})


_WRAPS: dict[str, Any] = {
    "list": lambda value, _: [value],
    "map": lambda value, _: {"k": value},
    "tuple": lambda value, _: (value,),
    "map and list in turn": lambda value, level: {"k": value} if level % 2 else [value],
}


@pytest.mark.parametrize("kind", sorted(_WRAPS))
def test_nesting_is_limited_to_32_levels_in_maps_as_in_lists(kind: str) -> None:
    """A value 32 levels down has a canonical form; one 33 levels down has none, whether the
    levels are lists, maps or both."""
    value: Any = "leaf"
    for level in range(32):
        value = _WRAPS[kind](value, level)
    assert canonical_bytes(value).count(b'"leaf"') == 1
    for deeper in (_WRAPS[kind](value, 32), {"k": value}, [value]):
        with pytest.raises(EncodingError) as refused:
            canonical_bytes(deeper)
        assert refused.value.reason == "value nests too deeply"


@pytest.mark.parametrize(("value", "reason"), [
    (1.5, "float has no canonical form; use a decimal string"),
    ({"mpe": [Decimal("0.05")]}, "Decimal has no canonical form; use a decimal string"),
    ({"a": {7: "x"}}, "map key 7 is not a string"),
    ({("a",): "x"}, "map key ('a',) is not a string"),
], ids=["float", "Decimal", "int key", "tuple key"])
def test_a_refusal_says_what_has_no_canonical_form(value: Any, reason: str) -> None:
    """The reason a push rejection carries to the tablet, word for word."""
    with pytest.raises(EncodingError) as refused:
        canonical_bytes(value)
    assert refused.value.reason == reason


def test_text_that_is_not_unicode_has_no_canonical_form() -> None:
    """A lone surrogate (possible in a Python str, never in UTF-8) is refused as such, in
    values and in keys."""
    for value in ("\ud83d", {"\udc00": "x"}, ["ok", {"k": "a\ud800b"}]):
        with pytest.raises(EncodingError) as refused:
            canonical_bytes(value)
        assert refused.value.reason.startswith("text that is not valid Unicode: ")
        assert refused.value.code == "not_canonical"


def test_a_document_state_itself_has_no_canonical_form() -> None:
    with pytest.raises(EncodingError):
        canonical_bytes(DocumentState("d"))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(value=_json_values)
def test_any_json_value_matches_the_independent_derivation(value: Any) -> None:
    canonical = canonical_bytes(value)
    assert canonical == independent_canonical(value)
    assert content_hash(value) == hashlib.sha256(canonical).hexdigest()
    # the canonical form is a fixed point: decoding and encoding again gives the same bytes
    assert canonical_bytes(json.loads(canonical)) == canonical
    assert canonical_bytes(normalize(value)) == canonical
