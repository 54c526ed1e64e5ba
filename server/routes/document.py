"""``GET /v1/protocols/{id}/document.pdf``: the printed protocol, the same bytes the tablet
renders offline (``Tablet.render_pdf``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from field_sync.document import printed_protocol, render_pdf
from field_sync.i18n import negotiate
from server.auth import require_admin, require_device, require_supervisor
from server.documents import decode_state
from server.problems import NotFound, Unauthorized
from server.registry import Registry
from server.scope import assignment_team, assignments_in_scope
from server.tables import ProtocolRow

__all__ = ["protocol_document"]


def _may_read(request: Request[Any, Any, Any], registry: Registry, row: ProtocolRow,
              session: Any) -> bool:
    """The administrator, a supervisor, or a device whose scope holds the protocol."""
    try:
        require_admin(request, registry.config.admin_token)
        return True
    except Unauthorized:
        pass
    if request.headers.get("authorization", "").lower().startswith("bearer sup."):
        require_supervisor(request, registry.database)
        return True
    caller = require_device(request, registry.database)
    return row.assignment_id in assignments_in_scope(session, caller.inspector_id)


def _document(registry: Registry, request: Request[Any, Any, Any], protocol_id: str,
              lang: str) -> tuple[bytes, str]:
    with registry.database.read() as session:
        row = session.get(ProtocolRow, protocol_id)
        if row is None or not _may_read(request, registry, row, session):
            # out of scope looks the same as absent: ids are not to be probed
            raise NotFound("unknown_protocol", f"no protocol {protocol_id!r} in your reach")
        template = registry.catalog.get(session, row.template_ref)
        team = assignment_team(session, row.assignment_id)
    if template is None:
        raise NotFound("unknown_template", f"no template {row.template_ref!r}")
    state = decode_state(row)
    protocol = state.materialize(template)
    signed = state.frozen.signed if state.frozen else None
    pdf = render_pdf(printed_protocol(protocol, template, signed, row.registry_number, team),
                     lang)
    return pdf, row.number or row.id


@get("/v1/protocols/{protocol_id:str}/document.pdf", media_type="application/pdf")
async def protocol_document(request: Request[Any, Any, Any],
                            registry: NamedDependency[Registry], protocol_id: FromPath[str],
                            lang: FromQuery[str] = "") -> Response[bytes]:
    """Administrator, supervisor, or a device whose scope holds the protocol. The printed
    protocol in ``?lang=`` (else ``Accept-Language``, else Uzbek in Latin script)."""
    language = negotiate(lang, request.headers.get("accept-language"))
    pdf, number = await registry.run(_document, registry, request, protocol_id, language)
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in number)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Language": language, "Cache-Control": "private, no-store",
        "Content-Disposition": f'inline; filename="{name}.pdf"'})
