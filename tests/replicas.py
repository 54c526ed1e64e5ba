"""A PostgreSQL server and a streaming replica of it, for the tests of pulls read from a
replica: PostgreSQL's own tools (initdb, pg_basebackup, pg_ctl) from the system's packages, as
the PostgreSQL of the test run, on free loopback ports, removed afterwards."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from field_sync_cli.local_server import free_port

__all__ = ["primary_and_replica"]


def _tools() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    assert initdb, "PostgreSQL is not installed (./dev test installs it)"
    return Path(initdb).resolve().parent


def _url(port: int) -> str:
    return f"postgresql://field_sync@127.0.0.1:{port}/postgres"


@contextmanager
def primary_and_replica() -> Iterator[tuple[str, str]]:
    """The URLs of a new PostgreSQL server's ``postgres`` database and of the same database on
    a streaming replica of the server (replay running; a test may pause it). Its files go
    under ``/tmp``, where the ``postgres`` user it runs as when we are root reaches them."""
    tools = _tools()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="field-sync-replica-"))
    if as_postgres:
        shutil.chown(folder, "postgres")
    primary, replica = folder / "primary", folder / "replica"
    ports = free_port(), free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=120)

    def start(data: Path, port: int, log: str) -> None:
        run(str(tools / "pg_ctl"), "-D", str(data), "-l", str(folder / log), "-w", "-s", "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c wal_level=replica -c max_wal_senders=4", "start")

    run(str(tools / "initdb"), "-D", str(primary), "-U", "field_sync", "--auth=trust",
        "-E", "UTF8", "--no-sync")
    started = []
    try:
        start(primary, ports[0], "primary.log")
        started.append(primary)
        run(str(tools / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(ports[0]), "-U",
            "field_sync", "-D", str(replica), "-R", "-X", "stream", "--no-sync")
        start(replica, ports[1], "replica.log")
        started.append(replica)
        yield _url(ports[0]), _url(ports[1])
    finally:
        for data in reversed(started):
            run(str(tools / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-s", "stop")
        shutil.rmtree(folder, ignore_errors=True)
