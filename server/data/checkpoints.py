"""Checkpoints of an SQLite registry's write-ahead log, run beside the writers, not by them.

SQLite copies its log back into the database file (a checkpoint) when a commit leaves the log
over a thousand pages, and that commit waits for the copy and its sync: in a push of 500
protocols, about a tenth of the registry's time. The registry's writers leave that to a thread
of its own, woken by each commit and at most once per ``pause``. A passive checkpoint blocks
neither writers nor readers, and the sqlite3 module lets go of the interpreter while it runs,
so the copy and its sync overlap the next push. What a commit wrote is durable when the commit
returns (the log is synced), whether or not it was copied yet.

The log starts over from its beginning only when a writer finds it copied whole; a run of big
commits can outpace the thread, so writers still checkpoint themselves past ``BACKSTOP_PAGES``
(a few pushes' worth, where SQLite's own default is a thousand pages), and the file is cut back
to ``LOG_LIMIT_BYTES`` when the log starts over.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

__all__ = ["BACKSTOP_PAGES", "LOG_LIMIT_BYTES", "Checkpointer", "leave_checkpoints"]

log = logging.getLogger(__name__)

BACKSTOP_PAGES = 16_384
"""A writer's own checkpoint threshold: 64 MB of 4 KB pages."""
LOG_LIMIT_BYTES = 64 * 1024 * 1024


def leave_checkpoints(connection: Any) -> None:
    """Set up a writer's connection to leave checkpoints to a ``Checkpointer``."""
    connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    connection.execute(f"PRAGMA journal_size_limit={LOG_LIMIT_BYTES}")


class Checkpointer:
    """Passive checkpoints of one SQLite database, in a thread started by the first commit (and
    started again by the next one if it ever stopped on an error)."""

    def __init__(self, path: Path, pause: float = 0.25) -> None:
        self.path = path
        self.pause = pause
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the thread is there (from the first commit until ``close``)."""
        return self._thread is not None and self._thread.is_alive()

    def committed(self) -> None:
        """A writer committed: the log has grown, so checkpoint soon."""
        if not self.running:
            with self._lock:
                if not self.running and not self._stop.is_set():
                    self._thread = threading.Thread(target=self._run, name="wal-checkpoint",
                                                    daemon=True)
                    self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread after the checkpoint under way, if any (SQLite checkpoints what is
        left when its last connection closes)."""
        with self._lock:
            self._stop.set()
            self._wake.set()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        try:
            with closing(sqlite3.connect(self.path, isolation_level=None)) as db:
                db.execute("PRAGMA synchronous=FULL")  # the database file's sync, as writers'
                while True:
                    self._wake.wait()
                    if self._stop.is_set():
                        return
                    self._wake.clear()
                    try:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:  # the next commit wakes it again; writers go on
                        log.exception("checkpoint of %s failed", self.path)
                    self._stop.wait(self.pause)  # commits meanwhile only set the event
        except sqlite3.Error:  # the next commit starts a thread again
            log.exception("checkpoints of %s stopped", self.path)
