"""Engines and transactions.

SQLite runs in WAL mode with full sync, so an acknowledged push survives a power cut. Writers
open their transaction with ``BEGIN IMMEDIATE``: two pushes never both read and then fight to
upgrade their locks, they queue. Readers use plain deferred transactions and run beside a writer.
The log is copied back into the database file by a thread of its own (``server.data.checkpoints``);
a commit does it itself only past 64 MB of log.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy.engine import URL, make_url
from sqlmodel import Session, SQLModel, select

from schemas import builtin_templates
from server.authority.credentials import Credentials, add_generation
from server.data.checkpoints import Checkpointer, leave_checkpoints
from server.data.clock import now_ms
from server.data.schema import upgrade
from server.data.tables import ChangeCounter, TemplateRow
from server.sync.replica import PullReads
from server.sync.writers import GroupCommit

__all__ = ["Database"]

_BUSY_S = 30
"""How long a writer waits for the one before it before giving up (as SQLite's busy timeout)."""
_COUNTER = ChangeCounter.__table__  # type: ignore[attr-defined]  # SQLModel's table
_NEXT_CHANGE = (update(_COUNTER).where(_COUNTER.c.id == 1)
                .values(value=_COUNTER.c.value + 1).returning(_COUNTER.c.value))


def _sqlite_engine(url: str, *, immediate: bool, background_checkpoints: bool = False) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": _BUSY_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_S * 1000}")
        if background_checkpoints:
            leave_checkpoints(cursor)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _with_driver(url: URL) -> URL:
    """``postgresql://`` means the psycopg 3 driver (SQLAlchemy would pick psycopg2)."""
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


