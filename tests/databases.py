"""The registry database a test runs on: SQLite, or PostgreSQL when the test command started one.

``./dev test`` runs the suite twice: on SQLite files, then with ``FIELD_SYNC_TEST_POSTGRES``
naming a private PostgreSQL server, where every test that wants a fresh registry gets a database
of its own (copied from one migrated once per session, which is much faster than migrating).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from schemas import Op
from server import Database
from server.sync.oplog import unpack

__all__ = ["ON_POSTGRES", "copy_database", "dispose_database", "execute", "fresh_database",
           "query"]

POSTGRES = os.environ.get("FIELD_SYNC_TEST_POSTGRES", "")
ON_POSTGRES = bool(POSTGRES)
_TEMPLATE = f"field_sync_migrated_{os.getpid()}"
_template_ready = False


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(POSTGRES, autocommit=True)


def _named(name: str) -> str:
    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


def _create(name: str, template: str = "template0") -> str:
    with _admin() as connection:
        # FILE_COPY: a small database is copied faster than WAL-logged block by block.
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" '  # noqa: S608
                           "STRATEGY FILE_COPY")
    return _named(name)


def _migrated_template() -> str:
    global _template_ready  # noqa: PLW0603  (made once per test session)
    if not _template_ready:
        with _admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{_TEMPLATE}"')
        database = Database(_create(_TEMPLATE))
        database.create_schema()
        database.dispose()
        _template_ready = True
    return _TEMPLATE


def fresh_database(folder: Path, *, migrated: bool = True) -> str:
    """The URL of a new, empty registry database: ``folder/field-sync.db`` on SQLite (where
    ``serve --data-dir folder`` would put it), a new PostgreSQL database otherwise. ``migrated``
    databases already hold the schema, the way every server start leaves them."""
    if not ON_POSTGRES:
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'field-sync.db'}"
    name = f"t_{uuid.uuid4().hex[:16]}"
    return _create(name, _migrated_template() if migrated else "template0")


def copy_database(url: str, folder: Path) -> str:
    """A consistent copy of a database nothing writes to right now."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "field-sync.db"
        with closing(sqlite3.connect(str(parsed.database))) as live, \
                closing(sqlite3.connect(target)) as copy:
            live.backup(copy)
        return f"sqlite:///{target}"
    return _create(f"t_{uuid.uuid4().hex[:16]}", str(parsed.database))


def dispose_database(url: str) -> None:
    """Drop a PostgreSQL test database (closing whatever is still connected); SQLite files go
    with their temporary folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    with _admin() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of one SQL statement, on either database."""
    database = Database(url)
    try:
        with database.writer.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        database.dispose()


def logged(url: str) -> list[tuple[Op, int]]:
    """Every op in the registry's op log, with the push (change number) that merged it, in
    seq order."""
    rows = query(url, "SELECT doc, changed, actor, ops FROM op_log")
    return sorted(((op, changed) for doc, changed, actor, packed in rows
                   for op in unpack(doc, actor, packed)), key=lambda pair: pair[0].seq)


def execute(url: str, sql: str, **params: Any) -> None:
    """Run one SQL statement and commit it (a test tampering with the registry's rows)."""
    database = Database(url)
    try:
        with database.writer.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        database.dispose()


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated registry database for one test."""
    url = fresh_database(tmp_path / "registry")
    yield url
    dispose_database(url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, leave out what never touches the registry's database: the
    SQLite pass has run it already, and it would run the same. On the SQLite pass, leave out
    what makes PostgreSQL servers of its own: it runs once, on the PostgreSQL pass."""
    marker = "database_free" if ON_POSTGRES else "own_postgres"
    left = [item for item in items if item.get_closest_marker(marker) is not None]
    if left:
        config.hook.pytest_deselected(items=left)
        left_out = set(map(id, left))
        items[:] = [item for item in items if id(item) not in left_out]


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _template_ready:
        dispose_database(_named(_TEMPLATE))

