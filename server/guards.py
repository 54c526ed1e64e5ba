"""Route guards and the device dependency: every endpoint says which roles it admits."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler

from server.auth import Caller, require_admin, require_device, require_supervisor
from server.problems import Unauthorized
from server.registry import Registry
from server.services.reach import ADMINISTRATOR

__all__ = ["admin_only", "provide_caller", "provide_registry", "supervisor_only",
           "supervisor_or_admin"]


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
