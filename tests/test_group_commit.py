"""Group commit: pushes that queue while another holds the writer's turn commit together, each
in a savepoint of its own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from field_sync import pack
from schemas import Op
from server.api.auth import Caller
from server.authority.audit import verify_chain
from server.data.database import Database
from server.data.tables import AuditEntryRow, ChangeCounter
from server.sync.ingest import Answers, ingest
from tests.databases import dispose_database, fresh_database
from tests.inprocess import InProcessRegistry
from tests.strategies import METROLOGY

ASSIGNMENT = "asg-group"
NOW_MS = 1_717_000_000_000


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[InProcessRegistry]:
    url = fresh_database(tmp_path / "registry")
    registry = InProcessRegistry(tmp_path / "registry", url)
    registry.add_inspector("inspector-1")
    registry.put_assignment(ASSIGNMENT, ["inspector-1"])
    yield registry
    registry.close()
    dispose_database(url)


def _commits(database: Database) -> list[int]:
    """A list that grows by one at each commit of a write."""
    made: list[int] = []
    event.listen(database.writer, "commit", lambda _connection: made.append(1))
    return made


def _holding(database: Database) -> tuple[threading.Thread, threading.Event]:
    """A write that holds the writer's turn until the event is set."""
    inside, leave = threading.Event(), threading.Event()

    def hold(session: Session) -> int:
        inside.set()
        leave.wait(timeout=30)
        return Database.next_change(session)

    holder = threading.Thread(target=database.group.run, args=(hold,))
    holder.start()
    assert inside.wait(timeout=30)
    return holder, leave


def _queued(database: Database, writes: list[Callable[[], object]]) -> list[threading.Thread]:
    """Each of ``writes`` in a thread of its own, once every one waits for its group."""
    threads = [threading.Thread(target=write) for write in writes]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while database.group.waiting < len(writes) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert database.group.waiting == len(writes)
    return threads


def _push(registry: InProcessRegistry, device: str, answers: dict[str, Answers]) -> None:
    doc = str(uuid.uuid4())
    ops = [Op(device, 1, doc, "", {"_template": METROLOGY.ref, "_assignment": ASSIGNMENT},
              pack(NOW_MS, 0))]
    answers[device] = ingest(registry.database, registry.catalog, Caller(device, "inspector-1"),
                             ops, NOW_MS, 300_000)


def test_pushes_that_queue_for_the_writers_turn_commit_together(
        registry: InProcessRegistry) -> None:
    """Five pushes wait while a write holds the turn; then one transaction commits them all,
    each with a change number of its own, and the audit chain holds."""
    database = registry.database
    commits = _commits(database)
    holder, leave = _holding(database)
    answers: dict[str, Answers] = {}
    devices = [f"tablet-{number}" for number in range(5)]
    threads = _queued(database, [lambda device=device: _push(registry, device, answers)
                                 for device in devices])
    leave.set()
    for thread in [holder, *threads]:
        thread.join(timeout=30)
    assert len(commits) == 2  # the holder's, then the five at once
    assert all(answers[device].results[0].status == "accepted" for device in devices)
    with database.read() as session:
        assert verify_chain(session)[1] is None
        pushes = list(session.exec(select(AuditEntryRow.changed)
                                   .where(AuditEntryRow.action == "push")))
    assert len(pushes) == len(set(pushes)) == 5  # a change number each


def test_a_write_that_fails_in_a_group_leaves_the_others(registry: InProcessRegistry) -> None:
    """Its savepoint is rolled back (the change number it took too) and its error raised to it
    alone; the others commit."""
    database = registry.database
    before = _counter(database)
    holder, leave = _holding(database)
    answers: dict[str, Answers] = {}
    failed: list[BaseException] = []

    def failing() -> None:
        def write(session: Session) -> None:
            Database.next_change(session)
            raise RuntimeError("a write that fails")
        try:
            database.group.run(write)
        except RuntimeError as error:
            failed.append(error)

    threads = _queued(database, [lambda: _push(registry, "tablet-a", answers), failing,
                                 lambda: _push(registry, "tablet-b", answers)])
    leave.set()
    for thread in [holder, *threads]:
        thread.join(timeout=30)
    assert [str(error) for error in failed] == ["a write that fails"]
    assert {device: answer.results[0].status for device, answer in answers.items()} == {
        "tablet-a": "accepted", "tablet-b": "accepted"}
    assert len(registry.protocol_ids()) == 2
    assert _counter(database) == before + 3  # the holder and the two pushes


def _counter(database: Database) -> int:
    with database.read() as session:
        return session.exec(select(ChangeCounter.value)).one()
