"""Shared hypothesis strategies: devices, rows, template fields and their values, op histories.

Everything is drawn from small pools (three devices, three row UUIDs, one protocol) so that
generated ops collide on the same paths and rows, and hlc stamps of different devices often tie,
which is exactly where a merge can go wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from field_sync import pack
from schemas import Field, Op, Template, builtin_templates

__all__ = [
    "ACTORS",
    "ASSIGNMENTS",
    "DOC",
    "METROLOGY",
    "ROW_IDS",
    "actors",
    "edits",
    "field_paths",
    "filled_protocols",
    "histories",
    "registry_runs",
    "row_ids",
    "shares",
    "stamp_history",
    "values_for",
]

METROLOGY: Template = next(
    template for template in builtin_templates() if template.ref == "metrology_supervision@1"
)
"""The built-in state metrological supervision protocol every generated op is valid for."""

DOC = "0b7e4c2a-6d1f-4a8e-9c3b-5f2d8e1a7c40"
"""The one protocol the generated histories edit."""

ACTORS = ("tablet-a", "tablet-b", "tablet-c")
ROW_IDS = (
    "1f0c6a52-3b7d-4e21-8f9a-0c5d6e7f8a91",
    "7a3e9b14-2c6f-4d58-a1b0-9e8d7c6b5a42",
    "c4d2e8f6-0a1b-4c3d-9e5f-6a7b8c9d0e13",
)
ASSIGNMENTS = ("asg-tashkent-17", "asg-samarkand-03")

BASE_MS = 1_717_000_000_000
"""Generated stamps start near June 2024, so ms and counter both take part in ordering."""

_TEXT_ALPHABET = (
    "abcxyz019 -./"
    "ABC"
    "абвгдеёжйщыэюя"  # Russian
    "ўқғҳ"  # Uzbek Cyrillic
    "ʻ"  # U+02BB, the Uzbek Latin okina in oʻ and gʻ
    "\u0301\u0306"  # combining acute and breve: NFC must fold them
)


def actors() -> st.SearchStrategy[str]:
    """A device id from the small pool."""
    return st.sampled_from(ACTORS)


def row_ids() -> st.SearchStrategy[str]:
    """A row UUID from the small pool (mostly the first), so rows of different devices collide."""
    return st.one_of(st.just(ROW_IDS[0]), st.sampled_from(ROW_IDS))


def _decimals(scale: int | None) -> st.SearchStrategy[str]:
    digits = 6 if scale is None else scale

    @st.composite
    def build(draw: st.DrawFn) -> str:
        sign = draw(st.sampled_from(["", "", "-"]))
        whole = draw(st.integers(0, 1_000))
        places = draw(st.integers(0, digits))
        if places == 0:
            return f"{sign}{whole}"
        fraction = draw(st.integers(0, 10**places - 1))
        return f"{sign}{whole}.{fraction:0{places}d}"

    return build()


def _datetimes() -> st.SearchStrategy[str]:
    offsets = st.sampled_from([UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-3))])
    return st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=offsets  # noqa: DTZ001
    ).map(lambda moment: moment.isoformat(timespec="seconds"))


def values_for(field: Field) -> st.SearchStrategy[Any]:
    """Values ``values.check_value`` accepts for ``field`` (never null; see ``edits``)."""
    if field.type == "text":
        if field.pattern == "^[0-9]{9}$":
            return st.text("0123456789", min_size=9, max_size=9)
        limit = min(field.max_length or 24, 24)
        return st.text(_TEXT_ALPHABET, max_size=limit)
    if field.type == "decimal":
        return _decimals(field.scale)
    if field.type == "integer":
        return st.integers(-(10**6), 10**6)
    if field.type == "boolean":
        return st.booleans()
    if field.type == "date":
        return st.dates(date(2020, 1, 1), date(2035, 12, 31)).map(date.isoformat)
    if field.type == "datetime":
        return _datetimes()
    if field.type == "choice":
        return st.sampled_from([option.value for option in field.options])
    if field.type == "row":
        return row_ids()
    raise AssertionError(f"no strategy for field type {field.type}")


def _typed(fields: Sequence[Field]) -> list[Field]:
    return [field for field in fields if field.computed is None]


_TOP_FIELDS = _typed(METROLOGY.fields)
_ROW_FIELDS = {collection.name: _typed(collection.fields) for collection in METROLOGY.collections}
# measurements and instruments are where the rules bite (computed values, row references)
_HOT_COLLECTIONS = ["measurements"] * 3 + ["instruments"] * 3 + ["team", "reference_instruments"]


def _pick(fields: list[Field]) -> st.SearchStrategy[Field]:
    """A field, often one of the first few, so that devices write the same paths."""
    return st.one_of(st.sampled_from(fields[:3]), st.sampled_from(fields))


def _maybe_cleared(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values, values, values)


@st.composite
def _top_field_edit(draw: st.DrawFn) -> tuple[str, Any]:
    field = draw(_pick(_TOP_FIELDS))
    return field.name, draw(_maybe_cleared(values_for(field)))


@st.composite
def _row_field_edit(draw: st.DrawFn) -> tuple[str, Any]:
    collection = draw(st.sampled_from(_HOT_COLLECTIONS))
    field = draw(_pick(_ROW_FIELDS[collection]))
    value = draw(_maybe_cleared(values_for(field)))
    return f"{collection}/{draw(row_ids())}/{field.name}", value


@st.composite
def _whole_row_edit(draw: st.DrawFn) -> tuple[str, Any]:
    collection = draw(st.sampled_from(_HOT_COLLECTIONS))
    chosen = draw(st.lists(st.sampled_from(_ROW_FIELDS[collection]), min_size=1, max_size=5,
                           unique_by=lambda field: field.name))
    row = {field.name: draw(_maybe_cleared(values_for(field))) for field in chosen}
    if draw(st.integers(0, 5)) == 0:  # a row written and removed (or restored) in one op
        row["_deleted"] = draw(st.booleans())
    return f"{collection}/{draw(row_ids())}", row


@st.composite
def _removal(draw: st.DrawFn) -> tuple[str, Any]:
    collection = draw(st.sampled_from(_HOT_COLLECTIONS))
    removed = draw(st.sampled_from([True, True, False]))  # False restores a removed row
    return f"{collection}/{draw(row_ids())}/_deleted", removed


@st.composite
def _creation(draw: st.DrawFn) -> tuple[str, Any]:
    """The root op: the meta fields, and now and then the first values of top-level fields."""
    first = dict(draw(st.lists(_top_field_edit(), max_size=3)))
    return "", {**first, "_template": METROLOGY.ref,
                "_assignment": draw(st.sampled_from(ASSIGNMENTS))}


def edits() -> st.SearchStrategy[tuple[str, Any]]:
    """``(path, value)`` of one edit valid for the metrology template.

    Field edits (null clears), whole-row ops with a map value (now and then carrying the row's
    ``_deleted`` too), row removals and restores (``<collection>/<row>/_deleted``), and the root
    op that creates the protocol (with some first values).
    """
    return st.one_of(
        _top_field_edit(), _row_field_edit(), _row_field_edit(), _whole_row_edit(), _removal(),
        _removal(), _creation(),
    )


def field_paths() -> st.SearchStrategy[str]:
    """A path of a single typed field of the metrology template (top level or row)."""
    return st.one_of(_top_field_edit(), _row_field_edit()).map(lambda edit: edit[0])


@st.composite
def stamp_history(draw: st.DrawFn, authored: Sequence[tuple[str, str, Any]]) -> list[Op]:
    """Ops from ``(actor, path, value)`` in authoring order, stamped as real devices would.

    Each actor's ``seq`` counts up from 1 and its hlc strictly increases; devices start close
    together and step by small amounts, so stamps of different devices often tie.
    """
    seqs: dict[str, int] = {}
    clocks: dict[str, int] = {}
    ops = []
    for actor, path, value in authored:
        if actor in clocks:
            clocks[actor] += draw(st.integers(1, 3))
        else:
            clocks[actor] = pack(BASE_MS + draw(st.integers(0, 1)), draw(st.integers(0, 2)))
        seqs[actor] = seqs.get(actor, 0) + 1
        ops.append(Op(actor, seqs[actor], DOC, path, value, clocks[actor]))
    return ops


@st.composite
def histories(draw: st.DrawFn, min_size: int = 0, max_size: int = 24) -> list[Op]:
    """A list of ops on ``DOC`` by up to three devices, in the order they were made."""
    authored = draw(st.lists(st.tuples(actors(), edits()), min_size=min_size, max_size=max_size))
    return draw(stamp_history([(actor, path, value) for actor, (path, value) in authored]))


@st.composite
def shares(draw: st.DrawFn, count: int, max_size: int = 24) -> tuple[list[Op], list[list[Op]]]:
    """One history and what ``count`` replicas saw of it: overlapping subsets, each in its own
    order. Replicas must draw from one history: an op id ``(actor, seq)`` names one op only."""
    history = draw(histories(max_size=max_size))
    views = []
    for _ in range(count):
        picked = draw(st.lists(st.sampled_from(history), unique_by=lambda op: op.id)
                      if history else st.just([]))
        views.append(draw(st.permutations(picked)))
    return history, views


# -- Added for tests/test_convergence.py: edits a tablet makes through its editor, clock skews ----
# (kept apart from the strategies above, which they only use)

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
ALLOWED_AHEAD_MS = 5 * MINUTE_MS
"""How far ahead of the registry an op may be stamped (``ServerConfig.max_clock_ahead_ms``)."""

_SKEW_EDGES = [0, 1_000, -1_000, ALLOWED_AHEAD_MS - MINUTE_MS, ALLOWED_AHEAD_MS + MINUTE_MS,
               -ALLOWED_AHEAD_MS, HOUR_MS, -HOUR_MS, 3 * HOUR_MS, -3 * HOUR_MS]


def clock_skews() -> st.SearchStrategy[int]:
    """How far a tablet's wall clock is off, in ms: up to three hours either way, with the edges
    of the registry's allowance (a stamp up to five minutes ahead is accepted) drawn often."""
    return st.one_of(st.sampled_from(_SKEW_EDGES), st.integers(-3 * HOUR_MS, 3 * HOUR_MS))


