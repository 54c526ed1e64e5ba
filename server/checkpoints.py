"""Checkpoints of an SQLite registry's write-ahead log, run beside the writers, not by them.

SQLite copies its log back into the database file (a checkpoint) when a commit leaves the log
over a thousand pages, and that commit waits for the copy and its sync: in a push of 500
protocols, about a tenth of the registry's time. The registry's writers turn that off, and a
thread of its own checkpoints instead, woken by each commit and at most once per ``pause``. A
passive checkpoint blocks neither writers nor readers, and the sqlite3 module lets go of the
interpreter while it runs, so the copy and its sync overlap the next push. What a commit wrote
is durable when the commit returns (the log is synced), whether or not it was copied yet.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

__all__ = ["Checkpointer"]

log = logging.getLogger(__name__)


class Checkpointer:
    """Passive checkpoints of one SQLite database, in a thread started by the first commit."""

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
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
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
        with closing(sqlite3.connect(self.path, isolation_level=None)) as db:
            while True:
                self._wake.wait()
                if self._stop.is_set():
                    break
                self._wake.clear()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # the next commit tries again; writers are unaffected
                    log.exception("checkpoint of %s failed", self.path)
                self._stop.wait(self.pause)  # commits meanwhile only set the event
