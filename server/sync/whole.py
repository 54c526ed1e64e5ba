"""Protocols pushed whole: which of a new protocol's ops the registry takes in one pass.

A protocol the registry has never seen, all of whose ops are the pushing device's own, comes as
its ops, as the op log keeps them, each value the MessagePack the device wrote
(``schemas.WholeProtocol``). Most are an op that creates the protocol and a row written whole
for each row the inspector added: no op overwrites another, so the op path
(``server.sync.ingest``) would find each op good and write each of its fields once, with nothing to
compare. ``prepare_push`` finds that run of ops before the writer's turn, for all the protocols
of a push at once (``server.sync.runs``), and packs a protocol whose ops are all one run there and
then (``server.sync.packing``): its registers need no change number, as they won in the push that
creates the protocol (``schemas.packed``). In the writer's turn only what needs the database is
asked (is the protocol new, were its seqs seen, is its assignment the device's), and what was
packed is stored. Whatever follows the run (a field edited, a row removed or written again, a
signature) goes the op path, op by op, after the run merged as the op path merges it
(``NewProtocol``); a protocol whose run does not hold goes the op path whole. So the outcome
is the op path's by construction, and a test holds the two to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from field_sync.forms import Form, form_of
from field_sync.paths import ASSIGNMENT, SUPERSEDES, TEMPLATE, is_uuid, written_whole
from schemas import Op, Template, WholeOp, WholeProtocol
from server.sync.new_protocol import NewProtocol
from server.sync.oplog import MAX_STAMP
from server.sync.packing import Written, pack_run
from server.sync.runs import one_run, read_map, runs_at_once

__all__ = ["Prepared", "as_msgpack", "prepare_push"]

_encode = msgspec.msgpack.Encoder().encode
_value = msgspec.msgpack.Decoder().decode


@dataclass
class Prepared:
    """A protocol pushed whole, checked as far as its ops alone tell (before the writer's
    turn), and packed when its ops are all one run."""

    doc: str
    ops: list[WholeOp]
    seqs: list[int]
    """The seqs of its run: the ops from the first that may be taken in one pass (none: the op
    path takes them all)."""
    form: Form | None = None
    """The form of the protocol's template (with a run only)."""
    root: dict[str, msgspec.Raw] | None = None
    """The map its creating op writes, each value as its MessagePack (with a run only)."""
    registers: bytes = b""
    """The packed registers, when the run is all of ``ops``."""
    run: list[Written] | None = None
    """The run, when it is not all of ``ops`` (else it is read again when needed)."""
    logged: bytes = b""
    """Its ops as an op log row keeps them (``oplog.pack`` of the same ops gives the same),
    when it was packed."""

    @property
    def first_seq(self) -> int:
        """The seq of its first op (0 without ops)."""
        return self.ops[0][0] if self.ops else 0

    @property
    def whole(self) -> bool:
        """Whether every op is in the run (then it was packed)."""
        return bool(self.registers)

    @property
    def assignment(self) -> str:
        """The assignment the creating op names (with a run only)."""
        return str(self.value(ASSIGNMENT) or "")

    def value(self, name: str) -> Any:
        """A value the creating op writes (None when it writes none there)."""
        raw = None if self.root is None else self.root.get(name)
        return None if raw is None else _value(raw)

    @property
    def latest_hlc(self) -> int:
        """The latest stamp among its ops."""
        return max(hlc for _, _, _, hlc in self.ops)

    def as_ops(self, device: str, start: int = 0, end: int | None = None) -> list[Op]:
        """Its ops from ``start`` to ``end``, as the op path takes them."""
        doc = self.doc
        return [Op(device, seq, doc, path, _value(value), hlc)
                for seq, path, value, hlc in self.ops[start:end]]

    def merged(self, device: str, changed: int) -> NewProtocol:
        """The run, merged as the op path merges it, in push ``changed``."""
        assert self.form is not None and self.root is not None  # a run was found with them
        run = self.run if self.run is not None else one_run(self.ops, self.root, self.form,
                                                           MAX_STAMP)
        state = NewProtocol(self.doc, device, changed)
        for collection, row, values, hlc, seq in run:
            state.write(written_whole(collection, row, _value(_encode(values))), hlc, seq)
        return state


def prepare_push(protocols: list[WholeProtocol], device: str,
                 template_of: Callable[[str], Template | None],
                 latest_stamp: int) -> list[Prepared]:
    """What of each of ``protocols``, pushed by ``device``, may be taken in one pass, for a
    push whose latest allowed stamp is ``latest_stamp`` (``template_of`` finds a template the
    registry knows by its reference); packed, when that is all of it. The ops of all of them
    are checked at once (``runs_at_once``), and one by one only when that fails."""
    prepared = [Prepared(protocol.doc, protocol.ops, []) for protocol in protocols]
    by_form: dict[Form, list[int]] = {}  # those that look like one run, by form
    for place, protocol in enumerate(protocols):
        found = _screened(protocol, template_of)
        if found is None:
            continue
        each = prepared[place]
        each.root, each.form = found
        if _one_run_by_its_paths(protocol):
            by_form.setdefault(each.form, []).append(place)
        else:
            _alone(each, device, latest_stamp)
    for form, places in by_form.items():
        together = runs_at_once([(protocols[place], prepared[place].root or {})
                                 for place in places], form, latest_stamp, device)
        for number, place in enumerate(places):
            if together is None:
                _alone(prepared[place], device, latest_stamp)
            else:
                prepared[place].seqs, prepared[place].registers = together[number]
    for each in prepared:
        if each.registers:
            each.logged = _encode(each.ops)
    return prepared


def _alone(prepared: Prepared, device: str, latest_stamp: int) -> None:
    """Find a protocol's run by itself, and pack it if it is all of its ops."""
    assert prepared.form is not None and prepared.root is not None
    run = one_run(prepared.ops, prepared.root, prepared.form, latest_stamp)
    prepared.seqs = [seq for _, _, _, _, seq in run]
    if run and len(run) == len(prepared.ops):
        prepared.registers = pack_run(device, run)
    if not prepared.registers:
        prepared.run = run


def _screened(protocol: WholeProtocol, template_of: Callable[[str], Template | None],
              ) -> tuple[dict[str, msgspec.Raw], Form] | None:
    """The map of a protocol's creating op and the form of its template; None when the op path
    must take it (no creating op first, a correction, a template the registry does not know)."""
    ops = protocol.ops
    root = read_map(ops[0][2]) if ops and ops[0][1] == "" else None
    if not is_uuid(protocol.doc) or root is None or SUPERSEDES in root or TEMPLATE not in root \
            or ASSIGNMENT not in root:
        return None  # a correction is checked against what it corrects
    ref = _value(root[TEMPLATE])
    template = template_of(ref) if isinstance(ref, str) else None
    return None if template is None else (root, form_of(template))


def _one_run_by_its_paths(protocol: WholeProtocol) -> bool:
    """Whether each op after the first writes a row whole, each a row of its own (then the
    protocol is checked with the others at once)."""
    paths = [path for _, path, _, _ in protocol.ops]
    return len(set(paths)) == len(paths) and all(path.count("/") == 1 for path in paths[1:])


def as_msgpack(items: list[WholeProtocol]) -> list[WholeProtocol]:
    """Protocols pushed whole in a JSON body, their values as MessagePack (what is stored)."""
    read = msgspec.json.decode
    return [WholeProtocol(item.doc, [(seq, path, msgspec.Raw(_encode(read(value))), hlc)
                                     for seq, path, value, hlc in item.ops]) for item in items]
