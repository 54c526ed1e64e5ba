"""How a tablet cuts its outbox into pushes, and when two pushes are on the wire at once."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import msgspec
import pytest

from client_lib import Tablet
from client_lib.store import Pending
from client_lib.sync import _may_join, _touched
from schemas import PushRequest, PushResponse
from tests.inprocess import InProcessRegistry, InProcessTransport
from tests.live import PASSPHRASE, TEMPLATE

OPS_A_PROTOCOL = 4
"""The creating op and three edits."""


class _Recording(InProcessTransport):
    """The registry's transport, recording each push's protocols and which pushes were on the
    wire together. The first push waits up to ``hold_first`` seconds for a second one to be
    sent before it goes on."""

    def __init__(self, registry: InProcessRegistry, hold_first: float = 0) -> None:
        super().__init__(registry.database, registry.keys, registry.catalog, registry.config,
                         registry.clock)
        self.pushes: list[list[str]] = []
        """Each push's ops, as the protocol each op is of."""
        self.together: list[tuple[set[str], set[str]]] = []
        """The protocols of two pushes on the wire at the same time."""
        self._on_wire: list[set[str]] = []
        self._lock = threading.Lock()
        self._hold = hold_first
        self._second = threading.Event()

    def push(self, token: str, batch: PushRequest) -> PushResponse:
        docs = sorted([*(op.doc for op in batch.ops),
                       *(item.doc for item in batch.protocols for _ in item.ops)])
        with self._lock:
            first = not self.pushes
            self.pushes.append(docs)
            self.together += [(set(docs), other) for other in self._on_wire]
            self._on_wire.append(set(docs))
        if first:
            self._second.wait(timeout=self._hold)
        else:
            self._second.set()
        try:
            return super().push(token, batch)
        finally:
            with self._lock:
                self._on_wire.remove(set(docs))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[InProcessRegistry]:
    registry = InProcessRegistry(tmp_path / "registry", f"sqlite:///{tmp_path}/registry.db")
    registry.add_inspector("inspector-1")
    registry.put_assignment("asg-1", ["inspector-1"])
    yield registry
    registry.close()


def _tablet(registry: InProcessRegistry, transport: _Recording, folder: Path,
            protocols: int, edits: int = OPS_A_PROTOCOL - 1) -> Tablet:
    tablet = Tablet(folder / "tablet.sqlite", PASSPHRASE, transport=transport)
    tablet.enroll(registry.enrollment_code("inspector-1"), "https://registry.test")
    tablet.pull()  # its assignments
    for number in range(protocols):
        protocol = tablet.create_protocol(TEMPLATE, "asg-1", {"number": f"N-{number}"})
        for edit in range(edits):
            with tablet.edit(protocol) as editor:
                editor.set("findings", f"edit {edit}")
    return tablet


def _runs(pushes: list[list[str]]) -> list[str]:
    """The protocols in the order their ops went, one entry a run of ops."""
    runs: list[str] = []
    for docs in pushes:
        for doc in docs:
            if not runs or runs[-1] != doc:
                runs.append(doc)
    return runs


def test_a_push_ends_where_a_protocol_does(registry: InProcessRegistry, tmp_path: Path) -> None:
    """Pushes of ten ops take two whole protocols of four ops, not two and a half: the third
    starts the next push. A protocol bigger than a push still goes, a push at a time."""
    transport = _Recording(registry)
    tablet = _tablet(registry, transport, tmp_path, protocols=5)
    report = tablet.push(batch_size=10)
    assert report.ok and report.accepted == 5 * OPS_A_PROTOCOL
    assert [len(docs) for docs in transport.pushes] == [8, 8, 4]
    assert len(_runs(transport.pushes)) == 5  # no protocol split between two pushes
    tablet.close()

    big = _Recording(registry)
    tablet = _tablet(registry, big, tmp_path / "big", protocols=1, edits=24)
    assert tablet.push(batch_size=10).accepted == 25
    assert [len(docs) for docs in big.pushes] == [10, 10, 5]
    tablet.close()


