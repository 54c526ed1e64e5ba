"""The tablet's own SQLite file: its identity, the outbox of its ops, and what it pulled.

A protocol on the tablet is the registry's state as last pulled (``base``) merged with every op
of this tablet's that the registry has not refused. Keeping the two apart means an op can be
re-stamped (after a clock correction) without disturbing what came from the registry, and a
refused op stays on the tablet, visible with its reason, without changing the protocol.

Every write is one transaction with ``synchronous=FULL``: what the inspector saved is on disk
before the call returns, and a dead battery loses nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from field_sync import DocumentState, Register
from schemas import Op, Template, VersionVector
from schemas.packed import pack_registers, unpack_registers
from schemas.signing import RegistryTime

__all__ = ["DeviceStore", "Filed", "OutboxEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    doc TEXT NOT NULL,
    path TEXT NOT NULL,
    value BLOB NOT NULL,
    hlc INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    code TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_doc ON outbox (doc);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status, seq);
CREATE TABLE IF NOT EXISTS document (
    id TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    assignment TEXT NOT NULL,
    base BLOB NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS template (ref TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS assignment (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS instrument (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS site (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS entity (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS team_member (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blob (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    origin TEXT NOT NULL,
    at_registry INTEGER NOT NULL DEFAULT 0,
    used_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS blob_use (
    hash TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (hash, doc)
);
"""

REFERENCE_TABLES = frozenset({"assignment", "instrument", "site", "entity", "team_member"})

Filed = tuple[str, str, str, bytes, bytes]
"""A pulled protocol as the tablet keeps it: id, template, assignment, and its registers and
version vector in MessagePack (``DeviceStore.base`` reads them back)."""

_encode = msgspec.msgpack.Encoder().encode
_vector = msgspec.msgpack.Decoder(VersionVector)
_template = msgspec.msgpack.Decoder(Template)


class OutboxEntry(msgspec.Struct, frozen=True):
    """One of this tablet's ops and what the registry said of it."""

    op: Op
    status: str
    """``pending`` (not yet acknowledged), ``accepted`` or ``rejected``."""
    code: str = ""
    reason: str = ""


