"""Who a request comes from: its direct peer, or, when that peer is one of the registry's
trusted reverse proxies (``ServerConfig.trusted_proxies``), the rightmost address of
``X-Forwarded-For`` that is not a trusted proxy (each proxy appends the address it heard
from: addresses left of the first untrusted one are whatever the client claimed).

uvicorn's ``ProxyHeadersMiddleware`` does exactly this; it wraps the app here rather than in
``serve`` so that the setting holds however the app is run, and ``serve`` turns uvicorn's own
reading of the headers off (it trusts 127.0.0.1 by default). Everything that names the client
reads ``scope["client"]`` after it: the check's rate limit, the console's sign-in audit, the
access log.
"""

from __future__ import annotations

from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

__all__ = ["client_address", "with_client_addresses"]


def with_client_addresses(app: Any, trusted_proxies: tuple[str, ...]) -> ASGIApp:
    """``app``, with each request's client address resolved through ``trusted_proxies``
    (unchanged when there are none)."""
    # uvicorn's, Litestar's and our own middleware's types describe one protocol differently.
    return cast("ASGIApp", ProxyHeadersMiddleware(app, list(trusted_proxies))
                if trusted_proxies else app)


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address as the registry knows it (empty when the server gave none)."""
    return connection.client.host if connection.client else ""
