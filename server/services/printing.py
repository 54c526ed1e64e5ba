"""The printed protocol (``field_sync.document``) as the registry serves it: to a device in
scope, a supervisor or the administrator through the API, and to the console's readers; one
way for both."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Response
from sqlmodel import Session

from field_sync.document import printed_protocol, render_pdf
from field_sync.evidence import attachments_of
from server.api.problems import NotFound
from server.blobs.evidence import site_of
from server.data.tables import ProtocolRow
from server.registry import Registry
from server.sync.documents import decode_state
from server.sync.scope import assignment_team

__all__ = ["pdf_response", "printed"]


def printed(registry: Registry, protocol_id: str, lang: str,
            may_read: Callable[[ProtocolRow, Session], bool]) -> tuple[bytes, str]:
    """The printed protocol in ``lang`` and the file name it goes by, for a reader
    ``may_read`` admits (``NotFound`` otherwise, the same as for a protocol that does not
    exist: ids are not to be probed). The API's and the console's one way to a PDF."""
    with registry.database.read() as session:
        row = session.get(ProtocolRow, protocol_id)
        if row is None or not may_read(row, session):
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
    number = row.number or row.id
    return pdf, "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_"
                        for c in number)


def pdf_response(pdf: bytes, name: str, language: str) -> Response[bytes]:
    """A printed protocol as the answer to a request, shown in the browser."""
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Language": language, "Cache-Control": "private, no-store",
        "Content-Disposition": f'inline; filename="{name}.pdf"'})


