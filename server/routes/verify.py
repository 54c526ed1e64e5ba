"""Public verification: the trust list, a seal's verdict as JSON, and the page a phone opens."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from field_sync.verify import Verdict
from schemas.signing import TrustList
from server.api.openapi import documented
from server.authority.trust import current_list
from server.console.auth import signed_in_account
from server.data.tables import ProtocolRow
from server.registry import Registry
from server.signing.seal_story import SealStory, story_of, verification_path
from server.signing.verification import verdict_for
from server.sync.wire import reply
from server.web import Page, render

__all__ = ["console_link", "trust_list_route", "verification_page", "verify_json"]


@get("/v1/trust-list", operation_class=documented(response=TrustList, responses={
    "304": "The list named by `If-None-Match` is still current."}))
async def trust_list_route(
    request: Request[Any, Any, Any], registry: NamedDependency[Registry]
) -> Response[bytes]:
    """Public. Every device key and the registry's public address, signed by the registry key;
    verifiers cache it. Conditional:
    with the ``ETag`` of the list it holds in ``If-None-Match``, a client whose list is still
    current gets ``304 Not Modified`` and no body."""
    listed = await registry.run(current_list, registry.database, registry.keys,
                                registry.public_url(request))
    if request.headers.get("if-none-match") == listed.tag:
        return Response(b"", status_code=304, headers={"ETag": listed.tag})
    response = reply(request, listed.signed)
    response.headers["ETag"] = listed.tag
    return response


@get("/v1/verify/{seal:str}", operation_class=documented(response=Verdict))
async def verify_json(
    request: Request[Any, Any, Any], registry: NamedDependency[Registry], seal: FromPath[str],
    address: FromQuery[str] = "",
) -> Response[bytes]:
    """Public. The registry's verdict on a seal, from its prefix on; ``address`` is what the
    scanned text had before ``/V/``, if the caller wants it checked (``wrong_registry`` when it
    is not the registry's)."""
    text = f"{address}/V/{seal}" if address else seal
    return reply(request, await registry.run(verdict_for, registry, text,
                                             registry.public_url(request)))


def console_link(request: Request[Any, Any, Any], story: SealStory) -> str:
    """The protocol's page in the console, for a signed-in supervisor (or administrator)
    whose regions hold it; empty for everyone else."""
    account = signed_in_account(request) if story.protocol_id else None
    if account is None:
        return ""
    registry: Registry = request.app.state.registry
    with registry.database.read() as session:
        row = session.get(ProtocolRow, story.protocol_id)
    return f"/console/protocols/{row.id}" if row is not None and \
        account.reach.admits(row.region) else ""


@get(["/v/{seal:str}", "/V/{seal:str}"], include_in_schema=False)  # a page, not the API
async def verification_page(
    request: Request[Any, Any, Any], registry: NamedDependency[Registry], seal: FromPath[str]
) -> Template:
    """Public. The page a phone camera opens from the QR, in the reader's language
    (``?lang=``, else ``Accept-Language``, else Uzbek in Latin script)."""
    story = await registry.run(story_of, registry, seal, registry.public_url(request))
    context = {"story": story,
               "console_url": await registry.run(console_link, request, story),
               "successor_href": verification_path(story.successor_seal)}
    return render(request, registry, Page("verify.html", context,
                                          headers={"Cache-Control": "no-store"}))
