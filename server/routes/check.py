"""``GET /v1/check`` and the ``/check`` page: was a protocol with this number issued to this
STIR? Public, and rate-limited per client (``ServerConfig.check_requests_per_minute``; over it,
429 with ``Retry-After``)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.di import NamedDependency
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template

from server.api.openapi import documented
from server.config import ServerConfig
from server.registry import Registry
from server.signing.checks import CheckAnswer, check
from server.web import Page, render

__all__ = ["check_json", "check_page", "check_router"]

NUMBER_PATTERN = r"^[^\s\x00][^\x00\n]{0,31}$"  # no NUL: PostgreSQL could not look for it
STIR_PATTERN = r"^[0-9]{9}$"
Number = Annotated[str, QueryParameter(description="The protocol's number, as printed on it.",
                                  pattern=NUMBER_PATTERN, max_length=32)]
Stir = Annotated[str, QueryParameter(description="The inspected business's STIR (taxpayer id), "
                                "nine digits.", pattern=STIR_PATTERN)]


@get("/v1/check", operation_class=documented())  # problem details; 429 when over the limit
async def check_json(request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     number: Number, stir: Stir) -> CheckAnswer:
    """Public. Whether a protocol with ``number`` was issued to ``stir``, and its status. Both
    are required (400 otherwise). Rate-limited per client: 429 with ``Retry-After``."""
    return await registry.run(check, registry, number.strip(), stir, registry.public_url(request))


def _field_errors(number: str, stir: str) -> dict[str, str]:
    """The form's fields that the API would refuse, with the message key saying why."""
    errors = {}
    if not re.match(NUMBER_PATTERN, number.strip()) or len(number.strip()) > 32:
        errors["number"] = "check.error.number"
    if not re.match(STIR_PATTERN, stir.strip()):
        errors["stir"] = "check.error.stir"
    return errors


@get("/check", include_in_schema=False)
async def check_page(request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     number: FromQuery[str] = "", stir: FromQuery[str] = "") -> Template:
    """Public. The same check as a form a person fills in (GET: nothing changes)."""
    asked = bool(number or stir)
    errors = _field_errors(number, stir) if asked else {}
    answer = None
    if asked and not errors:
        answer = await registry.run(check, registry, number.strip(), stir.strip(),
                                    registry.public_url(request))
    context = {"number": number, "stir": stir, "errors": errors, "answer": answer}
    return render(request, registry, Page("check.html", context, 400 if errors else 200,
                                          {"Cache-Control": "no-store"}))


def _asked(request: Request[Any, Any, Any]) -> bool:
    """Only a check counts against the limit, not the empty form."""
    return bool(request.query_params.get("number") or request.query_params.get("stir"))


def check_router(config: ServerConfig) -> Router:
    """Both checks behind one per-client rate limit."""
    limit = RateLimitConfig(rate_limit=("minute", config.check_requests_per_minute),
                            check_throttle_handler=_asked, store="check_rate_limit")
    return Router(path="/", route_handlers=[check_json, check_page],
                  middleware=[limit.middleware])
