"""The registry's web pages: Jinja templates, static files and their message catalog.

Every page extends ``templates/base.html`` (the agency's header, a language switcher, the
registry's public address in the footer) and finds its words with ``t("key")`` in the page's
language; static files (the stylesheet, icons) are served by the registry itself at ``/static/``
and never from a CDN, since an agency network may be closed.

What a page template gets (``server.web.page.page_context``): ``lang``, ``languages`` (the
switcher), ``agency_name``, ``logo_url``, ``public_url``, ``flashes``, ``console_url``, the
globals ``t`` and ``static`` and the filters ``local_date`` and ``local_datetime``. Blocks of the
base layout: ``title``, ``head``, ``nav``, ``banner``, ``content``, ``footer``.
"""

from server.web.assets import STATIC_DIR, brand_logo, static_files, static_url
from server.web.page import Page, base_context, page_context, render
from server.web.templating import MESSAGES, TEMPLATE_DIR, environment, template_config

__all__ = [
    "MESSAGES",
    "STATIC_DIR",
    "TEMPLATE_DIR",
    "Page",
    "base_context",
    "brand_logo",
    "environment",
    "page_context",
    "render",
    "static_files",
    "static_url",
    "template_config",
]
