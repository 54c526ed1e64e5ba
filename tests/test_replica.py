"""Pulls read from a streaming replica of the registry's PostgreSQL, and from the database
itself whenever the replica has not caught up with what the database had committed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from client_lib import Tablet
from tests.inprocess import InProcessRegistry
from tests.live import PASSPHRASE, TEMPLATE
from tests.replicas import primary_and_replica

pytestmark = pytest.mark.own_postgres
ASSIGNMENT = "asg-replica"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with primary_and_replica() as urls:
        yield urls


@pytest.fixture
def registry(tmp_path: Path, servers: tuple[str, str]) -> Iterator[InProcessRegistry]:
    primary, replica = servers
    registry = InProcessRegistry(tmp_path / "registry", primary, replica_url=replica)
    for inspector in ("inspector-a", "inspector-b"):
        registry.add_inspector(inspector)
    registry.put_assignment(ASSIGNMENT, ["inspector-a", "inspector-b"])
    yield registry
    registry.close()


def _tablet(registry: InProcessRegistry, inspector: str, folder: Path) -> Tablet:
    tablet = Tablet(folder / f"{inspector}.sqlite", PASSPHRASE, transport=registry.transport)
    tablet.enroll(registry.enrollment_code(inspector), "https://registry.test")
    assert tablet.sync().ok
    return tablet


def _replayed(servers: tuple[str, str]) -> None:
    """Wait until the replica has replayed everything the database has written so far (the
    test's PostgreSQL commits without waiting for its log to reach the disk, and a replica
    receives only what did: a second or so may pass)."""
    primary, replica = servers
    with psycopg.connect(primary, autocommit=True) as connection:
        written = connection.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
    with psycopg.connect(replica, autocommit=True) as connection:
        deadline = time.monotonic() + 30
        while not connection.execute("SELECT pg_last_wal_replay_lsn() >= %s",
                                     written).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.01)


def _replay(replica: str, paused: bool) -> None:
    with psycopg.connect(replica, autocommit=True) as connection:
        connection.execute("SELECT pg_wal_replay_pause()" if paused else
                           "SELECT pg_wal_replay_resume()")


def test_pulls_read_the_replica_and_never_miss_what_it_has_not_replayed(
        registry: InProcessRegistry, servers: tuple[str, str], tmp_path: Path) -> None:
    """Pages come from the replica while it keeps up; with its replay paused, a protocol pushed
    since is still pulled (the database serves the page), and with replay resumed the replica
    serves pages again."""
    replica = servers[1]
    a, b = (_tablet(registry, inspector, tmp_path) for inspector in ("inspector-a", "inspector-b"))
    served = registry.database.pull_reads.served
    first = a.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "N-1"})
    assert a.push().ok
    _replayed(servers)
    assert b.pull().ok
    assert b.protocol(first) == registry.protocol(first)
    assert served["replica"] > 0
    _replay(replica, paused=True)
    try:
        before = served["database"]
        second = a.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "N-2"})
        assert a.push().ok and b.pull().ok
        assert b.protocol(second) == registry.protocol(second)
        assert served["database"] > before
    finally:
        _replay(replica, paused=False)
    on_replica = served["replica"]
    third = a.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "N-3"})
    assert a.push().ok
    _replayed(servers)
    assert b.pull().ok
    assert b.protocol(third) == registry.protocol(third)
    assert served["replica"] > on_replica
    a.close()
    b.close()
