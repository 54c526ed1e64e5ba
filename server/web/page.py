"""What every page is rendered with: the reader's language, the agency's name and logo, the
language switcher, the registry's public address."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Request
from litestar.response import Template

from field_sync.document import MESSAGES as AGENCY  # the agency's name, as printed too
from field_sync.i18n import LANGUAGES, negotiate
from server.registry import Registry
from server.web.assets import file_version

__all__ = ["AUTONYMS", "Page", "base_context", "page_context", "render", "switcher"]

AUTONYMS = {"uz-Latn": "Oʻzbekcha", "uz-Cyrl": "Ўзбекча", "ru": "Русский", "en": "English"}
"""Each language's name in itself, as a switcher shows it."""


@dataclass(frozen=True)
class Page:
    """A page to render: its template, its own context, its status and extra headers."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def switcher(path: str, query: list[tuple[str, str]], lang: str) -> list[dict[str, Any]]:
    """The language switcher: the page at ``path`` with ``query`` in each language
    (``?lang=``), the current one marked."""
    kept = [(name, value) for name, value in query if name != "lang"]
    return [{"code": code, "name": AUTONYMS[code], "current": code == lang,
             "href": f"{path}?{urlencode([*kept, ('lang', code)])}"} for code in LANGUAGES]


def base_context(lang: str, path: str, query: list[tuple[str, str]], public_url: str,
                 agency_name: str = "", logo_url: str = "") -> dict[str, Any]:
    """What every page template gets, from plain values (see ``server.web``)."""
    return {"lang": lang, "languages": switcher(path, query, lang),
            "agency_name": agency_name or AGENCY.text(lang, "agency.name"),
            "logo_url": logo_url, "public_url": public_url, "flashes": [], "console_url": ""}


def _logo_url(registry: Registry) -> str:
    path = registry.config.agency_logo
    return f"/brand/logo?v={file_version(Path(path))}" if path and Path(path).is_file() else ""


def page_context(request: Request[Any, Any, Any], registry: Registry) -> dict[str, Any]:
    """The context every page template gets, for this request to this registry."""
    lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
    return base_context(lang, request.url.path, list(request.query_params.items()),
                        registry.public_url(request), registry.config.agency_name(lang),
                        _logo_url(registry))


def render(request: Request[Any, Any, Any], registry: Registry, page: Page) -> Template:
    """``page`` in the reader's language, marked as such for caches (``Content-Language``,
    ``Vary: Accept-Language``)."""
    context = {**page_context(request, registry), **page.context}
    headers = {"Content-Language": context["lang"], "Vary": "Accept-Language", **page.headers}
    return Template(template_name=page.template, context=context,
                    status_code=page.status_code, headers=headers,
                    media_type="text/html; charset=utf-8")
