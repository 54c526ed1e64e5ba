"""The registry console: supervisors and administrators at work in a browser.

Served by the registry itself under ``/console``: Litestar controllers rendering the shared
Jinja layout (``server.web``), plain forms, no script. Sign-in is a password and a one-time
code; sessions are kept in the registry's database (``server.console.sessions``); every form
carries Litestar's CSRF token. The pages call the same services the JSON API does
(``server.services``), narrowed to the reader's regions.

    /console                         dashboard
    /console/sign-in, /sign-in/code  sign in;  /console/sign-out
    /console/invitation/<code>       set a password and a one-time-code app
    /console/registry                search, 50 a page; /registry/export?format=csv|jsonl
    /console/protocols/<id>          a protocol whole; …/document.pdf, …/files/<sha256>[/thumbnail];
                                     …/annul, …/clear (supervisors)
    /console/quarantine, /audit      the quarantine queue; the audit log
    /console/admin/...               inspectors, devices, assignments, reference, accounts
"""

from __future__ import annotations

from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.router import Router
from sqlalchemy.exc import IntegrityError

from server.api.problems import ProblemError
from server.authority.keys import RegistryKeys
from server.config import ServerConfig
from server.console.admin_accounts import AccountPages
from server.console.admin_inspectors import AssignmentPages, DevicePages, InspectorPages
from server.console.admin_reference import ReferencePages
from server.console.pages import error_page, not_signed_in
from server.console.registry import RegistryPages
from server.console.review import ReviewPages
from server.console.sessions import ConsoleSessionConfig, DatabaseStore
from server.console.signin import SignInController

__all__ = ["ConsoleProtection", "console_router"]

# Paths the session and CSRF middleware leave alone: everything but the console (and the
# verification page, which links a signed-in supervisor to the console). Written so that "/"
# itself is not matched: Litestar warns about a pattern that excludes every path.
_NOT_CONSOLE = r"^/(?!console)[^/]"
_NOT_CONSOLE_OR_SEAL = r"^/(?!console|v/|V/)[^/]"


class ConsoleProtection:
    """The console's session store and middleware settings: sessions of the configured
    lifetime, cookies Secure when the registry's public address is https, HttpOnly,
    SameSite=Lax."""

    def __init__(self, config: ServerConfig, keys: RegistryKeys) -> None:
        secure = config.public_url.lower().startswith("https://")
        self.store = DatabaseStore(config.console_session_s)
        self.sessions = ConsoleSessionConfig(secure=secure, httponly=True, samesite="lax",
                                             max_age=config.console_session_s,
                                             exclude=_NOT_CONSOLE_OR_SEAL)
        self.csrf = CSRFConfig(secret=keys.derived_secret("console csrf"),
                               cookie_name="field_sync_csrf", cookie_path="/console",
                               cookie_secure=secure, cookie_httponly=True, cookie_samesite="lax",
                               exclude=_NOT_CONSOLE)


def console_router() -> Router:
    """Every console page under ``/console``; errors there answer as pages."""
    handlers: dict[Any, Any] = {NotAuthorizedException: not_signed_in,
                                ProblemError: error_page, HTTPException: error_page,
                                IntegrityError: error_page}
    return Router(path="/", route_handlers=[
        SignInController, RegistryPages, ReviewPages, InspectorPages, DevicePages,
        AssignmentPages, ReferencePages, AccountPages], exception_handlers=handlers,
        include_in_schema=False)
