"""The schema is made and upgraded by Alembic migrations, and they match the tables."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from server import Database
from server.ingest import logged_ops
from server.schema import alembic_config, current_revision, head_revision, upgrade
from tests.databases import dispose_database, fresh_database


def _diffs(database: Database) -> list[object]:
    with database.writer.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    url = fresh_database(tmp_path / "registry", migrated=False)
    yield url
    dispose_database(url)


def test_an_empty_database_is_upgraded_to_the_tables_the_code_declares(empty_url: str) -> None:
    database = Database(empty_url)
    assert current_revision(database.writer) is None
    database.create_schema()
    assert current_revision(database.writer) == head_revision()
    assert _diffs(database) == []  # a table changed without its migration fails here
    database.dispose()


def _previous_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision())
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


def _op_log_indexes(database: Database) -> set[str | None]:
    return {index["name"] for index in inspect(database.writer).get_indexes("op_log")}


def test_a_database_at_the_previous_revision_keeps_its_data(empty_url: str) -> None:
    """Its logged ops stay, and a protocol's ops are found through its pushes afterwards."""
    previous = _previous_revision()
    old = Database(empty_url)
    upgrade(old.writer, previous)
    with old.writer.begin() as connection:
        for seq, doc, changed in ((1, "doc", 3), (2, "doc", 3), (3, "other", 3), (4, "doc", 5)):
            connection.execute(text(
                "INSERT INTO op_log (actor, seq, doc, path, value, hlc, changed) "
                "VALUES ('tablet', :seq, :doc, 'findings', :value, 7, :changed)"),
                {"seq": seq, "doc": doc, "changed": changed, "value": b"\xa2ok"})
    assert "ix_op_log_doc" in _op_log_indexes(old)
    old.dispose()

    database = Database(empty_url)
    database.create_schema()
    assert current_revision(database.writer) == head_revision() != previous
    with database.read() as session:
        rows = session.execute(text("SELECT actor, seq, hlc, changed FROM op_log")).all()
        pushes = session.execute(text("SELECT doc, changed FROM protocol_push")).all()
        found = [op.seq for op in logged_ops(session, "doc")]
    assert sorted(tuple(row) for row in rows) == [("tablet", seq, 7, changed) for seq, changed
                                                  in ((1, 3), (2, 3), (3, 3), (4, 5))]
    assert sorted(tuple(row) for row in pushes) == [("doc", 3), ("doc", 5), ("other", 3)]
    assert found == [1, 2, 4]
    assert _op_log_indexes(database) == {"ix_op_log_changed_doc"}
    assert _diffs(database) == []
    database.dispose()


def test_db_upgrade_command(tmp_path: Path, empty_url: str) -> None:
    command = [sys.executable, "-m", "field_sync_cli.main", "db", "upgrade", "--data-dir",
               str(tmp_path), "--db", empty_url]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert f"at revision {head_revision()} (was empty)" in first.stdout
    assert f"(was {head_revision()})" in again.stdout
