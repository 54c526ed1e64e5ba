"""The registry in the console: search (50 a page, newest signed first, keyset-paged), the
selection exported as CSV or JSON lines, and a protocol whole (its printed form and evidence
files too), with the supervisor's acts on it: annul or clear, each with a reason. Everything
within the reader's reach."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from sqlmodel import select

from field_sync.qr import qr_svg
from schemas import Template as ProtocolTemplate
from server.api.parameters import KeyPath, KeyQuery
from server.api.problems import BadRequest, ProblemError
from server.blobs.downloads import UNCOMPRESSED, evidence_file, evidence_thumbnail
from server.console.auth import current_account, signed_in, supervisor
from server.console.forms import Form, checked_text
from server.console.pages import console_page, flash, language, problem_text, see_other
from server.console.svg import geofence
from server.data.names import inspector_names
from server.data.queries import STATUSES, Filters, query
from server.data.tables import TemplateRow
from server.registry import Registry
from server.services.export import EXPORT_FORMATS, export_chunks, media_type
from server.services.printing import pdf_response, printed
from server.services.protocol_view import protocol_view
from server.services.regions import known_regions
from server.services.supervision import ANNULLABLE, Awaiting, annul, clear
from server.web import MESSAGES

__all__ = ["SEARCH_FIELDS", "RegistryPages", "templates"]

PAGE_SIZE = 50
SEARCH_FIELDS = ("number", "registry_number", "entity", "inspector", "site", "region",
                 "template", "status", "signed_from", "signed_to")


def templates(registry: Registry, lang: str) -> list[tuple[str, str]]:
    """Every kind of protocol (template id) and its title in ``lang``."""
    with registry.database.read() as session:
        refs = session.exec(select(TemplateRow.ref)).all()
        found: dict[str, str] = {}
        for ref in sorted(refs):
            template: ProtocolTemplate | None = registry.catalog.get(session, ref)
            if template is not None:
                found[template.id] = template.title.text(lang)
    return sorted(found.items(), key=lambda item: item[1])


def _search(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {name: checked_text(name, request.query_params.get(name, "").strip(), 100)
            for name in SEARCH_FIELDS}


def _day(search: dict[str, str], name: str) -> dt.date | None:
    """A searched day (``YYYY-MM-DD``, as a date input sends it), or None when not given."""
    if not search[name]:
        return None
    try:
        return dt.date.fromisoformat(search[name])
    except ValueError:
        raise BadRequest("bad_date", f"{name} is a date YYYY-MM-DD, not {search[name]!r}") \
            from None


def _filters(request: Request[Any, Any, Any], search: dict[str, str]) -> Filters:
    return Filters(number=search["number"], registry_number=search["registry_number"],
                   entity=search["entity"], inspector=search["inspector"], site=search["site"],
                   region=search["region"], template=search["template"],
                   status=search["status"], signed_from=_day(search, "signed_from"),
                   signed_to=_day(search, "signed_to"), reach=current_account(request).reach)


class RegistryPages(Controller):
    """Supervisors and administrators."""

    path = "/console"
    guards = [signed_in]

    @get("/registry", sync_to_thread=True)
    def search(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
               after: KeyQuery = "") -> Template:
        """The search form and a page of what it finds."""
        lang, search = language(request), _search(request)
        reach = current_account(request).reach
        with registry.database.read() as session:
            page = query(session, _filters(request, search), after, PAGE_SIZE, "newest")
            inspectors = inspector_names(session, (p.inspector_id for p in page.protocols))
        kinds = templates(registry, lang)
        regions = sorted(reach.regions) if reach.regions is not None else \
            known_regions(registry.database)
        return console_page(request, registry, "registry.html", {
            "search": search, "page": page, "after": after, "kinds": kinds,
            "titles": dict(kinds), "inspectors": inspectors,
            "region_options": [(region, region) for region in regions],
            "status_options": [(status, MESSAGES.text(lang, f"console.status.{status}"))
                               for status in STATUSES],
            "searched": any(search.values()),
            "more_filters": any(search[name] for name in (
                "inspector", "site", "template", "signed_from", "signed_to"))},
            section="registry")

    @get("/registry/export", sync_to_thread=True)
    def export(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
               format: FromQuery[str] = "csv") -> Stream:
        """The search's whole selection, streamed, as CSV or JSON lines."""
        if format not in EXPORT_FORMATS:
            format = "csv"
        filters = _filters(request, _search(request))
        filters.check()
        return Stream(export_chunks(registry, filters, format), media_type=media_type(format),
                      headers={"Content-Disposition":
                               f'attachment; filename="registry.{format}"'})

    @get("/protocols/{protocol_id:str}", sync_to_thread=True)
    def protocol(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                 protocol_id: KeyPath) -> Template:
        """A protocol whole."""
        return _protocol_page(request, registry, protocol_id)

    @get("/protocols/{protocol_id:str}/document.pdf", sync_to_thread=True,
         media_type="application/pdf")
    def document(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                 protocol_id: KeyPath) -> Response[bytes]:
        """The printed protocol, in the console's language: the same bytes the tablet and
        the API make."""
        reach, lang = current_account(request).reach, language(request)
        pdf, name = printed(registry, protocol_id, lang,
                            lambda row, _session: reach.admits(row.region))
        return pdf_response(pdf, name, lang)

    @get("/protocols/{protocol_id:str}/files/{sha256:str}", opt=UNCOMPRESSED)
    async def evidence(self, request: Request[Any, Any, Any],
                       registry: NamedDependency[Registry], protocol_id: KeyPath,
                       sha256: FromPath[str]) -> Stream:
        """An evidence file of the protocol, as the tablet sent it."""
        return await evidence_file(request, registry, current_account(request).reach,
                                   protocol_id, sha256)

    @get("/protocols/{protocol_id:str}/files/{sha256:str}/thumbnail", opt=UNCOMPRESSED)
    async def thumbnail(self, request: Request[Any, Any, Any],
                        registry: NamedDependency[Registry], protocol_id: KeyPath,
                        sha256: FromPath[str]) -> Response[bytes]:
        """A photo's thumbnail."""
        return await evidence_thumbnail(registry, current_account(request).reach,
                                        protocol_id, sha256)

    @post("/protocols/{protocol_id:str}/annul", guards=[supervisor])
    async def annul(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                    protocol_id: KeyPath) -> Template | Redirect:
        """Annul, with a reason; the registry signs the act."""
        return await _act(request, registry, protocol_id, "annul")

    @post("/protocols/{protocol_id:str}/clear", guards=[supervisor])
    async def clear(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                    protocol_id: KeyPath) -> Template | Redirect:
        """Clear from quarantine for registration, with a reason."""
        return await _act(request, registry, protocol_id, "clear")