COLLECTIONS = tuple(collection.name for collection in METROLOGY.collections)
"""The metrology template's collections."""


def top_field_sets(clearing: bool = True) -> st.SearchStrategy[tuple[str, Any]]:
    """``(field, value)`` for ``ProtocolEditor.set``: a typed top-level field and a valid value,
    sometimes null (which clears the field) when ``clearing``."""
    return (_top_field_edit() if clearing else
            st.sampled_from(_TOP_FIELDS).flatmap(
                lambda field: values_for(field).map(lambda value: (field.name, value))))


@st.composite
def row_values(draw: st.DrawFn, collection: str, clearing: bool = True) -> dict[str, Any]:
    """A non-empty map of typed fields of ``collection`` and valid values, for
    ``ProtocolEditor.add_row`` and ``update_row`` (values sometimes null when ``clearing``)."""
    chosen = draw(st.lists(st.sampled_from(_ROW_FIELDS[collection]), min_size=1, max_size=4,
                           unique_by=lambda field: field.name))
    return {field.name: draw(_maybe_cleared(values_for(field)) if clearing
                             else values_for(field)) for field in chosen}


@st.composite
def registry_runs(draw: st.DrawFn, max_size: int = 16) -> tuple[list[Op], frozenset[int]]:
    """Ops in the order a registry receives them, and the moments a device pulls.

    A pull at ``n`` happens after the registry has applied the first ``n`` ops; the last
    moment, after every op, is always a pull.
    """
    arrival = draw(st.permutations(draw(histories(min_size=1, max_size=max_size))))
    pulls = draw(st.sets(st.integers(0, len(arrival) - 1), max_size=4))
    return arrival, frozenset(pulls | {len(arrival)})


# -- Added for tests/test_whole_push.py: a protocol as one inspector fills it ---------------------

_ROW_UUIDS = st.uuids(version=4).map(str)


@st.composite
def filled_protocols(draw: st.DrawFn, assignment: str, max_rows: int = 8,
                     max_edits: int = 6) -> list[tuple[str, Any]]:
    """``(path, value)`` of a protocol as one inspector fills it: the creating op with first
    values, a row written whole for each row added (fresh UUIDs, as ``add_row`` makes them),
    then now and then a few more edits of any kind (``edits``): fields set or cleared, rows
    written again or removed, the root written again."""
    first = dict(draw(st.lists(_top_field_edit(), max_size=4)))
    authored: list[tuple[str, Any]] = [
        ("", {**first, "_template": METROLOGY.ref, "_assignment": assignment})]
    for _ in range(draw(st.integers(0, max_rows))):
        collection = draw(st.sampled_from(_HOT_COLLECTIONS))
        authored.append((f"{collection}/{draw(_ROW_UUIDS)}",
                         draw(row_values(collection, clearing=False))))
    authored += draw(st.lists(edits(), max_size=max_edits)
                     if draw(st.booleans()) else st.just([]))
    return authored
