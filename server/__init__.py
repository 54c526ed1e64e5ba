"""The registry server: sync endpoints, admin API and tables, on Litestar and SQLModel."""

import logging

from server.app import create_app
from server.config import ServerConfig
from server.database import Database

logging.getLogger("field_sync.server").addHandler(logging.NullHandler())

__all__ = ["Database", "ServerConfig", "create_app"]
