"""The schema is made and upgraded by Alembic migrations, and they match the tables."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from server import Database
from server.schema import current_revision, head_revision, upgrade
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


def test_a_database_at_the_previous_revision_keeps_its_data(empty_url: str) -> None:
    old = Database(empty_url)
    upgrade(old.writer, "0001")
    with old.writer.begin() as connection:
        connection.execute(text(
            "INSERT INTO op_log (actor, seq, doc, path, value, hlc, changed) "
            "VALUES ('tablet', 1, 'doc', 'findings', :value, 7, 3)"), {"value": b"\xa2ok"})
    assert "ix_op_log_changed" not in {i["name"] for i in inspect(old.writer)
                                       .get_indexes("op_log")}
    old.dispose()

    database = Database(empty_url)
    database.create_schema()
    assert current_revision(database.writer) == head_revision() != "0001"
    with database.read() as session:
        rows = session.execute(text("SELECT actor, seq, hlc, changed FROM op_log")).all()
    assert [tuple(row) for row in rows] == [("tablet", 1, 7, 3)]
    assert "ix_op_log_changed" in {i["name"] for i in inspect(database.writer)
                                   .get_indexes("op_log")}
    assert _diffs(database) == []
    database.dispose()


def test_db_upgrade_command(tmp_path: Path, empty_url: str) -> None:
    command = [sys.executable, "-m", "field_sync_cli.main", "db", "upgrade", "--data-dir",
               str(tmp_path), "--db", empty_url]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert f"at revision {head_revision()} (was empty)" in first.stdout
    assert f"(was {head_revision()})" in again.stdout
