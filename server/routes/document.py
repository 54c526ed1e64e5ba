"""``GET /v1/protocols/{id}/document.pdf``: the printed protocol, the same bytes the tablet
renders offline (``Tablet.render_pdf``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from field_sync.i18n import negotiate
from server.api.guards import protocol_reader
from server.api.openapi import ADMINISTRATOR, DEVICE, SUPERVISOR, Body, documented
from server.api.parameters import KeyPath
from server.data.tables import ProtocolRow
from server.registry import Registry
from server.services.printing import pdf_response, printed
from server.services.reach import Reach
from server.sync.scope import assignments_in_scope

__all__ = ["protocol_document"]


def _may_read(request: Request[Any, Any, Any], registry: Registry, row: ProtocolRow,
              session: Any) -> bool:
    """The administrator, a supervisor whose regions hold the protocol, or a device whose
    scope holds it."""
    reader = protocol_reader(request, registry)
    if isinstance(reader, Reach):
        return reader.admits(row.region)
    return row.assignment_id in assignments_in_scope(session, reader)


@get("/v1/protocols/{protocol_id:str}/document.pdf", media_type="application/pdf",
     security=[*ADMINISTRATOR, *SUPERVISOR, *DEVICE],
     operation_class=documented(response=Body(str, ("application/pdf",))))
async def protocol_document(request: Request[Any, Any, Any],
                            registry: NamedDependency[Registry], protocol_id: KeyPath,
                            lang: FromQuery[str] = "") -> Response[bytes]:
    """Administrator, supervisor, or a device whose scope holds the protocol. The printed
    protocol in ``?lang=`` (else ``Accept-Language``, else Uzbek in Latin script)."""
    language = negotiate(lang, request.headers.get("accept-language"))
    pdf, name = await registry.run(printed, registry, protocol_id, language,
                                   lambda row, session: _may_read(request, registry, row,
                                                                  session))
    return pdf_response(pdf, name, language)
