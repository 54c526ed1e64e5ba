"""What every page is rendered with: the reader's language, the agency's name and logo, the
language switcher, the registry's public address."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Request
from litestar.response import Template

from field_sync.i18n import LANGUAGES, negotiate
from server.registry import Registry
from server.web.assets import file_version
from server.web.templating import MESSAGES

__all__ = ["AUTONYMS", "Page", "page_context", "render"]

AUTONYMS = {"uz-Latn": "Oʻzbekcha", "uz-Cyrl": "Ўзбекча", "ru": "Русский", "en": "English"}
"""Each language's name in itself, as a switcher shows it."""


@dataclass(frozen=True)
class Page:
    """A page to render: its template, its own context, its status and extra headers."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _switcher(request: Request[Any, Any, Any], lang: str) -> list[dict[str, Any]]:
    """The language switcher: this page's address in each language (``?lang=``)."""
    query = [(name, value) for name, value in request.query_params.items() if name != "lang"]
    return [{"code": code, "name": AUTONYMS[code], "current": code == lang,
             "href": f"{request.url.path}?{urlencode([*query, ('lang', code)])}"}
            for code in LANGUAGES]


def _logo_url(registry: Registry) -> str:
    configured = registry.config.agency_logo
    path = Path(configured) if configured else None
    return f"/brand/logo?v={file_version(path)}" if path and path.is_file() else ""


def page_context(request: Request[Any, Any, Any], registry: Registry) -> dict[str, Any]:
    """The context every page template gets (see ``server.web``)."""
    lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
    return {
        "lang": lang,
        "languages": _switcher(request, lang),
        "agency_name": registry.config.agency_name.get(lang)
        or MESSAGES.text(lang, "agency.name"),
        "logo_url": _logo_url(registry),
        "public_url": registry.public_url(request),
        "flashes": [],
        "console_url": "",
    }


def render(request: Request[Any, Any, Any], registry: Registry, page: Page) -> Template:
    """``page`` in the reader's language, marked as such for caches (``Content-Language``,
    ``Vary: Accept-Language``)."""
    context = {**page_context(request, registry), **page.context}
    headers = {"Content-Language": context["lang"], "Vary": "Accept-Language", **page.headers}
    return Template(template_name=page.template, context=context,
                    status_code=page.status_code, headers=headers,
                    media_type="text/html; charset=utf-8")
