"""Alembic environment: the registry's tables as SQLModel declares them."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import server.data.tables  # noqa: F401 - registers every table on SQLModel.metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
