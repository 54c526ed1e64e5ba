"""Group commit: pushes that queue for the writer's turn commit together.

A registry under a fleet has many devices pushing at once, and each push's transaction ends in
a commit the database makes durable (SQLite's write-ahead log synced, PostgreSQL's WAL
flushed). Whoever finds the writer's turn free takes it and commits, in one transaction, every
push queued when it began (``GroupCommit.run``): each push in a savepoint of its own, taking
its own change number, so a push that fails leaves the others. The pushes queued meanwhile
wait, not for the interpreter's lock, but on a condition, and the first of them leads the next
group. Everything a push can check without the database is checked before it queues
(``server.sync.whole``).

Across the workers of ``serve --workers N`` (PostgreSQL) each worker groups its own pushes;
the groups queue on the change counter's row lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlmodel import Session

if TYPE_CHECKING:
    from server.data.database import Database

__all__ = ["GroupCommit"]

T = TypeVar("T")


@dataclass
class _Queued(Generic[T]):
    """A write waiting for its group: the work, and how it ended."""

    work: Callable[[Session], T]
    result: T | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class GroupCommit:
    """The writers of one database in this process, committing in groups.

    Args:
        database: where they write.
        most: the most writes one transaction takes (the rest lead the next group).
    """

    database: Database
    most: int = 64
    _queue: list[_Queued[object]] = field(default_factory=list)
    _leading: bool = False
    _turn: threading.Condition = field(default_factory=threading.Condition)

    @property
    def waiting(self) -> int:
        """How many writes wait for their group."""
        with self._turn:
            return len(self._queue)

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction, with the others queued now; its result, or its
        error (``work`` sees a session in a savepoint of its own)."""
        queued: _Queued[T] = _Queued(work)
        with self._turn:
            self._queue.append(queued)  # type: ignore[arg-type]
            while not queued.done and (self._leading or self._queue[0] is not queued):
                self._turn.wait()
            if not queued.done:  # first in the queue, and nobody writing: lead a group
                self._leading = True
                group, self._queue[:] = self._queue[:self.most], self._queue[self.most:]
        if not queued.done:
            try:
                self._commit(group)
            finally:
                with self._turn:
                    self._leading = False
                    self._turn.notify_all()
        if queued.error is not None:
            raise queued.error
        return queued.result  # type: ignore[return-value]

    def _commit(self, group: list[_Queued[object]]) -> None:
        """One transaction for ``group``: each write in a savepoint, one commit for all."""
        try:
            with self.database.write() as session:
                for queued in group:
                    try:
                        with session.begin_nested():
                            queued.result = queued.work(session)
                    except Exception as error:  # noqa: BLE001 (the write's own, given back to it)
                        queued.error = error
        except BaseException as error:  # the commit failed: none of them is written
            for queued in group:
                if queued.error is None:
                    queued.error = error
        finally:
            for queued in group:
                queued.done = True
