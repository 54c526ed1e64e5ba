"""Static files at ``/static/``, cached for a year: each URL carries its file's content hash
(``static_url``), so a new release is fetched at once and an unchanged file never again. The
agency's logo, when configured, is served at ``/brand/logo`` the same way."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from pathlib import Path

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.router import Router
from litestar.static_files import create_static_files_router

from server.api.problems import NotFound
from server.registry import Registry

__all__ = ["STATIC_DIR", "brand_logo", "file_version", "static_files", "static_url"]

STATIC_DIR = Path(__file__).parent / "static"
_YEAR = CacheControlHeader(public=True, max_age=365 * 24 * 3600)


@cache
def file_version(path: Path) -> str:
    """A short hash of a file's content, read once a process."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The address of a static file, with its version: ``/static/site.css?v=…``."""
    return f"/static/{name}?v={file_version(STATIC_DIR / name)}"


def static_files() -> Router:
    """The router serving ``server/web/static`` at ``/static/``, public and cached a year."""
    return create_static_files_router(path="/static", directories=[STATIC_DIR],
                                      cache_control=_YEAR, include_in_schema=False)


@get("/brand/logo", include_in_schema=False, sync_to_thread=True)
def brand_logo(registry: NamedDependency[Registry]) -> Response[bytes]:
    """Public. The agency's logo, as configured (``ServerConfig.agency_logo``)."""
    path = Path(registry.config.agency_logo) if registry.config.agency_logo else None
    if path is None or not path.is_file():
        raise NotFound("no_logo", "this registry shows no logo")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(path.read_bytes(), media_type=media_type,
                    headers={_YEAR.HEADER_NAME: _YEAR.to_header()})