class DeviceStore:
    """One enrolled tablet's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        # A protocol pulled whole is some 2.5 KB of registers: a 16 KB page holds six of them
        # where a 4 KB one holds one and leaves the rest empty, and a pull writes less (the
        # size takes on a new file only; an older tablet's file keeps its 4 KB pages).
        self._db.execute("PRAGMA page_size=16384")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable write."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows a read-only statement selects."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- meta -------------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        """A value kept under ``key``."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else msgspec.msgpack.decode(row[0])

    @staticmethod
    def put(db: sqlite3.Connection, key: str, value: Any) -> None:
        """Keep ``value`` under ``key`` (inside a transaction)."""
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _encode(value)))

    def registry_time(self) -> RegistryTime | None:
        """The latest registry time this tablet was told (what it signs with)."""
        raw = self.get("registry_time")
        return None if raw is None else msgspec.convert(raw, RegistryTime)

    def learn_registry_time(self, db: sqlite3.Connection, told: RegistryTime | None) -> None:
        """Keep ``told`` if it is later than the registry time kept (inside a transaction)."""
        kept = self.registry_time()
        if told is not None and (kept is None or told.at_ms > kept.at_ms):
            DeviceStore.put(db, "registry_time", told)

    # -- outbox -----------------------------------------------------------------------------

    @staticmethod
    def append_ops(db: sqlite3.Connection, ops: Iterable[Op]) -> None:
        """Add this tablet's new ops to the outbox (inside a transaction)."""
        db.executemany(
            "INSERT INTO outbox (seq, doc, path, value, hlc) VALUES (?, ?, ?, ?, ?)",
            [(op.seq, op.doc, op.path, _encode(op.value), op.hlc) for op in ops],
        )

    def outbox(self, status: str | None = None, doc: str | None = None,
               limit: int = -1, after: int = 0) -> list[OutboxEntry]:
        """Ops of this tablet in seq order after ``after``, by status and protocol if given."""
        clauses: list[str] = ["seq > ?"]
        args: list[object] = [after]
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        if doc is not None:
            clauses.append("doc = ?")
            args.append(doc)
        where = f"WHERE {' AND '.join(clauses)}"
        device = self.get("device_id", "")
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, doc, path, value, hlc, status, code, reason FROM outbox "  # noqa: S608
                f"{where} ORDER BY seq LIMIT ?", (*args, limit),
            ).fetchall()
        return [
            OutboxEntry(Op(device, seq, doc_id, path, msgspec.msgpack.decode(value), hlc),
                        status, code, reason)
            for seq, doc_id, path, value, hlc, status, code, reason in rows
        ]

    def highest_stamp(self, status: str | None = None) -> int:
        """The highest stamp among this tablet's ops with ``status`` (any: None; 0 if none)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(hlc) FROM outbox").fetchone() if status is None \
                else self._db.execute("SELECT MAX(hlc) FROM outbox WHERE status = ?",
                                      (status,)).fetchone()
        return int(row[0] or 0)

    @staticmethod
    def settle(db: sqlite3.Connection, results: Iterable[tuple[int, str, str, str]]) -> None:
        """Record the registry's answer for ops: ``(seq, status, code, reason)``."""
        # An acknowledged batch is mostly a run of consecutive seqs with one plain answer:
        # one statement a run, not one a seq.
        runs: list[list[Any]] = []  # [status, first seq, last seq]
        explained = []
        for seq, status, code, reason in results:
            if code or reason:
                explained.append((status, code, reason, seq))
            elif runs and runs[-1][0] == status and runs[-1][2] == seq - 1:
                runs[-1][2] = seq
            else:
                runs.append([status, seq, seq])
        db.executemany("UPDATE outbox SET status = ?, code = '', reason = '' "
                       "WHERE seq BETWEEN ? AND ?", runs)
        db.executemany("UPDATE outbox SET status = ?, code = ?, reason = ? WHERE seq = ?",
                       explained)

    @staticmethod
    def restamp(db: sqlite3.Connection, stamps: Iterable[tuple[int, int]]) -> None:
        """Give pending ops new clock stamps: ``(seq, hlc)``."""
        db.executemany("UPDATE outbox SET hlc = ?, status = 'pending', code = '', reason = '' "
                       "WHERE seq = ?", [(hlc, seq) for seq, hlc in stamps])

    # -- documents --------------------------------------------------------------------------

    @staticmethod
    def create_document(db: sqlite3.Connection, doc: str, template: str, assignment: str) -> None:
        """Record a protocol made on this tablet (inside a transaction)."""
        db.execute("INSERT INTO document (id, template, assignment, base, vector) "
                   "VALUES (?, ?, ?, ?, ?)", (doc, template, assignment, _encode({}), _encode({})))

    def base(self, doc: str) -> DocumentState | None:
        """The registry's state of ``doc`` as last pulled (empty for a new local protocol)."""
        with self._lock:
            row = self._db.execute("SELECT base, vector FROM document WHERE id = ?",
                                   (doc,)).fetchone()
        if row is None:
            return None
        return DocumentState(doc, DeviceStore.read_registers(row[0]), _vector.decode(row[1]))

    @staticmethod
    def filed(state: DocumentState) -> Filed:
        """A pulled state as ``save_bases`` takes it."""
        return DeviceStore.filed_as_sent(state.id, state.template_ref or "",
                                         state.assignment or "", pack_registers(state.registers),
                                         state.vector)

    @staticmethod
    def filed_as_sent(doc: str, template: str, assignment: str, registers: bytes,
                      vector: VersionVector) -> Filed:
        """A protocol taken whole as ``save_bases`` takes it, its registers the MessagePack
        the registry sent (the form this file keeps them in)."""
        return (doc, template, assignment, registers, _encode(vector))

    @staticmethod
    def read_registers(stored: bytes) -> dict[str, Register]:
        """Registers in the form this file keeps them (packed, or flat as an older registry
        sent them), as a registry sends them too."""
        return unpack_registers(stored)

    @staticmethod
    def save_bases(db: sqlite3.Connection, bases: Iterable[Filed]) -> None:
        """Store pulled states (inside a transaction)."""
        db.executemany(
            "INSERT INTO document (id, template, assignment, base, vector) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET template = excluded.template, "
            "assignment = excluded.assignment, base = excluded.base, vector = excluded.vector",
            bases,
        )

    def documents(self) -> list[tuple[str, str, str]]:
        """``(id, template, assignment)`` of every protocol on the tablet."""
        with self._lock:
            return self._db.execute(
                "SELECT id, template, assignment FROM document ORDER BY id").fetchall()

    # -- reference data ---------------------------------------------------------------------

    @staticmethod
    def save_templates(db: sqlite3.Connection, templates: Iterable[Template]) -> None:
        """Keep templates (inside a transaction)."""
        db.executemany("INSERT OR REPLACE INTO template (ref, body) VALUES (?, ?)",
                       [(template.ref, _encode(template)) for template in templates])

    def templates(self) -> list[Template]:
        """Every template on the tablet."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM template ORDER BY ref").fetchall()
        return [_template.decode(body) for (body,) in rows]

    @staticmethod
    def save_reference(db: sqlite3.Connection, table: str, rows: Iterable[tuple[str, Any]]) -> None:
        """Keep reference rows ``(id, struct)`` in ``table`` (inside a transaction)."""
        assert table in REFERENCE_TABLES
        db.executemany(f"INSERT OR REPLACE INTO {table} (id, body) VALUES (?, ?)",  # noqa: S608
                       [(row_id, _encode(body)) for row_id, body in rows])

    def reference(self, table: str, kind: type[Any]) -> list[Any]:
        """Every reference row of ``table``, decoded as ``kind``."""
        assert table in REFERENCE_TABLES
        with self._lock:
            rows = self._db.execute(f"SELECT body FROM {table} ORDER BY id").fetchall()  # noqa: S608
        return [msgspec.msgpack.decode(body, type=kind) for (body,) in rows]
