"""Pull pages from a read replica, when it has caught up.

Every write goes to the database; a PostgreSQL streaming replica of it may serve the pull
pages, which are most of what a fleet asks. A page must not miss a change the database had
committed when the page was asked for, so the database's change counter is read first (the
page's floor: the cursor is the database's), and the replica serves the page only once its own
counter has reached the floor: at once as a rule, after up to ``WAIT_S`` of replay, and never
when it lags further behind (a paused or broken replica): then the database serves the page
itself. A change number is visible on a replica with every change before it (they commit in
order, under the counter's row lock, and a replica replays commits in order), so a snapshot
whose counter reached the floor holds every change up to it, as the database's own would.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from server.data.tables import ChangeCounter

__all__ = ["WAIT_S", "PullReads"]

WAIT_S = 0.05
"""How long a page waits for the replica to catch up before the database serves it."""
_COUNTER = select(ChangeCounter.value).where(ChangeCounter.id == 1)  # type: ignore[call-overload]


def _counter(replica: Session) -> int | None:
    """The replica's change counter; None while it has not replayed the table or its row (a
    new registry), or when it cannot be read at all (a broken replica): the database serves."""
    try:
        value: int | None = replica.execute(_COUNTER).scalar()
    except DBAPIError:
        return None
    return value


class PullReads:
    """Where pull pages are read: a replica that has caught up, else the database.

    Args:
        database: the database's reader (one snapshot a request).
        replica_url: the replica's URL; empty for none.
    """

    def __init__(self, database: Engine, replica_url: str = "") -> None:
        self._database = database
        self._replica: Engine | None = None
        if replica_url:
            url = make_url(replica_url)
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            self._replica = create_engine(url, pool_pre_ping=True, pool_size=10,
                                          max_overflow=30).execution_options(
                isolation_level="REPEATABLE READ")
        self.served: Counter[str] = Counter()
        """Pages served, by ``replica`` and ``database``."""

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session for one pull page (see the module)."""
        if self._replica is not None:
            with Session(self._database) as session, session.begin():
                floor = session.execute(_COUNTER).scalar_one()
            deadline = time.monotonic() + WAIT_S
            while True:
                session = Session(self._replica, expire_on_commit=False)
                try:  # a read-only snapshot: closing it ends it
                    reached = _counter(session)
                    if reached is not None and reached >= floor:
                        self.served["replica"] += 1
                        yield session
                        return
                finally:
                    session.close()
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.002)  # replay is under way: a WAL record or two
        self.served["database"] += 1
        with Session(self._database, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close the replica's pooled connections."""
        if self._replica is not None:
            self._replica.dispose()
