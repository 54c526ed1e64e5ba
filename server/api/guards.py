"""Route guards and the device dependency: every endpoint says which roles it admits."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler

from server.api.auth import (
    SUPERVISOR_PREFIX,
    Caller,
    require_admin,
    require_device,
    require_supervisor,
)
from server.api.problems import Unauthorized
from server.registry import Registry
from server.services.reach import ADMINISTRATOR, Reach

__all__ = ["admin_only", "protocol_reader", "provide_caller", "provide_registry",
           "supervisor_only", "supervisor_or_admin"]


def provide_registry(request: Request[Any, Any, Any]) -> Registry:
    """The running registry, from the application state."""
    registry: Registry = request.app.state.registry
    return registry


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Admit the administrator only."""
    registry: Registry = connection.app.state.registry
    require_admin(connection, registry.config.admin_token)


async def supervisor_only(connection: ASGIConnection[Any, Any, Any, Any],
                          _handler: BaseRouteHandler) -> None:
    """Admit a supervisor only; the handler finds who, and the regions within reach, in
    ``connection.state.reach``."""
    registry: Registry = connection.app.state.registry
    connection.state.reach = await registry.run(require_supervisor, connection,
                                                registry.database)


async def supervisor_or_admin(connection: ASGIConnection[Any, Any, Any, Any],
                              handler: BaseRouteHandler) -> None:
    """Admit a supervisor or the administrator (``connection.state.reach`` says which)."""
    registry: Registry = connection.app.state.registry
    try:
        require_admin(connection, registry.config.admin_token)
    except Unauthorized:
        await supervisor_only(connection, handler)
    else:
        connection.state.reach = ADMINISTRATOR


async def provide_caller(request: Request[Any, Any, Any],
                         registry: NamedDependency[Registry]) -> Caller:
    """The enrolled device making the request (401 otherwise)."""
    return await registry.run(require_device, request, registry.database)


def protocol_reader(connection: Request[Any, Any, Any], registry: Registry) -> str | Reach:
    """Who reads a protocol's documents (its PDF, its evidence files): the reach of the
    administrator or a supervisor (a supervisor's token may be limited to regions); the
    inspector of a device, which reaches its scope's (401 for anyone else). Blocking: call it
    from a worker thread."""
    try:
        require_admin(connection, registry.config.admin_token)
        return ADMINISTRATOR
    except Unauthorized:
        pass
    if connection.headers.get("authorization", "").lower().startswith(
            f"bearer {SUPERVISOR_PREFIX}"):
        return require_supervisor(connection, registry.database)
    return require_device(connection, registry.database).inspector_id
