"""The run of a protocol pushed whole: its ops, from the first, that the registry takes in
one pass (``server.sync.whole``).

A run is the op that creates the protocol and rows written whole, each once: the op path would
find each op good and write each of its fields once, comparing nothing. Every map is read
straight into its collection's struct (``RowType``, in C), and the forms of decimals and row
ids checked for many values at once (``field_sync.shapes``). ``runs_at_once`` checks the ops
of every protocol of a push at once, one call a collection where it can; when anything fails
there, ``one_run`` checks a protocol alone and finds where its run ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from field_sync.forms import Form
from field_sync.row_types import Shaped
from field_sync.shapes import ROW_ID
from schemas import WholeOp, WholeProtocol
from schemas.packed import array_head
from server.sync.oplog import MAX_SEQ, MAX_STAMP
from server.sync.packing import Written, pack_rows

__all__ = ["Written", "one_run", "read_map", "runs_at_once"]

_encode = msgspec.msgpack.Encoder().encode
_value = msgspec.msgpack.Decoder().decode
_map = msgspec.msgpack.Decoder(dict[str, msgspec.Raw]).decode
_maps = msgspec.msgpack.Decoder(list[dict[str, msgspec.Raw]]).decode


def read_map(value: msgspec.Raw) -> dict[str, msgspec.Raw] | None:
    """A map's values by name, each as its MessagePack; None for anything but a map."""
    try:
        return _map(value)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def one_run(ops: list[WholeOp], root: dict[str, msgspec.Raw], form: Form,
            latest_stamp: int) -> list[Written]:
    """The ops from the first, as long as they are maps written whole that the op path takes
    without comparing any field with another op's: the root (``root``, read already), then
    rows, each once, each map one its collection's type takes, seqs once each, and no stamp
    past the allowance."""
    run: list[Written] = []
    row_ids: list[str | None] = []
    shaped: Shaped = {ROW_ID: row_ids}
    rows: set[tuple[str, str]] = set()
    seqs: set[int] = set()
    highest = min(latest_stamp, MAX_STAMP)
    for seq, path, value, hlc in ops:
        if not (1 <= seq <= MAX_SEQ and 0 <= hlc <= highest) or seq in seqs:
            break
        collection, _, row = path.partition("/")
        if run and (not row or (collection, row) in rows):
            break  # the root or a row written again (compared), or not a row's path
        values = root if not run else read_map(value)
        row_type = form.row_type(collection)  # none for a name no path may hold
        if not values or row_type is None:
            break
        struct = row_type.read(value, values)
        if struct is None:
            break
        if row:
            row_ids.append(row)
        row_type.shaped(struct, shaped)
        run.append((collection, row, values, hlc, seq))
        rows.add((collection, row))
        seqs.add(seq)
    if not all(shape.takes(values) for shape, values in shaped.items()):
        return _shaped(run, form)
    return run


def _shaped(run: list[Written], form: Form) -> list[Written]:
    """``run`` up to the first op with a value not of its form (each op checked alone)."""
    for place, (collection, row, values, _, _) in enumerate(run):
        if row and not ROW_ID.takes_one(row) or \
                form.written_whole(collection, row, _value(_encode(values))) is None:
            return run[:place]
    return run


def runs_at_once(protocols: list[tuple[WholeProtocol, dict[str, msgspec.Raw]]], form: Form,
                 latest_stamp: int, device: str) -> list[tuple[list[int], bytes]] | None:
    """The seqs and packed registers (``packing``) of ``protocols`` (of one form, pushed by
    ``device``, with their roots read, each op after the first a row of its own written
    whole), each one run of all its ops, checked for all of them at once; None when a check
    fails (then each is checked alone)."""
    ops = [op for protocol, _ in protocols for op in protocol.ops]
    seqs, stamps = [op[0] for op in ops], [op[3] for op in ops]
    if min(seqs) < 1 or max(seqs) > MAX_SEQ or len(set(seqs)) < len(seqs) or min(stamps) < 0 \
            or max(stamps) > min(latest_stamp, MAX_STAMP):
        return None
    shaped: Shaped = {}
    root_type = form.row_type("")
    assert root_type is not None
    for protocol, root in protocols:
        struct = root_type.read(protocol.ops[0][2], root)
        if struct is None:
            return None
        root_type.shaped(struct, shaped)
    written = [(*path.partition("/"), value) for protocol, _ in protocols
               for _, path, value, _ in protocol.ops[1:]]
    shaped[ROW_ID] = [row for _, _, row, _ in written]
    maps = _read_rows(written, form, shaped)
    if maps is None or not all(shape.takes(values) for shape, values in shaped.items()):
        return None
    packed, start = [], 0
    for protocol, root in protocols:
        (seq, _, _, hlc), *rows = protocol.ops
        end = start + len(rows)
        registers = pack_rows(device, root, hlc, seq, (
            (collection, row, values, hlc, seq) for (seq, _, _, hlc), (collection, _, row, _),
            values in zip(rows, written[start:end], maps[start:end], strict=True)))
        packed.append(([op[0] for op in protocol.ops], registers))
        start = end
    return packed


def _read_rows(written: list[tuple[str, str, str, msgspec.Raw]], form: Form,
               shaped: Shaped) -> list[dict[str, msgspec.Raw]] | None:
    """The maps written to rows, in order, each collection's read in one call, their values
    of a form added to ``shaped``; None if a map is not one its collection's type takes."""
    collections = {collection for collection, _, _, _ in written}
    if "" in collections:
        return None  # a path that names no collection
    read: dict[str, Iterator[dict[str, msgspec.Raw]]] = {}
    for collection in collections:
        row_type = form.row_type(collection)  # none for a name no path may hold
        raws = [value for name, _, _, value in written if name == collection]
        rows = None if row_type is None else row_type.read_all(raws)
        if rows is None or row_type is None:
            return None
        row_type.shaped_all(rows, shaped)
        maps = _maps(array_head(len(raws)) + b"".join(raws))
        if not all(maps):
            return None  # an empty map: refused the long way
        read[collection] = iter(maps)
    return [next(read[collection]) for collection, _, _, _ in written]