async def _act(request: Request[Any, Any, Any], registry: Registry, protocol_id: str,
               act: str) -> Template | Redirect:
    form = await Form.read(request)
    reason, reach = form.value("reason"), current_account(request).reach
    try:
        if act == "annul":
            await registry.run(annul, registry.database, registry.keys, reach, protocol_id,
                               form.text("reason"))
            done = "console.protocol.annulled"
        else:
            cleared = await registry.run(clear, registry.database, registry.keys,
                                         registry.catalog, reach, protocol_id,
                                         form.text("reason"))
            done = "console.protocol.cleared_awaiting" if isinstance(cleared, Awaiting) else \
                "console.protocol.cleared"
    except ProblemError as refused:
        if refused.status_code == 404:
            raise
        return await registry.run(_protocol_page, request, registry, protocol_id,
                                  {act: problem_text(request, refused)}, reason, 400)
    flash(request, "success", done)
    return see_other(request, f"/console/protocols/{protocol_id}")


def _protocol_page(request: Request[Any, Any, Any], registry: Registry, protocol_id: str,
                   errors: dict[str, str] | None = None, reason: str = "",
                   status: int = 200) -> Template:
    lang, account = language(request), current_account(request)
    with registry.database.read() as session:
        view = protocol_view(session, registry.catalog, account.reach, protocol_id, lang)
    location = view.location
    drawing = geofence(
        lat=location.lat, lon=location.lon, accuracy_m=location.accuracy_m,
        site_lat=location.site_lat, site_lon=location.site_lon, radius_m=location.radius_m,
        allowed_m=location.allowed_m, inside=location.inside,
        title=MESSAGES.text(lang, "console.protocol.map_title"),
        labels={key: MESSAGES.text(lang, f"console.protocol.map_{key}")
                for key in ("site", "fix", "north")}) if location is not None else ""
    seal = view.signature.seal if view.signature is not None else ""
    return console_page(request, registry, "protocol.html", {
        "view": view, "map": drawing, "seal_qr": qr_svg(seal).decode() if seal else "",
        "verify_path": f"/v/{seal.rpartition('/')[2]}" if seal else "",
        "may_act": account.role == "supervisor", "annullable": view.status in ANNULLABLE,
        "errors": errors or {}, "reason": reason}, section="registry", status=status)
