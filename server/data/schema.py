"""The registry's schema under Alembic: made and upgraded by migrations, never by hand.

``upgrade()`` runs at every start (and as ``field-sync db upgrade``); an empty database gets
every revision, an older one the revisions it lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["alembic_config", "current_revision", "downgrade", "head_revision", "upgrade"]

_MIGRATIONS = Path(__file__).parent.parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's configuration for this registry (``engine`` is the one it migrates)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to ``revision`` (undoing a release's migrations)."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, run: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        run(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when it has none)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