class Database:
    """The registry's database: a writer and a reader engine (the same one on PostgreSQL),
    and, on PostgreSQL, a streaming replica pull pages may read (``server.sync.replica``)."""

    def __init__(self, url: str, replica_url: str = "") -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.checkpointer: Checkpointer | None = None
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.checkpointer = Checkpointer(Path(parsed.database))
        # SQLite takes one writer at a time: the others of this process wait here, and start
        # the moment it is done, rather than in SQLite's busy handler, which polls them after
        # sleeps of up to 100 ms. (PostgreSQL writers queue on the change counter's row lock.)
        self._writers = threading.RLock() if self.is_sqlite else None
        self.group = GroupCommit(self)
        """Pushes that queue for the writer's turn commit together (``server.sync.writers``)."""
        if self.is_sqlite:
            self.writer = _sqlite_engine(url, immediate=True,
                                         background_checkpoints=self.checkpointer is not None)
            self.reader = _sqlite_engine(url, immediate=False)
        else:
            # Writers read committed and serialize on the change counter's row lock; readers
            # see one snapshot for the whole request, so a pull page's changes, vectors and
            # ceiling agree with each other.
            self.writer = create_engine(_with_driver(parsed), pool_pre_ping=True, pool_size=10,
                                        max_overflow=30)
            self.reader = self.writer.execution_options(isolation_level="REPEATABLE READ")
        self.pull_reads = PullReads(self.reader, replica_url)
        """Where pull pages are read: a read replica that has caught up, else here."""
        self.credentials = Credentials(self.reader)
        """Devices' credentials and the trust list, kept while no device or key changes."""

    def create_schema(self) -> None:
        """Bring the schema to the newest migration; add the change counter and the built-in
        templates if they are missing."""
        upgrade(self.writer)
        with self.write() as session:
            if session.get(ChangeCounter, 1) is None:
                session.add(ChangeCounter(id=1, value=0))
                session.flush()
            add_generation(session)
            self._install_builtin_templates(session)

    def _install_builtin_templates(self, session: Session) -> None:
        # Imported here: the audit log reads the op log, which writes through this module.
        from server.authority.audit import append as audit

        known = set(session.exec(select(TemplateRow.ref)))
        missing = [template for template in builtin_templates() if template.ref not in known]
        if missing:
            changed = self.next_change(session)
            for template in missing:
                session.add(TemplateRow(
                    ref=template.ref, body=msgspec.json.encode(template), changed=changed
                ))
            audit(session, now_ms(), "registry", "templates_installed", "built-in",
                  {"templates": sorted(template.ref for template in missing)}, changed)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction, committed on success. Write through here: on
        SQLite a commit made elsewhere does not wake the checkpoints, and its log waits for
        the next commit here (or for the writers' own checkpoint past 64 MB)."""
        with self._writer_turn(), Session(self.writer, expire_on_commit=False) as session, \
                session.begin():
            yield session
        if self.checkpointer is not None:
            self.checkpointer.committed()

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """On SQLite, wait until no other writer of this process is writing, giving up after
        as long as SQLite's busy timeout would."""
        if self._writers is None:
            yield
            return
        if not self._writers.acquire(timeout=_BUSY_S):
            raise sqlite3.OperationalError("database is locked")
        try:
            yield
        finally:
            self._writers.release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading."""
        with Session(self.reader, expire_on_commit=False) as session, session.begin():
            yield session

    @staticmethod
    def next_change(session: Session) -> int:
        """Take the next change number; the counter row stays locked until commit."""
        # On the session's connection, not through the session: the ORM's update (with its
        # session to synchronize) took 2-4 ms a write transaction, the statement alone under 1.
        return int(session.connection().execute(_NEXT_CHANGE).scalar_one())

    @staticmethod
    def existing(session: Session, table: type[SQLModel], ids: set[str]) -> set[str]:
        """Those of ``ids`` that ``table`` has, asked in one statement with one parameter (a
        batch may ask for hundreds: bound one by one, they cost more than the lookups)."""
        if not ids:
            return set()
        connection = session.connection()
        name = table.__tablename__
        if connection.dialect.name == "postgresql":
            found = connection.exec_driver_sql(
                f"SELECT id FROM {name} WHERE id = ANY(%s)", (list(ids),))  # noqa: S608
        else:
            found = connection.exec_driver_sql(
                f"SELECT id FROM {name} WHERE id IN (SELECT value FROM json_each(?))",  # noqa: S608
                (msgspec.json.encode(list(ids)).decode(),))
        return {row[0] for row in found}

    @staticmethod
    def insert_many(session: Session, table: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        """Bulk insert maps of column to value (see ``insert_rows``)."""
        if rows:
            columns = list(rows[0])
            if len(columns) > 1:  # itemgetter gives a tuple for two names or more
                values = itemgetter(*columns)
                Database.insert_rows(session, table, columns, [values(row) for row in rows])
            else:
                Database.insert_rows(session, table, columns, [(row[columns[0]],) for row in rows])

    @staticmethod
    def insert_rows(session: Session, table: type[SQLModel], columns: Sequence[str],
                    rows: Sequence[tuple[Any, ...]]) -> None:
        """Bulk insert straight through the driver (the ingest hot path: SQLAlchemy's
        per-value processing costs more than the insert itself): SQLite's ``executemany``, and
        PostgreSQL's ``COPY``, one statement for all the rows rather than one a row. The values
        must already be what the driver takes: str, int, bytes, None."""
        if not rows:
            return
        connection = session.connection()
        names = ", ".join(columns)
        if connection.dialect.name == "postgresql":
            raw = connection.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor, cursor.copy(
                    f"COPY {table.__tablename__} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        connection.exec_driver_sql(
            f"INSERT INTO {table.__tablename__} ({names}) "  # noqa: S608 (our names)
            f"VALUES ({', '.join([mark] * len(columns))})", rows)

    def dispose(self) -> None:
        """Stop the checkpoints and close every pooled connection."""
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.writer.dispose()
        self.pull_reads.dispose()
        if self.is_sqlite:
            self.reader.dispose()
