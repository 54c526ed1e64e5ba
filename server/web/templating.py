"""The Jinja environment of the registry's pages, and its Litestar ``TemplateConfig``.

Autoescaping is on for every template and undefined names raise, so that a page can neither
print a forger's markup nor quietly drop a word. Words come from one catalog
(``server/web/messages/<language>.json``) through ``t("key", name=value)``; dates through the
``local_date`` and ``local_datetime`` filters, in the page's language and the site's zone.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from field_sync.i18n import SITE_ZONE, Catalog, local_date, local_datetime
from server.web.assets import static_url

__all__ = ["MESSAGES", "TEMPLATE_DIR", "environment", "template_config"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
MESSAGES = Catalog.from_directory(Path(__file__).parent / "messages")
"""The words of every web page, in every language."""


@pass_context
def _text(context: Context, key: str, /, **arguments: Any) -> str:
    return MESSAGES.text(context["lang"], key, **arguments)


@pass_context
def _local_date(context: Context, value: Any) -> str:
    return local_date(value, context["lang"]) if value else ""


@pass_context
def _local_datetime(context: Context, value: Any, zone: str = SITE_ZONE) -> str:
    return local_datetime(value, context["lang"], zone) if value else ""


@cache
def environment() -> Environment:
    """The one Jinja environment of the registry's pages."""
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(t=_text, static=static_url)
    env.filters.update(local_date=_local_date, local_datetime=_local_datetime)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's template configuration, on ``environment()``."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))
