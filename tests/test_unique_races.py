"""Two requests making the same record at once, against a real registry process on PostgreSQL.

Each create checks that the id is free, then inserts. On PostgreSQL two such requests can both
find it free (neither has committed), and the second's insert breaks the primary key: that
must answer 409 as the check would have, not 500. The test makes the race happen every time:
it holds the change counter's row lock, which every write takes before it commits, until both
requests wait on it, having checked already.

On SQLite a writer holds the whole database from its first statement, so the race cannot
happen there.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from field_sync_cli.local_server import LocalServer
from server.api.problems import already_made
from tests.databases import ON_POSTGRES

pytestmark = pytest.mark.e2e


def _waiting(connection: psycopg.Connection[Any]) -> int:
    """Requests of this database waiting for a lock (asked outside a transaction: within
    one, PostgreSQL shows the same snapshot of its activity every time)."""
    row = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                             "current_database() AND wait_event_type = 'Lock'").fetchone()
    assert row is not None
    return int(row[0])


def _race(server: LocalServer, path: str, body: dict[str, Any]) -> list[httpx.Response]:
    """Two POSTs of ``body`` to ``path``, both past their check before either commits."""
    assert server.db_url
    headers = {"Authorization": f"Bearer {server.admin_token}", "Accept": "application/json"}
    with psycopg.connect(server.db_url) as holder, \
            psycopg.connect(server.db_url, autocommit=True) as watcher, \
            ThreadPoolExecutor(2) as pool:
        holder.execute("SELECT value FROM change_counter WHERE id = 1 FOR UPDATE")
        sent = [pool.submit(httpx.post, f"{server.url}{path}", json=body, headers=headers,
                            timeout=30) for _ in range(2)]
        deadline = time.monotonic() + 20
        while _waiting(watcher) < 2:
            assert time.monotonic() < deadline, "the two requests never met at the lock"
            assert not any(future.done() for future in sent), [f.result().text for f in sent]
            time.sleep(0.02)
        holder.commit()
        return sorted((future.result() for future in sent), key=lambda answer: answer.status_code)


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite writers take turns whole")
@pytest.mark.parametrize(("path", "body"), [
    ("/v1/admin/inspectors", {"full_name": "Dilshod Rahimov"}),
    ("/v1/admin/supervisors", {"full_name": "Malika Tosheva", "regions": []}),
], ids=["inspector", "supervisor"])
def test_two_creates_of_one_id_at_once_answer_created_and_conflict(
        server: LocalServer, path: str, body: dict[str, Any]) -> None:
    record_id = f"race-{secrets.token_hex(4)}"
    made, refused = _race(server, path, {"id": record_id, **body})
    assert made.status_code == 201, made.text
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "already_exists"
    # The registry goes on: the record is there once, and the next create is refused as usual.
    again = httpx.post(f"{server.url}{path}", json={"id": record_id, **body},
                       headers={"Authorization": f"Bearer {server.admin_token}"})
    assert again.status_code == 409 and again.json()["code"].endswith("_exists")


@pytest.mark.database_free
def test_only_a_unique_violation_is_answered_as_a_conflict() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE record (id TEXT PRIMARY KEY, name TEXT NOT NULL)"))
        connection.execute(text("INSERT INTO record VALUES ('a', 'first')"))
    for statement, conflict in (("INSERT INTO record VALUES ('a', 'again')", True),
                                ("INSERT INTO record VALUES ('b', NULL)", False)):
        with pytest.raises(IntegrityError) as broken, engine.begin() as connection:
            connection.execute(text(statement))
        found = already_made(broken.value)
        assert (found is not None) == conflict
        assert found is None or (found.status_code, found.code) == (409, "already_exists")