def test_two_pushes_without_a_protocol_in_common_are_on_the_wire_together(
        registry: InProcessRegistry, tmp_path: Path) -> None:
    """The second push goes while the first waits for its answer; every op lands, and the
    answers are recorded for the ops they belong to."""
    transport = _Recording(registry, hold_first=10)
    tablet = _tablet(registry, transport, tmp_path, protocols=4)
    report = tablet.push(batch_size=8)
    assert report.ok and (report.pushed, report.accepted) == (16, 16)
    assert transport.together, "the second push waited for the first"
    assert all(not (one & other) for one, other in transport.together)
    assert {entry.status for entry in tablet.store.outbox()} == {"accepted"}
    tablet.close()


def test_a_push_sharing_a_protocol_with_one_on_the_wire_waits_for_its_answer(
        registry: InProcessRegistry, tmp_path: Path) -> None:
    """A protocol bigger than a push is sent a push at a time, each after the answer to the
    one before (the first is held a second, time enough for a second push to start, were it
    sent): its ops arrive in order, and none is refused for want of its creating op."""
    transport = _Recording(registry, hold_first=1)
    tablet = _tablet(registry, transport, tmp_path, protocols=1, edits=24)
    report = tablet.push(batch_size=10)
    assert (report.accepted, report.rejected) == (25, 0)
    assert len(transport.pushes) == 3
    assert transport.together == []
    tablet.close()


def _entries(*ops: tuple[str, str, object]) -> list[Pending]:
    return [(seq, doc, path, msgspec.msgpack.encode(value), seq)
            for seq, (doc, path, value) in enumerate(ops, start=1)]


_A, _B, _C = (str(uuid.UUID(int=number)) for number in (1, 2, 3))


def test_a_batch_that_signs_or_starts_a_correction_goes_alone() -> None:
    """Signing registers a protocol (the next registry number, and a correction's signing
    supersedes another protocol), and a correction needs the one it corrects signed and not yet
    superseded: such a batch is never on the wire with another, whatever their protocols."""
    edits = _entries((_A, "number", "N-1"), (_A, "findings", "x"))
    other = _entries((_B, "number", "N-2"))
    signs = _entries((_C, "number", "N-3"), (_C, "_freeze", {"vector": {}, "content_hash": ""}))
    corrects = _entries((_C, "", {"_template": TEMPLATE, "_assignment": "asg-1",
                                  "_supersedes": _B}))
    assert _touched(edits) == {_A}
    assert _touched(signs) is None and _touched(corrects) is None
    on_wire: deque[tuple[list[Pending], set[str] | None, Future[Any]]] = deque()
    assert _may_join(_touched(signs), on_wire)  # alone, it goes
    on_wire.append((edits, _touched(edits), Future()))
    assert _may_join(_touched(other), on_wire)
    assert not _may_join(_touched(edits), on_wire)
    assert not _may_join(_touched(signs), on_wire)
    assert not _may_join(_touched(corrects), on_wire)
    on_wire[0] = (signs, _touched(signs), Future())
    assert not _may_join(_touched(other), on_wire)


def test_a_writer_waits_for_the_one_before_and_an_error_lets_the_next_one_in(
        registry: InProcessRegistry) -> None:
    """SQLite writers of one process take turns; one that fails gives its turn up."""
    database = registry.database
    inside, leave, second_done = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with database.write():
            inside.set()
            leave.wait(timeout=10)

    def second() -> None:
        with database.write():
            second_done.set()

    holder = threading.Thread(target=first)
    holder.start()
    inside.wait(timeout=10)
    waiter = threading.Thread(target=second)
    waiter.start()
    assert not second_done.wait(timeout=0.5)  # still the first one's turn
    leave.set()
    holder.join(timeout=10)
    waiter.join(timeout=10)
    assert second_done.is_set()

    with pytest.raises(RuntimeError), database.write():
        raise RuntimeError("a writer that fails")
    after = threading.Thread(target=second)
    second_done.clear()
    after.start()
    after.join(timeout=10)
    assert second_done.is_set()
