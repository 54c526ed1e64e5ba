"""The running registry: configuration, database and template catalog, shared by every route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from litestar import Request

from server.catalog import TemplateCatalog
from server.clock import now_ms
from server.config import ServerConfig
from server.database import Database
from server.deltas import Deltas
from server.keys import RegistryKeys
from server.signatures import Signing

__all__ = ["Registry", "now_ms"]

T = TypeVar("T")


@dataclass
class Registry:
    """What a request handler reaches for."""

    config: ServerConfig
    database: Database
    keys: RegistryKeys
    catalog: TemplateCatalog = field(default_factory=TemplateCatalog)
    deltas: Deltas = field(default_factory=Deltas)
    """What devices that hold a protocol are sent of it, encoded once (``server.deltas``)."""

    def public_url(self, request: Request[Any, Any, Any]) -> str:
        """The registry's public address: configured, else the one this request reached."""
        return self.config.public_url or str(request.base_url).rstrip("/")

    @property
    def signing(self) -> Signing:
        """What ingest needs to check signatures."""
        return Signing(self.keys, self.config)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run blocking database work in a worker thread."""
        return await anyio.to_thread.run_sync(work, *args)
