"""RFC 9457 problem details: every error a client sees has a status, a stable code and a sentence.

    ProblemError (litestar ProblemDetailsException)
    ├── BadRequest        400  malformed body, bad parameter
    ├── Unauthorized      401  no, unknown or revoked credentials
    ├── Forbidden         403  a role or scope that does not admit the caller
    ├── NotFound          404
    ├── Conflict          409  already exists, already used (a unique violation too)
    ├── TooLarge          413  body or batch over its limit
    └── TooMany           429  rate limited
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsException
from sqlalchemy.exc import IntegrityError

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "ProblemError",
    "TooLarge",
    "TooMany",
    "Unauthorized",
    "already_made",
    "http_exception_to_problem",
    "integrity_error_to_problem",
    "unexpected_error_to_problem",
]

log = logging.getLogger("field_sync.server")


class ProblemError(ProblemDetailsException):
    """A problem detail with a stable ``code``."""

    status = 500

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(
            detail=detail,
            status_code=self.status,
            title=code.replace("_", " ").capitalize(),
            type_=f"urn:field-sync:problem:{code}",
            extra={"code": code, **extra},
        )
        self.code = code


class BadRequest(ProblemError):
    status = 400


class Unauthorized(ProblemError):
    status = 401


class Forbidden(ProblemError):
    status = 403


class NotFound(ProblemError):
    status = 404


class Conflict(ProblemError):
    status = 409


class TooLarge(ProblemError):
    status = 413


class UnsupportedEncoding(ProblemError):
    status = 415


class TooMany(ProblemError):
    status = 429


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
          429: "too_many_requests"}


def http_exception_to_problem(
    _request: Request[Any, Any, Any], exc: HTTPException
) -> Response[Any]:
    """Litestar's own errors (routing, validation, body size) as problem details too; a
    parameter that does not check is named in ``errors`` (``key``, ``source``, ``message``)."""
    status = exc.status_code
    if isinstance(exc, ValidationException):
        errors = exc.extra if isinstance(exc.extra, list) else []
        problem = ProblemError("invalid_parameter", str(exc.detail), errors=errors)
    else:
        problem = ProblemError(_CODES.get(status, "server_error" if status >= 500 else
                                          "http_error"), str(exc.detail))
    problem.status_code = status
    problem.headers = dict(exc.headers or {})
    if status == 429 and "RateLimit-Reset" in problem.headers:  # RFC 9110: when to come back
        problem.headers["Retry-After"] = problem.headers["RateLimit-Reset"]
    return problem.to_response(_request)


_UNIQUE = frozenset({"23505",  # PostgreSQL's unique_violation
                     "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def already_made(exc: IntegrityError) -> Conflict | None:
    """A unique violation as the client sees it: 409, the record exists (two requests made it
    at once, and the other committed first; a check before the insert could not see it). None
    for any other integrity error, which is a bug."""
    cause = exc.orig
    code = getattr(cause, "sqlstate", None) or getattr(cause, "sqlite_errorname", None)
    if code not in _UNIQUE:
        return None
    return Conflict("already_exists", "a request made at the same moment made this record "
                    "first: it exists now")


def integrity_error_to_problem(request: Request[Any, Any, Any],
                               exc: IntegrityError) -> Response[Any]:
    """A unique violation, wherever a route met it, as a 409 problem detail; any other
    integrity error as an unexpected one."""
    conflict = already_made(exc)
    if conflict is None:
        return unexpected_error_to_problem(request, exc)
    return conflict.to_response(request)


def unexpected_error_to_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bug or an outage: logged with its traceback, answered without internals."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    problem = ProblemError("server_error", "the registry could not complete this request")
    problem.status_code = 500
    return problem.to_response(request)
