"""Every request gets an id: returned in ``X-Request-Id`` and carried by every log line it causes.

A proxy's id (nginx ``$request_id``) is kept when the request brings a plausible one, so a line
of the proxy's log and the registry's lines of one request share it. The request's own line
(method, route, status, duration, client address) is written here when it ends; uvicorn's
access log is off.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

import structlog

__all__ = ["HEADER", "RequestIds"]

HEADER = "X-Request-Id"
_HEADER_KEY = HEADER.lower().encode()
_PLAUSIBLE = re.compile(rb"[A-Za-z0-9._-]{8,64}")

log = logging.getLogger("field_sync.access")


def _request_id(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_KEY and _PLAUSIBLE.fullmatch(value):
            return str(value.decode())
    return secrets.token_hex(8)


class RequestIds:
    """ASGI middleware around the whole application (unrouted requests too)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Bind the request's id for the log, add it to the response, log the request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (_HEADER_KEY, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            client = scope.get("client") or ("",)
            log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, duration_ms,
                     extra={"method": scope["method"], "path": scope["path"],
                            "status": status, "duration_ms": duration_ms,
                            "client": client[0]})
            structlog.contextvars.reset_contextvars(**bound)
