"""Who is signed in to the console, and what they may do.

The session names the account; every request reads the account again, so a disabled account
or a lapsed session ends at once. Guards say who a page admits, declared on the controllers:
anyone signed in, supervisors (who annul and clear), administrators. A visitor who is not
signed in is sent to the sign-in page and brought back after.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from server.api.problems import Forbidden
from server.data.clock import now_ms
from server.registry import Registry
from server.services.accounts import ADMINISTRATOR, SUPERVISOR, Account, account

__all__ = ["NotSignedIn", "administrator", "current_account", "signed_in",
           "signed_in_account", "supervisor"]


class NotSignedIn(NotAuthorizedException):
    """No account is signed in on this session; ``next`` is where to come back to."""

    def __init__(self, next_path: str) -> None:
        super().__init__(detail="sign in first")
        self.next_path = next_path


def signed_in_account(connection: ASGIConnection[Any, Any, Any, Any]) -> Account | None:
    """The account signed in on this connection's session, if it may still act: it exists, is
    active and not disabled, and signed in less than a session's lifetime
    (``ServerConfig.console_session_s``) ago."""
    session = connection.scope.get("session")
    if not isinstance(session, dict) or "account" not in session:
        return None
    registry: Registry = connection.app.state.registry
    if now_ms() - int(session.get("since", 0)) > registry.config.console_session_s * 1000:
        return None
    found = account(registry.database, str(session["account"]))
    return found if found is not None and found.active and not found.disabled else None


def current_account(connection: ASGIConnection[Any, Any, Any, Any]) -> Account:
    """The account a guard admitted (``connection.state.account``)."""
    found: Account = connection.state.account
    return found


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any],
                    _handler: BaseRouteHandler) -> None:
    """Admit anyone signed in; others go to the sign-in page."""
    registry: Registry = connection.app.state.registry
    found = await registry.run(signed_in_account, connection)
    if found is None:
        if isinstance(connection.scope.get("session"), dict) and connection.scope["session"]:
            connection.scope["session"] = {}  # a lapsed or disabled account's session ends
        target = connection.url.path + (f"?{connection.url.query}" if connection.url.query
                                        else "")
        raise NotSignedIn(target)
    connection.state.account = found


def _role(connection: ASGIConnection[Any, Any, Any, Any], role: str) -> None:
    if current_account(connection).role != role:
        raise Forbidden("forbidden_role", f"this page is for the {role}s")


async def supervisor(connection: ASGIConnection[Any, Any, Any, Any],
                     handler: BaseRouteHandler) -> None:
    """Admit a signed-in supervisor (who annuls and clears)."""
    await signed_in(connection, handler)
    _role(connection, SUPERVISOR)


async def administrator(connection: ASGIConnection[Any, Any, Any, Any],
                        handler: BaseRouteHandler) -> None:
    """Admit a signed-in administrator."""
    await signed_in(connection, handler)
    _role(connection, ADMINISTRATOR)
