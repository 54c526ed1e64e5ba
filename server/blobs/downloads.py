"""Evidence files handed to their readers: the file itself, from a byte on
(``Range: bytes=<from>-``), and a photo's thumbnail. One way for the API (a device, a
supervisor's token, the administrator's) and for the console (a signed-in account): whoever
asks, a protocol out of their reach answers 404 as if it did not exist."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response
from litestar.response import Stream

from server.api.problems import BadRequest, NotFound
from server.blobs import evidence
from server.blobs.evidence import Declared
from server.registry import Registry
from server.services.reach import Reach

__all__ = ["UNCOMPRESSED", "evidence_file", "evidence_thumbnail"]

UNCOMPRESSED = {"skip_compression": True}
"""The routes' ``opt``: photos and PDFs are compressed already, the registry does not spend time
on them again."""
_RANGE = re.compile(r"bytes=([0-9]{1,15})-")
_KEPT = "private, max-age=31536000, immutable"
"""A file is named by its hash: what a reader's browser keeps never goes stale."""


async def _held(registry: Registry, reader: str | Reach, protocol_id: str,
                sha256: str) -> Declared:
    """A file the protocol names and the registry holds, for a reader who reaches it."""
    evidence.check_hash(sha256)
    declared = await registry.run(evidence.declared_file, registry.database, registry.catalog,
                                  reader, protocol_id, sha256)
    if not declared.held:
        raise NotFound("file_not_arrived", "the registry does not hold this file yet")
    return declared


async def evidence_file(request: Request[Any, Any, Any], registry: Registry,
                        reader: str | Reach, protocol_id: str, sha256: str) -> Stream:
    """The file ``sha256`` of the protocol, streamed, for ``reader`` (an inspector's id for a
    device, else a reach); ``Range: bytes=<from>-`` goes on from a byte (206)."""
    declared = await _held(registry, reader, protocol_id, sha256)
    start = 0
    if (asked := request.headers.get("range")) is not None:
        found = _RANGE.fullmatch(asked.strip())
        if found is None or int(found.group(1)) >= declared.size:
            raise BadRequest("bad_range", "Range is 'bytes=<first>-', within the file")
        start = int(found.group(1))
    chunks = await registry.run(registry.blobs.get, sha256, start)
    headers = {"Content-Length": str(declared.size - start), "Accept-Ranges": "bytes",
               "ETag": f'"{sha256}"', "Cache-Control": _KEPT,
               "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    if start:
        headers["Content-Range"] = f"bytes {start}-{declared.size - 1}/{declared.size}"
    return Stream(chunks, media_type=declared.media_type, status_code=206 if start else 200,
                  headers=headers)


async def evidence_thumbnail(registry: Registry, reader: str | Reach, protocol_id: str,
                             sha256: str) -> Response[bytes]:
    """The thumbnail of the photo ``sha256`` of the protocol, for ``reader``: a JPEG at most
    480 pixels across, made once and kept (404 ``no_thumbnail`` for a PDF)."""
    declared = await _held(registry, reader, protocol_id, sha256)
    made = await registry.run(registry.thumbnails.of, sha256) \
        if declared.media_type.startswith("image/") else None
    if made is None:
        raise NotFound("no_thumbnail", "this file has no thumbnail")
    return Response(made, media_type="image/jpeg", headers={
        "ETag": f'"{sha256}-thumbnail"', "Cache-Control": _KEPT,
        "X-Content-Type-Options": "nosniff"})
