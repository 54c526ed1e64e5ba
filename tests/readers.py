"""A reader's registry: the one the README and the docs tell a newcomer to start, started the
same way (``./dev serve``) in a folder of the reader's, so that their commands run as written.

The reader's folder holds the clone's ``dev`` and ``.venv`` (as a fresh clone does after its
first ``./dev serve``); ``HOME`` is a folder beside it, so ``~/.local/share/field-sync`` (the
registry's data: database, keys, administrator token) is the test's own; on PostgreSQL,
``FIELD_SYNC_DB`` names the test's database; and the registry listens on a free port, which
``localized`` writes in place of the documented ``127.0.0.1:8470``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from field_sync_cli.local_server import LocalServer
from tests.databases import ON_POSTGRES, dispose_database, fresh_database
from tests.doc_blocks import README_ADDRESS, ROOT

__all__ = ["Reader", "reader_registry"]


class Reader(LocalServer):
    """``./dev serve`` run by a reader in ``folder``, with ``home`` as their home."""

    def __init__(self, folder: Path, home: Path, db_url: str) -> None:
        super().__init__(home / ".local" / "share" / "field-sync", admin_token="", db_url=db_url)
        self.folder = folder
        self.home = home
        self.cwd = folder
        self.address = f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return ["./dev", "serve", "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        """The reader's environment: none of the test run's own registry settings, a home of
        their own, and, when the test's database is PostgreSQL, ``FIELD_SYNC_DB`` naming it (on
        SQLite the database is where ``serve`` puts it by default, and nothing is set)."""
        kept = {name: value for name, value in os.environ.items()
                if not name.startswith("FIELD_SYNC_") and name != "XDG_DATA_HOME"}
        database = {"FIELD_SYNC_DB": self.db_url} if ON_POSTGRES else {}
        return {**kept, "HOME": str(self.home), **database}

    def localized(self, text: str) -> str:
        """``text`` with the documented registry address replaced by this registry's."""
        return text.replace(README_ADDRESS, self.address)

    def run(self, command: list[str], timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """A reader's command in their folder and environment, the address localized."""
        return subprocess.run([self.localized(part) for part in command], cwd=self.folder,
                              env=self.environment(), capture_output=True, text=True,
                              timeout=timeout_s, check=False)


@contextmanager
def reader_registry(folder: Path) -> Iterator[Reader]:
    """A reader's folder and home under ``folder``, and their registry running."""
    work, home = folder / "work", folder / "home"
    work.mkdir(parents=True)
    (work / "dev").symlink_to(ROOT / "dev")
    (work / ".venv").symlink_to(Path(sys.prefix))  # the environment running these tests
    db_url = fresh_database(home / ".local" / "share" / "field-sync")
    reader = Reader(work, home, db_url)
    try:
        with reader:
            reader.admin_token = (reader.data_dir / "admin-token").read_text().strip()
            yield reader
    finally:
        dispose_database(db_url)
