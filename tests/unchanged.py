"""What a registry holds, row by row, to show that a refused request changed nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from field_sync_cli.local_server import LocalServer
from server import Database

__all__ = ["UNTRACKED", "database", "snapshot"]

UNTRACKED: dict[str, set[str] | None] = {
    "change_counter": None, "device": {"last_seen_ms"}, "web_session": None}
"""What a refused request may still move: the change counter (a push whose every op is
refused may use up a change number), when a device was last heard from (it was), and a console
session's own keeping (the page it shows next)."""


def snapshot(database: Database) -> dict[str, list[str]]:
    """Every row of every table, but for what a refused request may still move."""
    found: dict[str, list[str]] = {}
    with database.read() as session:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in UNTRACKED and UNTRACKED[table.name] is None:
                continue
            columns = [column for column in table.columns
                       if column.name not in (UNTRACKED.get(table.name) or set())]
            found[table.name] = sorted(map(repr, session.execute(select(*columns))))
    return found


@pytest.fixture(scope="module")
def database(server: LocalServer) -> Iterator[Database]:
    """The database of the tests' registry, opened beside it."""
    opened = Database(server.db_url)
    yield opened
    opened.dispose()
