"""``field-sync db upgrade``, and what it and ``field-sync audit verify`` share: the registry's
database, opened directly (on the registry's machine, or wherever ``--db`` reaches it)."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from field_sync_cli.errors import OK, Unreachable
from server.logs import LogFormat, configure_logging  # loaded only when the command runs

__all__ = ["database_url", "existing_database", "run_db_upgrade"]


def database_url(db: str, data_dir: Path) -> str:
    """The database ``--db`` names, else the data directory's SQLite file."""
    from server.config import ServerConfig

    return ServerConfig(data_dir=data_dir, db_url=db).database_url


def existing_database(url: str) -> str:
    """``url``, or ``Unreachable`` when it names an SQLite file that is not there (opening it
    would make an empty database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).is_file():
        raise Unreachable(f"{parsed.database}: no such database (give --db, or the registry's "
                          "--data-dir)")
    return url


class _MigrationSteps(logging.Filter):
    """Each migration run and the progress a long one logs, not Alembic's dialect notes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("alembic") or record.name.endswith(".progress") \
            or record.getMessage().startswith("Running ")


def run_db_upgrade(db: str, data_dir: Path, log_format: LogFormat, log_level: str) -> int:
    """Bring the database to the newest migration, logging each step on stderr."""
    from server import Database
    from server.data.schema import current_revision, head_revision

    configure_logging(log_format, log_level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_MigrationSteps())
    database = Database(database_url(db, data_dir))
    try:
        before = current_revision(database.writer)
        database.create_schema()
    finally:
        database.dispose()
    click.echo(f"database at revision {head_revision()} (was {before or 'empty'})")
    return OK
