"""Templates at work: value shapes, which ops a form accepts, completeness, computed values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings

from field_sync import (
    Form,
    InvalidOperation,
    Violation,
    apply_computed,
    form_of,
    pack,
    parse_path,
    replay,
)
from field_sync.computed import decimal_text
from field_sync.paths import FieldPath, spread
from field_sync.values import MAX_TEXT, check_value
from schemas import Collection, Computation, Field, Label, Op, Option, Protocol, Template
from tests.strategies import METROLOGY, field_paths, histories

pytestmark = pytest.mark.database_free

FORM = form_of(METROLOGY)
LABEL = Label("yorliq", "ёрлиқ", "метка", "label")
DOC = "3c5e7a9b-1d2f-4a6b-8c0d-e2f4a6b8c0d1"
ROW = "8d1f3b5a-7c9e-4b2d-a4f6-0e2c4a6b8d0f"
ROW_2 = "e4a6c8b0-2d4f-4e6a-b8c0-1d3f5b7d9f1a"
UPPER_ROW = ROW.upper()


def top(name: str) -> Field:
    return FORM.fields[name]


def row_field(collection: str, name: str) -> Field:
    return FORM.collections[collection][name]


def custom(name: str, type_: Any, **options: Any) -> Field:
    return Field(name=name, type=type_, label=LABEL, **options)


class refused:  # lower case: it reads like pytest.raises
    """``with refused("bad_value"):`` expects an InvalidOperation with that code."""

    def __init__(self, code: str) -> None:
        self.code = code
        self._raises = pytest.raises(InvalidOperation)

    def __enter__(self) -> Any:
        return self._raises.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        suppressed = self._raises.__exit__(*exc)
        assert self._raises.excinfo is not None
        assert self._raises.excinfo.value.code == self.code, self._raises.excinfo.value
        return bool(suppressed)


def edit(path: str, value: Any, seq: int = 1) -> Op:
    return Op("tablet-a", seq, DOC, path, value, pack(1_717_000_000_000, seq))


# --- check_value, per field type ---------------------------------------------------------------


def test_null_clears_any_typed_field() -> None:
    for field in [*METROLOGY.fields, *[f for c in METROLOGY.collections for f in c.fields]]:
        if field.computed is None:
            check_value(field, None)


def test_text_respects_max_length_in_characters() -> None:
    number = top("number")  # max_length 32
    check_value(number, "N" * 32)
    check_value(number, "Ў" * 32)  # characters, not UTF-8 bytes
    check_value(number, "")
    with refused("bad_value"):
        check_value(number, "N" * 33)


def test_text_without_max_length_is_capped_at_max_text() -> None:
    tin = top("entity_tin")
    assert tin.max_length is None
    check_value(tin, "1" * MAX_TEXT)
    with refused("bad_value"):
        check_value(tin, "1" * (MAX_TEXT + 1))


@pytest.mark.parametrize("value", [123, True, ["a"], b"bytes"])
def test_text_must_be_a_string(value: Any) -> None:
    with refused("bad_value"):
        check_value(top("findings"), value)


@pytest.mark.parametrize(
    "value", ["0", "12", "12.5", "-0.015", "-0", "10.000000", "123456789012345678",
              "999999999999999999.999999"],
)
def test_decimal_accepts_plain_decimal_strings_within_scale(value: str) -> None:
    check_value(row_field("measurements", "nominal"), value)


@pytest.mark.parametrize(
    "value",
    [12.5, 12, True, "1e3", "1E3", "01.5", "00", "1.", ".5", "+1", "1,5", " 1", "1 ", "NaN",
     "Infinity", "", "-", "1234567890123456789", "0x10", "١٢"],
)
def test_decimal_refuses_anything_else(value: Any) -> None:
    with refused("bad_value"):
        check_value(row_field("measurements", "nominal"), value)


def test_decimal_scale_limits_digits_after_the_point() -> None:
    mpe = row_field("measurements", "mpe")
    assert mpe.scale == 6
    check_value(mpe, "0.123456")
    with refused("bad_value"):
        check_value(mpe, "0.1234567")
    unscaled = custom("amount", "decimal")
    check_value(unscaled, "0." + "1" * 18)
    with refused("bad_value"):
        check_value(unscaled, "0." + "1" * 19)


@pytest.mark.parametrize("value", ["12\n", "12.5\n", "-0.015\n"])
def test_decimal_refuses_a_trailing_newline(value: str) -> None:
    """A decimal is the whole string: "12\\n" is not "12" (it would hash differently)."""
    with refused("bad_value"):
        check_value(row_field("measurements", "nominal"), value)


def test_integer_is_an_int_and_not_a_bool() -> None:
    count = custom("count", "integer")
    for value in (0, -3, 7, 10**20):
        check_value(count, value)
    for bad in (True, False, "5", 5.0, Decimal(5)):
        with refused("bad_value"):
            check_value(count, bad)


def test_boolean_is_true_or_false_only() -> None:
    seal = row_field("instruments", "seal_intact")
    check_value(seal, True)
    check_value(seal, False)
    for bad in (1, 0, "true", "false", "yes"):
        with refused("bad_value"):
            check_value(seal, bad)


@pytest.mark.parametrize("value", ["2024-06-03", "2000-01-01", "2024-02-29"])
def test_date_accepts_yyyy_mm_dd(value: str) -> None:
    check_value(row_field("instruments", "verified_until"), value)


@pytest.mark.parametrize(
    "value", ["2024-6-3", "20240603", "2024-06-03T00:00", "2023-02-29", "2024-13-01",
              "03.06.2024", "2024/06/03", 20240603, "not a date"],
)
def test_date_refuses_other_shapes(value: Any) -> None:
    with refused("bad_value"):
        check_value(row_field("instruments", "verified_until"), value)


@pytest.mark.parametrize("value", ["2024-W23-1", "2024-W01-7"])
def test_date_refuses_iso_week_dates(value: str) -> None:
    """Only YYYY-MM-DD is a date: since Python 3.11 ``date.fromisoformat`` also reads ISO week
    dates, and "2024-W23-1" is ten characters long too."""
    with refused("bad_value"):
        check_value(row_field("instruments", "verified_until"), value)


@pytest.mark.parametrize(
    "value", ["2024-06-03T09:30:00+05:00", "2024-06-03T04:30:00Z", "2024-06-03T04:30:00.250+00:00",
              "2024-06-03T09:30-03:00"],
)
def test_datetime_accepts_iso_8601_with_an_offset(value: str) -> None:
    check_value(top("started_at"), value)


def test_datetime_needs_its_offset() -> None:
    with pytest.raises(InvalidOperation, match="offset") as caught:
        check_value(top("started_at"), "2024-06-03T09:30:00")
    assert caught.value.code == "bad_value"
    for bad in ("2024-06-03", "yesterday", 1_717_389_000, "", "2024-06-03T25:00:00+05:00"):
        with refused("bad_value"):
            check_value(top("started_at"), bad)


def test_choice_takes_only_its_options() -> None:
    conclusion = top("conclusion")
    assert [option.value for option in conclusion.options] == ["compliant", "non_compliant"]
    check_value(conclusion, "compliant")
    check_value(conclusion, "non_compliant")
    for bad in ("Compliant", "", "yes", 1, True):
        with refused("bad_value"):
            check_value(conclusion, bad)
    own = custom("purpose", "choice", options=(Option("a", LABEL),))
    check_value(own, "a")
    with refused("bad_value"):
        check_value(own, "b")


def test_row_reference_is_a_lower_case_uuid() -> None:
    instrument = row_field("measurements", "instrument")
    check_value(instrument, ROW)
    for bad in (UPPER_ROW, "{" + ROW + "}", ROW.replace("-", ""), "urn:uuid:" + ROW, "row-1",
                "", 5):
        with refused("bad_value"):
            check_value(instrument, bad)


def test_computed_fields_cannot_be_typed_or_cleared() -> None:
    for name in ("error", "pass"):
        field = row_field("measurements", name)
        for value in ("0.012", True, None):
            with refused("computed_field"):
                check_value(field, value)


def test_refusals_are_value_errors_with_a_reason() -> None:
    with pytest.raises(ValueError, match="number") as caught:
        check_value(top("number"), 5)
    assert isinstance(caught.value, InvalidOperation)
    assert "number" in caught.value.reason


# --- paths ---------------------------------------------------------------------------------------


def test_parse_path_shapes() -> None:
    assert parse_path("number") == FieldPath("", "", "number")
    assert parse_path(f"instruments/{ROW}") == ("instruments", ROW)
    assert parse_path(f"instruments/{ROW}/serial") == FieldPath("instruments", ROW, "serial")
    assert str(FieldPath("instruments", ROW, "serial")) == f"instruments/{ROW}/serial"


@pytest.mark.parametrize(
    "path",
    [
        f"measurements/{ROW}/nominal/extra",  # too deep
        f"measurements/{UPPER_ROW}/nominal",  # upper-case uuid
        f"measurements/{UPPER_ROW}",
        "measurements/row-1/nominal",  # not a uuid
        f"measurements/{ROW.replace('-', '')}/nominal",  # a uuid, but not in its canonical form
        "Number",
        "1number",
        "num-ber",
        "",
        "/number",
        "number/",
        "x" * 201,
        "number\n",  # a name is the whole part: not one followed by a line break
        f"measurements/{ROW}/nominal\n",
        f"measurements\n/{ROW}/nominal",
    ],
)
def test_bad_paths_are_refused(path: str) -> None:
    with refused("bad_path"):
        parse_path(path)
    if path:  # the empty path is the protocol's root, refused for its value instead
        with refused("bad_path"):
            FORM.check_op(edit(path, "1"))


# --- Form.check_op -----------------------------------------------------------------------------


def test_the_root_creation_op_names_template_and_assignment() -> None:
    FORM.check_op(edit("", {"_template": METROLOGY.ref, "_assignment": "asg-17"}))
    FORM.check_op(edit("", {"_assignment": "asg-18"}))  # moving to another assignment


def test_the_root_op_carries_the_first_values_checked_like_any_field() -> None:
    written = FORM.check_op(edit("", {"_template": METROLOGY.ref, "_assignment": "asg-17",
                                      "number": "1", "findings": None}))
    assert written.prefix == "" and set(written.fields) == {
        ("_template", METROLOGY.ref), ("_assignment", "asg-17"), ("number", "1"),
        ("findings", None)}
    with refused("unknown_field"):
        FORM.check_op(edit("", {"_template": METROLOGY.ref, "no_such_field": "1"}))
    with refused("bad_value"):
        FORM.check_op(edit("", {"_template": METROLOGY.ref, "number": 17}))


def test_the_template_of_a_protocol_cannot_change() -> None:
    with refused("template_changed"):
        FORM.check_op(edit("", {"_template": "sampling_act@1", "_assignment": "asg-17"}))
    with refused("template_changed"):
        FORM.check_op(edit("", {"_template": "metrology_supervision@2"}))
    with refused("template_changed"):
        FORM.check_op(edit("_template", "sampling_act@1"))
    FORM.check_op(edit("_template", METROLOGY.ref))


@pytest.mark.parametrize(
    "value",
    [{}, "metrology_supervision@1", None, {"_assignment": ""}, {"_assignment": 17},
     {"_template": METROLOGY.ref, "number": {"a": "1"}},
     {"_template": METROLOGY.ref, "_freeze": {"vector": {}, "content_hash": ""}}],
)
def test_a_bad_root_op_is_refused(value: Any) -> None:
    with refused("bad_value"):
        FORM.check_op(edit("", value))


def test_ops_on_known_fields_are_checked_by_type() -> None:
    FORM.check_op(edit("number", "MN-1"))
    FORM.check_op(edit("number", None))
    FORM.check_op(edit(f"measurements/{ROW}/nominal", "10.000"))
    FORM.check_op(edit(f"measurements/{ROW}", {"instrument": ROW_2, "nominal": "1", "unit": "l"}))
    with refused("bad_value"):
        FORM.check_op(edit(f"measurements/{ROW}/nominal", "10,000"))
    with refused("bad_value"):
        FORM.check_op(edit(f"measurements/{ROW}", {"nominal": "1", "unit": 5}))


@pytest.mark.parametrize(
    "path",
    ["colour", f"photos/{ROW}/caption", f"photos/{ROW}", f"photos/{ROW}/_deleted",
     f"instruments/{ROW}/colour", f"instruments/{ROW}/_template", "_deleted", "instruments"],
)
def test_unknown_fields_and_collections_are_refused(path: str) -> None:
    value = {"caption": "x"} if path.count("/") == 1 else True
    with refused("unknown_field"):
        FORM.check_op(edit(path, value))


def test_a_whole_row_op_is_refused_if_any_field_is_unknown_or_computed() -> None:
    with refused("unknown_field"):
        FORM.check_op(edit(f"instruments/{ROW}", {"serial": "1", "colour": "red"}))
    with refused("computed_field"):
        FORM.check_op(edit(f"measurements/{ROW}", {"nominal": "1", "error": "0"}))
    with refused("computed_field"):
        FORM.check_op(edit(f"measurements/{ROW}/pass", True))


@pytest.mark.parametrize(
    ("path", "value"),
    [(f"instruments/{ROW}", {}), (f"instruments/{ROW}", "serial"),
     (f"instruments/{ROW}", {"serial": {"nested": "map"}}), ("number", {"a": "b"}),
     (f"instruments/{ROW}/serial", {"a": "b"})],
)
def test_maps_go_only_to_whole_rows_and_hold_no_maps(path: str, value: Any) -> None:
    with refused("bad_value"):
        FORM.check_op(edit(path, value))


def test_row_removal_takes_a_boolean() -> None:
    FORM.check_op(edit(f"instruments/{ROW}/_deleted", True))
    FORM.check_op(edit(f"instruments/{ROW}/_deleted", False))
    for bad in (1, "true", None):
        with refused("bad_value"):
            FORM.check_op(edit(f"instruments/{ROW}/_deleted", bad))


def test_a_freeze_carries_a_vector_and_a_sha256() -> None:
    FORM.check_op(edit("_freeze", {"vector": {"tablet-a": 3}, "content_hash": "ab" * 32}))
    for bad in ({"vector": {}, "content_hash": "ab" * 32},
                {"vector": {"tablet-a": 3}, "content_hash": "AB" * 32},
                {"vector": {"tablet-a": 0}, "content_hash": "ab" * 32},
                {"vector": {"tablet-a": 3}},
                "frozen"):
        with refused("bad_value"):
            FORM.check_op(edit("_freeze", bad))


def _outcome(form: Form, op: Op) -> tuple[str, Any]:
    try:
        written = form.check_op(op)
    except InvalidOperation as refusal:
        return refusal.code, str(refusal)
    return "written", (written.collection, written.row, list(written.fields))


_EVERY_TYPE = Template(
    id="every_type", version=1, kind="every_type", code="ETY", title=LABEL,
    fields=(custom("note", "text", max_length=5), custom("count", "integer"),
            custom("weight", "decimal", scale=2), custom("sealed", "boolean"),
            custom("due", "date"), custom("at", "datetime"),
            custom("verdict", "choice", options=(Option("yes", LABEL), Option("no", LABEL))),
            custom("none_yet", "choice"), custom("part", "row", collection="parts"),
            custom("class", "text"), custom("Odd Name", "text"),
            custom("_assignment", "integer"), custom("_freeze", "text"),  # meta rules win
            custom("short", "text", max_length=-1)),
    collections=(Collection("parts", LABEL, (
        custom("code", "text"), custom("mass", "decimal"),
        custom("twin", "row", collection="parts"),
        custom("doubled", "decimal", computed=Computation("difference", ("mass", "mass"))))),),
)
"""A field of every type, at the top and in a row, a keyword and a name no path may hold."""

_TRICKY = [
    None, True, False, 0, 1, -7, 2**70, 1.5, b"1", [1], {"a": 1}, "", " ", "x" * 6, "x" * 10_001,
    date(2024, 1, 1), datetime(2026, 7, 8, 8, 5, tzinfo=UTC),
    "1", "-0", "1.5", "1.55", "1.555", "-0.25", "01", "1.", ".5", "1e5", "1,5", "+1", "1.5\n",
    "\u0661", "1" * 19, "1" * 18 + ".5", "2024-02-29", "2023-02-29", "2024-1-01", "+2024-01-01",
    "2024-W01-1", "20240101", "0000-01-01", "2024-01-01T00:00", "2026-07-08T08:05:00+05:00",
    "2026-07-08t08:05:00z", "2026-07-08 08:05:00+05:00", "2026-07-08T08:05:00",
    "2026-07-08T08:05:00+05", "2026-07-08T08:05+05:00", "2026-07-08T24:00:00Z",
    "2026-07-08T23:59:60Z", "2026-07-08T08:05:00.1234567+05:00", "yes", "maybe", ROW, UPPER_ROW,
    ROW + "\n", ROW.replace("-", ""), METROLOGY.ref, "every_type@1", "asg-1",
]
"""Values near the edges of what some field takes."""


def _takes(form: Form, op: Op) -> bool:
    try:
        form.check_op(op)
    except InvalidOperation:
        return False
    return True


@pytest.mark.parametrize("form", [form_of(_EVERY_TYPE), FORM], ids=["every type", "metrology"])
def test_a_map_takes_what_each_of_its_fields_takes_alone(form: Form) -> None:
    """A map written whole is checked by its collection's row type, in one call, and the long
    way only if that refuses it: the row type must never take a value the field's own check
    (an op of that field alone, which goes the long way) refuses."""
    places = [("", name) for name in form.fields] + [("", "_template"), ("", "_assignment"),
                                                     ("", "_supersedes"), ("", "_freeze")]
    places += [(collection, name) for collection, fields in form.collections.items()
               for name in [*fields, "_deleted"]]
    for collection, name in places:
        row = f"{collection}/{ROW}" if collection else ""
        for value in _TRICKY:
            whole = _takes(form, edit(row, {name: value}))
            alone = _takes(form, edit(f"{row}/{name}" if row else name, value))
            assert whole == (alone and not isinstance(value, dict)), (collection, name, value)


@pytest.mark.parametrize(("path", "bad", "code"), [
    ("", {"_template": METROLOGY.ref, "_assignment": "asg-17", "number": "1", "_freeze": {}},
     "bad_value"),
    ("", {"_template": METROLOGY.ref, "Number": "1"}, "bad_path"),
    ("", {"_template": METROLOGY.ref, 17: "1"}, "bad_path"),
    (f"measurements/{ROW}", {"nominal": "1", "error": "0"}, "computed_field"),
    (f"measurements/{ROW}", {"nominal": "1.1234567"}, "bad_value"),
    (f"measurements/{ROW}/nominal", {"nominal": "1"}, "bad_value"),
    (f"photos/{ROW}", {"caption": "x"}, "unknown_field"),
    (f"measurements/{UPPER_ROW}", {"nominal": "1"}, "bad_path"),
])
def test_a_map_the_row_type_refuses_is_refused_for_its_own_reason(path: str, bad: Any,
                                                                  code: str) -> None:
    with refused(code):
        FORM.check_op(edit(path, bad))


@settings(max_examples=60, deadline=None)
@given(history=histories(max_size=30))
def test_a_map_written_whole_writes_its_own_items(history: list[Op]) -> None:
    """What a form finds an op writes is what ``spread`` (the long way) finds, the very items
    of the map written."""
    for op in history:
        written = FORM.check_op(op)
        assert written == spread(op.path, op.value)
        if isinstance(op.value, dict) and op.path != "_freeze":
            assert written.fields == op.value.items()


@settings(max_examples=60, deadline=None)
@given(history=histories(max_size=12))
def test_every_generated_op_is_one_the_form_accepts(history: list[Op]) -> None:
    for each in history:
        FORM.check_op(each)


@settings(max_examples=60)
@given(path=field_paths())
def test_every_generated_field_path_names_a_typed_field_of_the_form(path: str) -> None:
    parsed = parse_path(path)
    assert isinstance(parsed, FieldPath)
    assert str(parsed) == path
    assert FORM.field(parsed).computed is None


def test_form_of_is_cached_per_template() -> None:
    assert form_of(METROLOGY) is FORM
    assert FORM.template is METROLOGY


# --- Form.violations ---------------------------------------------------------------------------

INSTRUMENT = {"type": "ТРК Нара-27", "serial": "ZN-1", "seal_intact": True}
MEASUREMENT = {"instrument": ROW, "nominal": "10.000", "indication": "10.012", "mpe": "0.050",
               "unit": "l", "error": "0.012", "pass": True}
COMPLETE = Protocol(
    id=DOC,
    template=METROLOGY.ref,
    assignment="asg-17",
    fields={"number": "MN-1", "started_at": "2024-06-03T09:30:00+05:00",
            "entity_tin": "302456789", "entity_name": "«Yoqilgʻi» MChJ",
            "site_address": "Toshkent sh.", "lead_inspector": "insp-42",
            "conclusion": "compliant"},
    collections={"instruments": {ROW: INSTRUMENT}, "measurements": {ROW_2: MEASUREMENT}},
)


def changed(fields: dict[str, Any] | None = None, **collections: dict[str, Any]) -> Protocol:
    return msgspec.structs.replace(
        COMPLETE,
        fields=COMPLETE.fields | (fields or {}),
        collections=COMPLETE.collections | collections,
    )


def codes(protocol: Protocol) -> set[tuple[str, str]]:
    return {(violation.path, violation.code) for violation in FORM.violations(protocol)}


def test_a_complete_protocol_has_no_violations() -> None:
    assert FORM.violations(COMPLETE) == []


def test_an_empty_protocol_lists_every_required_field_and_the_missing_instrument() -> None:
    empty = Protocol(id=DOC, template=METROLOGY.ref, assignment=None, fields={}, collections={})
    assert codes(empty) == {
        ("number", "required"), ("started_at", "required"), ("entity_tin", "required"),
        ("entity_name", "required"), ("site_address", "required"),
        ("lead_inspector", "required"), ("conclusion", "required"), ("instruments", "row_count"),
    }
    assert all(isinstance(violation, Violation) and violation.message
               for violation in FORM.violations(empty))


def test_an_empty_string_counts_as_missing() -> None:
    assert codes(changed({"entity_name": ""})) == {("entity_name", "required")}


@pytest.mark.parametrize("tin", ["12345678", "1234567890", "12345678a", " 123456789",
                                 "123456789 ", "١٢٣٤٥٦٧٨٩"])
def test_entity_tin_is_nine_digits(tin: str) -> None:
    assert codes(changed({"entity_tin": tin})) == {("entity_tin", "pattern")}


def test_mpe_has_a_minimum_of_zero_inclusive() -> None:
    below = changed(measurements={ROW_2: MEASUREMENT | {"mpe": "-0.001"}})
    assert codes(below) == {(f"measurements/{ROW_2}/mpe", "minimum")}
    assert codes(changed(measurements={ROW_2: MEASUREMENT | {"mpe": "0"}})) == set()


def test_instruments_need_at_least_one_row() -> None:
    assert codes(changed(instruments={}, measurements={})) == {("instruments", "row_count")}
    two = changed(instruments={ROW: INSTRUMENT, ROW_2: INSTRUMENT}, measurements={})
    assert codes(two) == set()


def test_required_fields_of_rows_are_checked() -> None:
    partial = changed(instruments={ROW: {"type": "ТРК"}})
    assert codes(partial) == {(f"instruments/{ROW}/serial", "required")}
    assert codes(changed(measurements={ROW_2: {"instrument": ROW}})) == {
        (f"measurements/{ROW_2}/{name}", "required")
        for name in ("nominal", "indication", "mpe", "unit")
    }


def test_a_measurement_naming_a_missing_instrument_is_dangling() -> None:
    unseen = "0f0e0d0c-0b0a-4908-8706-050403020100"
    stray = changed(measurements={ROW_2: MEASUREMENT | {"instrument": unseen}})
    assert codes(stray) == {(f"measurements/{ROW_2}/instrument", "dangling_row")}


def test_removing_the_measured_instrument_leaves_a_dangling_reference() -> None:
    ops = [edit("", {"_template": METROLOGY.ref, "_assignment": "asg-17"}, seq=1)]
    ops += [edit(name, value, seq=2 + index) for index, (name, value)
            in enumerate(COMPLETE.fields.items())]
    ops += [edit(f"instruments/{ROW}", INSTRUMENT, seq=20),
            edit(f"measurements/{ROW_2}", {k: v for k, v in MEASUREMENT.items()
                                           if k not in ("error", "pass")}, seq=21)]
    state = replay(DOC, ops)
    assert FORM.violations(state.materialize(METROLOGY)) == []
    state.apply(edit(f"instruments/{ROW}/_deleted", True, seq=22))
    assert codes(state.materialize(METROLOGY)) == {
        ("instruments", "row_count"), (f"measurements/{ROW_2}/instrument", "dangling_row"),
    }


def _small_template() -> Template:
    return Template(
        id="weights", version=1, kind="weights", code="WGT", title=LABEL,
        fields=(custom("count", "integer", required=True, minimum="1", maximum="10"),
                custom("weight", "decimal", maximum="2.5")),
        collections=(Collection("items", LABEL, (custom("code", "text"),), max_rows=1),),
    )


def test_maximum_and_max_rows_of_a_data_defined_template() -> None:
    form = form_of(_small_template())
    ok = Protocol(id=DOC, template="weights@1", assignment=None,
                  fields={"count": 10, "weight": "2.5"}, collections={"items": {ROW: {}}})
    assert form.violations(ok) == []
    bad = msgspec.structs.replace(ok, fields={"count": 11, "weight": "2.51"},
                                  collections={"items": {ROW: {}, ROW_2: {}}})
    assert {(v.path, v.code) for v in form.violations(bad)} == {
        ("count", "maximum"), ("weight", "maximum"), ("items", "row_count"),
    }
    low = msgspec.structs.replace(ok, fields={"count": 0})
    assert {(v.path, v.code) for v in form.violations(low)} == {("count", "minimum")}


# --- computed values ---------------------------------------------------------------------------

MEASURED = METROLOGY.collections[[c.name for c in METROLOGY.collections].index("measurements")]


def computed(**values: Any) -> dict[str, Any]:
    return apply_computed(MEASURED.fields, values)


def test_error_is_an_exact_decimal_difference() -> None:
    assert 10.012 - 10.000 != 0.012  # what floats would have given
    assert computed(nominal="10.000", indication="10.012")["error"] == "0.012"
    assert computed(nominal="2.000", indication="1.931")["error"] == "-0.069"
    assert computed(nominal="9.95", indication="10.0")["error"] == "0.05"
    assert computed(nominal="0.1", indication="0.3")["error"] == "0.2"
    assert computed(nominal="-5", indication="5")["error"] == "10"


def test_negative_zero_is_normalised() -> None:
    assert computed(nominal="0", indication="-0")["error"] == "0"
    assert computed(nominal="0.000", indication="-0.000")["error"] == "0.000"
    assert computed(nominal="10.000", indication="10.000")["error"] == "0.000"
    assert decimal_text(Decimal("-0")) == "0"
    assert decimal_text(Decimal("-0.00")) == "0.00"
    assert decimal_text(Decimal("-1.50")) == "-1.50"
    assert decimal_text(Decimal("1E+3")) == "1000"  # never an exponent
    assert decimal_text(Decimal("1E-7")) == "0.0000001"


def test_pass_compares_the_absolute_error_with_the_mpe_inclusively() -> None:
    assert computed(nominal="10", indication="10.05", mpe="0.05")["pass"] is True
    assert computed(nominal="10", indication="9.95", mpe="0.050")["pass"] is True
    assert computed(nominal="10", indication="9.9499", mpe="0.05")["pass"] is False
    assert computed(nominal="10", indication="10", mpe="0")["pass"] is True


@pytest.mark.parametrize("bad", [None, "", "abc", "NaN", "Infinity", "-Infinity", 12, 12.5, True])
def test_computed_values_are_left_out_while_an_input_is_missing_or_malformed(bad: Any) -> None:
    values = {"nominal": "10", "indication": "10.01", "mpe": "0.05"}
    without_indication = computed(**(values | {"indication": bad}))
    assert "error" not in without_indication
    assert "pass" not in without_indication
    without_mpe = computed(**(values | {"mpe": bad}))
    assert without_mpe["error"] == "0.01"
    assert "pass" not in without_mpe


def test_typed_computed_values_are_dropped_and_inputs_left_alone() -> None:
    values = {"nominal": "10", "indication": "10.01", "error": "999", "pass": False, "unit": "l"}
    result = computed(**values)
    assert result == {"nominal": "10", "indication": "10.01", "error": "0.01", "unit": "l"}
    assert values["error"] == "999"  # the input mapping is not changed
    assert computed(error="1", **{"pass": True}) == {}


def test_computed_difference_is_exact_for_every_decimal_a_field_accepts() -> None:
    """Differences are exact for every decimal a field accepts (18 + 18 digits): the ambient
    decimal context (28 digits) would round, and replicas with other contexts would differ."""
    fields = (custom("a", "decimal"), custom("b", "decimal"),
              custom("d", "decimal", computed=Computation("difference", ("a", "b"))))
    a, b = "999999999999999999.999999999999999999", "0.000000000000000001"
    check_value(fields[0], a)
    check_value(fields[1], b)
    assert apply_computed(fields, {"a": a, "b": b})["d"] == "999999999999999999.999999999999999998"
