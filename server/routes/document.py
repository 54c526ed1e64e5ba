"""``GET /v1/protocols/{id}/document.pdf``: the printed protocol, the same bytes the tablet
renders offline (``Tablet.render_pdf``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from field_sync.document import printed_protocol, render_pdf
from field_sync.evidence import attachments_of
from field_sync.i18n import negotiate
from server.documents import decode_state
from server.evidence import site_of
from server.guards import protocol_reader
from server.openapi import ADMINISTRATOR, DEVICE, SUPERVISOR, Body, documented
from server.parameters import KeyPath
from server.problems import NotFound
from server.registry import Registry
from server.scope import assignment_team, assignments_in_scope
from server.tables import ProtocolRow

__all__ = ["protocol_document"]


def _may_read(request: Request[Any, Any, Any], registry: Registry, row: ProtocolRow,
              session: Any) -> bool:
    """The administrator, a supervisor, or a device whose scope holds the protocol."""
    inspector = protocol_reader(request, registry)
    return inspector is None or row.assignment_id in assignments_in_scope(session, inspector)


def _document(registry: Registry, request: Request[Any, Any, Any], protocol_id: str,
              lang: str) -> tuple[bytes, str]:
    with registry.database.read() as session:
        row = session.get(ProtocolRow, protocol_id)
        if row is None or not _may_read(request, registry, row, session):
            # out of scope looks the same as absent: ids are not to be probed
            raise NotFound("unknown_protocol", f"no protocol {protocol_id!r} in your reach")
        template = registry.catalog.get(session, row.template_ref)
        team = assignment_team(session, row.assignment_id)
        site = site_of(session, row.assignment_id)
    if template is None:
        raise NotFound("unknown_template", f"no template {row.template_ref!r}")
    state = decode_state(row)
    protocol = state.materialize(template)
    signed = state.frozen.signed if state.frozen else None
    thumbnails = registry.thumbnails.for_photos(
        attachment for _, attachment in attachments_of(template, protocol))
    pdf = render_pdf(printed_protocol(protocol, template, signed, row.registry_number, team,
                                      site, thumbnails), lang)
    return pdf, row.number or row.id


@get("/v1/protocols/{protocol_id:str}/document.pdf", media_type="application/pdf",
     security=[*ADMINISTRATOR, *SUPERVISOR, *DEVICE],
     operation_class=documented(response=Body(str, ("application/pdf",))))
async def protocol_document(request: Request[Any, Any, Any],
                            registry: NamedDependency[Registry], protocol_id: KeyPath,
                            lang: FromQuery[str] = "") -> Response[bytes]:
    """Administrator, supervisor, or a device whose scope holds the protocol. The printed
    protocol in ``?lang=`` (else ``Accept-Language``, else Uzbek in Latin script)."""
    language = negotiate(lang, request.headers.get("accept-language"))
    pdf, number = await registry.run(_document, registry, request, protocol_id, language)
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in number)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Language": language, "Cache-Control": "private, no-store",
        "Content-Disposition": f'inline; filename="{name}.pdf"'})
