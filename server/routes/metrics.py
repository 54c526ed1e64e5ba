"""``GET /metrics``: the registry's Prometheus metrics, for the administrator or a scraper."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST

from server.api.auth import bearer, hash_secret, require_admin
from server.api.problems import Unauthorized
from server.metrics import exposition
from server.registry import Registry

__all__ = ["metrics", "metrics_scraper"]


def metrics_scraper(connection: ASGIConnection[Any, Any, Any, Any],
                    _handler: BaseRouteHandler) -> None:
    """Admit the administrator, or a scraper with the ``metrics_token`` setting's token."""
    registry: Registry = connection.app.state.registry
    scraper = registry.config.metrics_token
    if scraper and hmac.compare_digest(hash_secret(bearer(connection)), hash_secret(scraper)):
        return
    try:
        require_admin(connection, registry.config.admin_token)
    except Unauthorized as exc:
        raise Unauthorized("not_metrics_reader", "metrics need the administrator's token or "
                           "the metrics token") from exc


@get("/metrics", guards=[metrics_scraper], include_in_schema=False)
async def metrics(request: Request[Any, Any, Any],
                  registry: NamedDependency[Registry]) -> Response[bytes]:
    """Administrator or scraper. The metrics, in Prometheus' text format."""
    body = await registry.run(exposition, request.app.state.database_gauges)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
