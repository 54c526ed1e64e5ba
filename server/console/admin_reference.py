"""Administrators' reference data: browse sites, entities and instruments (with their
verification dates); upload a CSV or JSON-lines file of one kind, read the row-by-row report
(line, field, reason), then commit it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from server.api.parameters import KeyPath, KeyQuery, SearchQuery
from server.api.problems import ProblemError, TooLarge
from server.console.auth import administrator, current_account
from server.console.forms import Form
from server.console.pages import console_page, flash, language, message, problem_text
from server.data.reference import KINDS
from server.registry import Registry
from server.services.reference_files import (
    BROWSED_KINDS,
    browse,
    commit_import,
    stage_import,
)

__all__ = ["ReferencePages"]

_MAX_FILE = 8 * 1024 * 1024


def _reference_page(request: Request[Any, Any, Any], registry: Registry, kind: str, q: str,
                    after: str, error: str = "", status: int = 200) -> Template:
    records, next_after = browse(registry.database, kind, q, after)
    lang = language(request)
    return console_page(request, registry, "admin/reference.html", {
        "kind": kind, "kinds": BROWSED_KINDS, "q": q,
        "kind_options": [(name, message(lang, f"console.kind.{name}")) for name in KINDS],
        "records": records, "after": after, "next_after": next_after, "error": error},
        section="reference", status=status)


class ReferencePages(Controller):
    """Administrators."""

    path = "/console/admin/reference"
    guards = [administrator]

    @get("/", sync_to_thread=True)
    def browse(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
               kind: FromQuery[str] = "site", q: SearchQuery = "",
               after: KeyQuery = "") -> Template:
        """Records of a kind, by key, and the upload form."""
        return _reference_page(request, registry, kind if kind in BROWSED_KINDS else "site",
                               q.strip(), after)

    @post("/import")
    async def upload(self, request: Request[Any, Any, Any],
                     registry: NamedDependency[Registry]) -> Template:
        """Upload a file: its report, and nothing stored yet."""
        form = await Form.read(request)
        upload = form.fields.get("file")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        name = upload.filename if isinstance(upload, UploadFile) else ""
        fmt = "jsonl" if name.lower().endswith((".jsonl", ".json", ".ndjson")) else "csv"
        try:
            if len(data) > _MAX_FILE:
                raise TooLarge("file_too_large", "the file is over 8 MB")
            staged = await registry.run(stage_import, registry.database,
                                        current_account(request).id, form.text("kind", 16),
                                        fmt, data)
        except ProblemError as refused:
            return await registry.run(_reference_page, request, registry, "site", "", "",
                                      problem_text(request, refused), 400)
        return console_page(request, registry, "admin/import_report.html", {
            "staged": staged, "report": staged.report, "file_name": name, "committed": False},
            section="reference")

    @post("/import/{staged_id:str}")
    async def commit(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     staged_id: KeyPath) -> Template | Redirect:
        """Commit an upload whose report was read: what was stored."""
        report = await registry.run(commit_import, registry.database,
                                    current_account(request).id, staged_id)
        flash(request, "success", "console.reference.committed", stored=report.stored,
              rejected=len(report.rejected))
        return console_page(request, registry, "admin/import_report.html", {
            "staged": None, "report": report, "file_name": "", "committed": True},
            section="reference")


