"""Protocols pushed whole: which of a new protocol's ops the registry takes in one pass.

A protocol the registry has never seen, all of whose ops are the pushing device's own, comes as
its ops, as the op log keeps them (``schemas.WholeProtocol``). Most are an op that creates the
protocol and a row written whole for each row the inspector added: no op overwrites another,
so the op path (``server.ingest``) would find each op good and write each of its fields once,
with nothing to compare. ``prepare`` finds that run of ops before the writer's turn: each map
through its collection's row type (one ``msgspec.convert``, in C), stamps and seqs in bounds,
each row and seq once; and writes the run straight into the protocol's packed registers
(``NewProtocol``, whose registers need no change number: they won in the push that creates the
protocol). In the writer's turn only what needs the database is asked (is the protocol new,
were its seqs seen, is its assignment the device's), and what was packed is stored. Whatever
follows the run (a field edited, a row removed or written again, a signature) goes the op path,
op by op; a protocol whose run does not hold goes the op path whole. So the outcome is the op
path's by construction, and a test holds the two to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from field_sync.errors import InvalidOperation
from field_sync.forms import Form, form_of
from field_sync.paths import (
    ASSIGNMENT,
    SUPERSEDES,
    TEMPLATE,
    FieldPath,
    is_uuid,
    parse_path,
)
from schemas import Op, Template, WholeOp, WholeProtocol
from server.new_protocol import NewProtocol
from server.oplog import MAX_SEQ, MAX_STAMP
from server.oplog import pack_whole as _log

__all__ = ["Prepared", "prepare"]


@dataclass
class Prepared:
    """A protocol pushed whole, checked as far as its ops alone tell, and its run of ops
    merged and packed (all before the writer's turn)."""

    doc: str
    ops: list[WholeOp]
    seqs: list[int]
    """The seqs of the run: the ops from the first that may be taken in one pass (none: the
    protocol goes the op path)."""
    form: Form | None = None
    """The form of the protocol's template (with a run only)."""
    assignment: str = ""
    """The assignment its creating op names (with a run only)."""
    state: NewProtocol | None = None
    """The run, merged (with a run only)."""
    registers: bytes = b""
    """``state``, packed as the registry stores it."""
    log: bytes = b""
    """The ops, as an op log row keeps them (when the run is all of them)."""

    @property
    def first_seq(self) -> int:
        """The seq of its first op (0 without ops)."""
        return self.ops[0][0] if self.ops else 0

    @property
    def latest_hlc(self) -> int:
        """The latest stamp among its ops."""
        return max(hlc for _, _, _, hlc in self.ops)

    def as_ops(self, device: str, start: int = 0, end: int | None = None) -> list[Op]:
        """Its ops from ``start`` to ``end``, as the op path takes them."""
        doc = self.doc
        return [Op(device, seq, doc, path, value, hlc)
                for seq, path, value, hlc in self.ops[start:end]]


def prepare(item: WholeProtocol, device: str, template_of: Callable[[str], Template | None],
            latest_stamp: int) -> Prepared:
    """What of ``item``, pushed by ``device``, may be taken in one pass, for a push whose latest
    allowed stamp is ``latest_stamp`` (``template_of`` finds a template the registry knows by
    its reference); that run merged and packed."""
    ops = item.ops
    root = ops[0][2] if ops and ops[0][1] == "" else None
    if not is_uuid(item.doc) or type(root) is not dict or SUPERSEDES in root:
        return Prepared(item.doc, ops, [])  # a correction is checked against what it corrects
    ref, assignment = root.get(TEMPLATE), root.get(ASSIGNMENT)
    template = template_of(ref) if isinstance(ref, str) else None
    if template is None or not isinstance(assignment, str):
        return Prepared(item.doc, ops, [])
    form = form_of(template)
    state = NewProtocol(item.doc, device, 0)  # its change number comes in the writer's turn
    seqs = _run(ops, form, latest_stamp, state)
    if not seqs:
        return Prepared(item.doc, ops, [])
    whole = len(seqs) == len(ops)
    return Prepared(item.doc, ops, seqs, form, assignment, state, state.encode(),
                    _log(ops) if whole else b"")


def _run(ops: list[WholeOp], form: Form, latest_stamp: int, state: NewProtocol) -> list[int]:
    """Merge into ``state`` the ops from the first, as long as they are maps written whole that
    the op path takes without comparing any field with another op's (the root, then rows, each
    once, each map one its collection's row type takes, seqs once each, no stamp past the
    allowance); their seqs."""
    seqs: list[int] = []
    seen: set[int] = set()
    rows: set[tuple[str, str]] = set()
    highest = min(latest_stamp, MAX_STAMP)
    for place, (seq, path, value, hlc) in enumerate(ops):
        if not (1 <= seq <= MAX_SEQ and 0 <= hlc <= highest) or seq in seen or \
                type(value) is not dict:
            break
        where = ("", "") if place == 0 else _whole_row(path)
        if where is None or where in rows:
            break  # not a row's path, the root or a row written again (compared), or bad
        written = form.written_whole(*where, value)
        if written is None:
            break
        state.write(written, hlc, seq)
        rows.add(where)
        seen.add(seq)
        seqs.append(seq)
    return seqs


def _whole_row(path: str) -> tuple[str, str] | None:
    """``(collection, row)`` of a whole row's path; None for any other path, good or bad."""
    try:
        where = parse_path(path) if path else None
    except InvalidOperation:
        return None
    return None if where is None or isinstance(where, FieldPath) else where
