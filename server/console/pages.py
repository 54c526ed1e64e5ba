"""How a console page is made: the shared layout's context (``server.web``) with the account
signed in, its navigation, one-shot messages carried across a redirect, and links that keep the
reader's language; errors shown as pages, not JSON (forms are read in ``server.console.forms``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect, Template
from sqlalchemy.exc import IntegrityError

from field_sync.i18n import local_datetime, negotiate
from server.api.problems import ProblemError, already_made
from server.console.auth import NotSignedIn
from server.console.forms import problem_words
from server.registry import Registry
from server.services.accounts import ADMINISTRATOR, Account
from server.signing.reasons import broken_rule
from server.web import MESSAGES, Page, render

__all__ = ["console_page", "error_page", "flash", "language", "link", "message",
           "not_signed_in", "problem_text", "see_other"]

_SUPERVISION = (("dashboard", "/console"), ("registry", "/console/registry"),
                ("quarantine", "/console/quarantine"), ("audit", "/console/audit"))
_ADMINISTRATION = (("inspectors", "/console/admin/inspectors"),
                   ("devices", "/console/admin/devices"),
                   ("assignments", "/console/admin/assignments"),
                   ("reference", "/console/admin/reference"),
                   ("accounts", "/console/admin/accounts"))


_HEADERS = {
    # A page with a person's session is nobody's cache's, and never framed (clickjacking):
    # the console loads nothing but its own stylesheet and images, and posts only to itself.
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def language(request: Request[Any, Any, Any]) -> str:
    """The reader's language, as the layout chooses it."""
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def link(lang: str, path: str, query: Mapping[str, Any] | None = None) -> str:
    """``path`` with ``query`` (empty values left out) and the reader's language."""
    given = [(name, value) for name, value in (query or {}).items() if value not in ("", None)]
    return f"{path}?{urlencode([*given, ('lang', lang)])}"


def message(lang: str, key: str, **arguments: Any) -> str:
    """A catalog message, or the key's last part when the catalog has none (a code we do not
    word, such as a service's problem code)."""
    return MESSAGES.text(lang, key, **arguments) if MESSAGES.has(key) else key


def problem_text(request: Request[Any, Any, Any], problem: ProblemError) -> str:
    """A service's refusal in the reader's words, naming the field it is about (its own
    sentence where the catalog has no words for its code)."""
    lang, key = language(request), f"console.error.{problem.code}"
    return MESSAGES.text(lang, key, **problem_words(lang, problem)) if MESSAGES.has(key) \
        else str(problem.detail)


def flash(request: Request[Any, Any, Any], kind: str, key: str, **arguments: Any) -> None:
    """A message for the next page this session opens (``success``, ``error``, ``warning``,
    ``info``)."""
    request.session.setdefault("flash", []).append({"kind": kind, "key": key,
                                                    "arguments": arguments})


def see_other(request: Request[Any, Any, Any], path: str,
              query: Mapping[str, Any] | None = None) -> Redirect:
    """A 303 to ``path`` in the reader's language (after a form is taken)."""
    return Redirect(link(language(request), path, query), status_code=303)


def _navigation(account: Account | None, section: str, lang: str) -> list[dict[str, Any]]:
    if account is None:
        return []
    items = _SUPERVISION + (_ADMINISTRATION if account.role == ADMINISTRATOR else ())
    return [{"key": f"console.nav.{key}", "href": link(lang, path), "current": key == section}
            for key, path in items]


def console_page(request: Request[Any, Any, Any], registry: Registry, template: str,
                 context: Mapping[str, Any] | None = None, *, section: str = "",
                 status: int = 200) -> Template:
    """``console/<template>`` with the console's context: ``account``, ``navigation``,
    ``section``, ``flashes`` (taken from the session), ``href(path, **query)`` (a link keeping
    the language), ``broken_rule(line)`` (``server.signing.reasons``) and ``word(group,
    value)`` (a status, role, kind… in words: the catalog's ``console.<group>.<value>``)."""
    lang = language(request)
    account: Account | None = getattr(request.state, "account", None)
    pending = request.session.pop("flash", []) if "session" in request.scope and \
        isinstance(request.scope.get("session"), dict) else []
    flashes = [{"kind": item["kind"], "text": message(lang, item["key"], **item["arguments"])}
               for item in pending]

    def href(path: str, **query: Any) -> str:
        return link(lang, path, query)

    def clock(at_ms: int) -> str:
        return local_datetime(at_ms, lang).rsplit(" (UTC", 1)[0]

    def word(group: str, value: str) -> str:
        return message(lang, f"console.{group}.{value}") if MESSAGES.has(
            f"console.{group}.{value}") else value

    page = {"account": account, "navigation": _navigation(account, section, lang),
            "section": section, "flashes": flashes, "href": href, "word": word, "clock": clock,
            "broken_rule": broken_rule,
            "console_url": "/console",
            **(context or {})}
    return render(request, registry, Page(f"console/{template}", page, status, _HEADERS))


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A console error as a page: a service's problem (404, 409, …), a record two requests
    made at once (409), or Litestar's own."""
    registry: Registry = request.app.state.registry
    if isinstance(exc, IntegrityError):
        exc = already_made(exc) or exc
    if isinstance(exc, ProblemError):
        status, code, text = exc.status_code, exc.code, problem_text(request, exc)
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        code = "invalid_parameter" if isinstance(exc, ValidationException) else "http_error"
        text = message(language(request), f"console.error.{code}")
    else:
        raise exc
    return console_page(request, registry, "error.html", {
        "status": status, "code": code, "text": text}, status=status)


def not_signed_in(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """To the sign-in page, and back after."""
    target = exc.next_path if isinstance(exc, NotSignedIn) else request.url.path
    return see_other(request, "/console/sign-in", {"next": target})
