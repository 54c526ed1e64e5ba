"""The registry server: sync endpoints, admin API and tables, on Litestar and SQLModel.

The names below are imported when first used, so that a command which needs only the
configuration (``field-sync --help``, shell completion) does not load the whole server.
"""

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.app import create_app
    from server.config import ServerConfig
    from server.data.database import Database

logging.getLogger("field_sync.server").addHandler(logging.NullHandler())

__all__ = ["Database", "ServerConfig", "create_app"]

_HOMES = {"Database": "server.data.database", "ServerConfig": "server.config",
          "create_app": "server.app"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'server' has no attribute {name!r}")
