"""The SQLite registry's log is copied back into its database by a thread, not by commits."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from server.data.checkpoints import BACKSTOP_PAGES, LOG_LIMIT_BYTES
from server.data.database import Database

PAGE_BYTES = 4096
ROWS = 400  # a row a page or so: well over what a commit used to checkpoint at (1,000 pages)
ROW_BYTES = 8000


def _commit(database: Database, rows: int, row_bytes: int) -> None:
    """One commit of ``rows`` rows of random bytes, as a push."""
    with database.write() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS filler "
                             "(id INTEGER PRIMARY KEY, body BLOB)"))
        session.execute(text("INSERT INTO filler (body) VALUES (randomblob(:size))"),
                        [{"size": row_bytes}] * rows)


def _fill(database: Database, rows: int = ROWS) -> None:
    for _ in range(rows // 100):  # several commits, as several pushes
        _commit(database, 100, ROW_BYTES)


def _wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_commits_leave_the_log_to_the_checkpoint_thread(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    database = Database(f"sqlite:///{path}")
    try:
        with database.write() as session:  # writers checkpoint only past the backstop
            assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == \
                BACKSTOP_PAGES > ROWS * ROW_BYTES // PAGE_BYTES
            assert session.execute(text("PRAGMA journal_size_limit")).scalar_one() == \
                LOG_LIMIT_BYTES
        before = path.stat().st_size
        _fill(database)
        # Copied into the database file soon after, without any further commit.
        assert _wait_for(lambda: path.stat().st_size >= before + ROWS * ROW_BYTES), \
            f"database file {path.stat().st_size} bytes, log {os.path.getsize(f'{path}-wal')}"
        with database.read() as session:
            assert session.execute(text("SELECT count(*) FROM filler")).scalar_one() == ROWS
        assert database.checkpointer is not None and database.checkpointer.running
    finally:
        database.dispose()
    assert database.checkpointer is not None and not database.checkpointer.running


def test_a_log_the_thread_falls_behind_on_stays_bounded(tmp_path: Path) -> None:
    """Commits back to back can outpace the thread (it pauses between checkpoints, and the log
    starts over only when a writer finds it copied whole): past the backstop a writer
    checkpoints itself."""
    path = tmp_path / "registry.sqlite"
    database = Database(f"sqlite:///{path}")
    assert database.checkpointer is not None
    database.checkpointer.pause = 600.0  # one checkpoint, then none for the rest of the test
    commit_bytes = 2 * 1024 * 1024
    written, largest = 0, 0
    try:
        while written < LOG_LIMIT_BYTES + BACKSTOP_PAGES * PAGE_BYTES // 2:
            _commit(database, 16, commit_bytes // 16)
            written += commit_bytes
            largest = max(largest, os.path.getsize(f"{path}-wal"))
    finally:
        database.dispose()
    assert written > BACKSTOP_PAGES * PAGE_BYTES
    assert largest <= BACKSTOP_PAGES * PAGE_BYTES + 2 * commit_bytes, largest


def test_disposing_stops_the_thread_and_the_data_stays(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    database = Database(f"sqlite:///{path}")
    assert database.checkpointer is not None and not database.checkpointer.running
    _fill(database, rows=100)
    assert database.checkpointer.running
    database.dispose()
    assert not database.checkpointer.running
    database.dispose()  # twice is harmless
    again = Database(f"sqlite:///{path}")
    try:
        with again.read() as session:
            assert session.execute(text("SELECT count(*) FROM filler")).scalar_one() == 100
    finally:
        again.dispose()


def test_a_database_in_memory_has_no_checkpoint_thread() -> None:
    database = Database("sqlite://")
    try:
        assert database.checkpointer is None
        with database.write() as session:
            session.execute(text("SELECT 1"))
    finally:
        database.dispose()
