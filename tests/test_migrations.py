"""The schema is made and upgraded by Alembic migrations, and they match the tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from server import Database
from server.schema import current_revision, head_revision, upgrade


def _diffs(database: Database) -> list[object]:
    with database.writer.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


def test_an_empty_database_is_upgraded_to_the_tables_the_code_declares(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'registry.db'}")
    assert current_revision(database.writer) is None
    database.create_schema()
    assert current_revision(database.writer) == head_revision()
    assert _diffs(database) == []  # a table changed without its migration fails here
    database.dispose()


def test_a_database_at_the_previous_revision_keeps_its_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    old = create_engine(url)
    upgrade(old, "0001")
    with old.begin() as connection:
        connection.execute(text(
            "INSERT INTO op_log (actor, seq, doc, path, value, hlc, changed) "
            "VALUES ('tablet', 1, 'doc', 'findings', x'a26f6b', 7, 3)"))
    assert "ix_op_log_changed" not in {i["name"] for i in inspect(old).get_indexes("op_log")}
    old.dispose()

    database = Database(url)
    database.create_schema()
    assert current_revision(database.writer) == head_revision() != "0001"
    with database.read() as session:
        rows = session.execute(text("SELECT actor, seq, hlc, changed FROM op_log")).all()
    assert [tuple(row) for row in rows] == [("tablet", 1, 7, 3)]
    assert "ix_op_log_changed" in {i["name"] for i in inspect(database.writer)
                                   .get_indexes("op_log")}
    assert _diffs(database) == []
    database.dispose()


def test_db_upgrade_command(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "field_sync_cli.main", "db", "upgrade", "--data-dir",
               str(tmp_path)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert f"at revision {head_revision()} (was empty)" in first.stdout
    assert f"(was {head_revision()})" in again.stdout
