"""Evidence files on the wire (``docs/protocol/blobs.md``): which the registry lacks, uploads
that resume after a cut, and downloads; apart from ops, streamed, never held whole in memory.

- ``POST /v1/blobs/missing``: the hashes the registry lacks, each with how many of its bytes
  it has received already.
- ``PUT /v1/protocols/{id}/blobs/{sha256}``, ``Content-Range: bytes <from>-<last>/<size>``:
  bytes of a file the protocol names, from where the registry stands (409 ``upload_offset``
  with ``Upload-Offset`` otherwise). Checked before a byte is read: the protocol is in the
  device's scope and names the file, whose declared size is within the registry's limits
  (413). Written to disk as they arrive; when the last lands the file's SHA-256 and media
  type are checked (422 ``blob_mismatch``, ``media_type_mismatch``, ``undecodable``: the bytes
  are dropped) and the blob store keeps it. 201 when it completes, 200 otherwise, with
  ``Upload-Offset``.
- ``GET /v1/protocols/{id}/blobs/{sha256}`` (``Range: bytes=<from>-``): the file, to the device
  in scope, the administrator and supervisors (a token limited to regions reaches only their
  protocols); ``.../thumbnail``: a photo's thumbnail, made once and kept
  (``server.blobs.thumbnails``). Both served by ``server.blobs.downloads``, as the console's are.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.params import FromPath
from litestar.response import Stream

from field_sync.media import SNIFF_BYTES, MediaRefused, check_decodes, sniff
from schemas.attachments import BlobOffsets, BlobQuestion
from server.api.auth import Caller
from server.api.guards import protocol_reader
from server.api.openapi import ADMINISTRATOR, DEVICE, SUPERVISOR, Body, documented
from server.api.parameters import KeyPath
from server.api.problems import BadRequest, Conflict, ProblemError, TooLarge
from server.blobs import evidence
from server.blobs.downloads import UNCOMPRESSED, evidence_file, evidence_thumbnail
from server.blobs.evidence import Arrived, Declared
from server.blobs.uploads import StagingBusy, Upload
from server.registry import Registry, now_ms
from server.sync.wire import decode_body, reply

__all__ = ["blob_thumbnail", "download_blob", "missing_blobs", "upload_blob"]

_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,15})-([0-9]{1,15})/([0-9]{1,15})")
_READERS = [*ADMINISTRATOR, *SUPERVISOR, *DEVICE]
_EVIDENCE = ("image/jpeg", "image/png", "application/pdf")


class Unprocessable(ProblemError):
    """422: a body of the right length that is not the file it says it is."""

    status = 422


class _Received(msgspec.Struct, frozen=True):
    sha256: str
    offset: int
    """Bytes of the file the registry holds; the upload is done when it is ``size``."""
    size: int


def _stands(request: Request[Any, Any, Any], declared: Declared, offset: int,
            status: int = 200) -> Response[bytes]:
    response = reply(request, _Received(declared.sha256, offset, declared.size), status)
    response.headers["Upload-Offset"] = str(offset)
    return response


def _range(request: Request[Any, Any, Any], size: int) -> tuple[int, int]:
    """The first and last byte the body carries (the whole file without ``Content-Range``)."""
    header = request.headers.get("content-range")
    if header is None:
        first, last = 0, size - 1
    else:
        found = _CONTENT_RANGE.fullmatch(header.strip())
        if found is None:
            raise BadRequest("bad_range", "Content-Range is 'bytes <first>-<last>/<size>'")
        first, last, total = map(int, found.groups())
        if total != size or not first <= last < size:
            raise BadRequest("bad_range", f"the file is {size} bytes; {header!r} is not a part "
                             "of it")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) != last - first + 1:
        if int(length) > last - first + 1:
            raise TooLarge("blob_too_large", f"a body of {length} bytes for {last - first + 1}")
        raise BadRequest("bad_range", f"a body of {length} bytes for {last - first + 1}")
    return first, last


@post("/v1/blobs/missing", status_code=200, security=DEVICE,
      operation_class=documented(BlobQuestion, BlobOffsets))
async def missing_blobs(request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                        caller: NamedDependency[Caller]) -> Response[bytes]:
    """Device. Which of these files the registry lacks, each with the bytes of it received
    already (an upload resumes there); files it holds are left out."""
    question = await decode_body(request, BlobQuestion)
    wanted = list(dict.fromkeys(question.hashes))

    def held() -> set[str]:
        with registry.database.read() as session:
            return evidence.held(session, wanted)

    have = await registry.run(held)
    return reply(request, BlobOffsets({sha256: registry.staging.offset(sha256)
                                       for sha256 in wanted if sha256 not in have}))


@put("/v1/protocols/{protocol_id:str}/blobs/{sha256:str}", request_max_body_size=None,
     opt=UNCOMPRESSED, security=DEVICE, operation_class=documented(
         Body(str, ("application/octet-stream",)), _Received,
         responses={"201": "The last byte arrived: the file is checked and kept."}))
async def upload_blob(request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                      caller: NamedDependency[Caller], protocol_id: KeyPath,
                      sha256: FromPath[str]) -> Response[bytes]:
    """Device whose scope holds the protocol. Bytes of a file it names, from where the
    registry stands (see the module)."""
    evidence.check_hash(sha256)
    declared = await registry.run(evidence.declared_file, registry.database, registry.catalog,
                                  caller.inspector_id, protocol_id, sha256)
    if declared.held:
        return _stands(request, declared, declared.size)
    evidence.check_limits(registry.config, declared)
    first, last = _range(request, declared.size)
    try:
        with registry.staging.open(sha256) as upload:
            if upload.offset != first:
                conflict = Conflict("upload_offset", f"the registry holds {upload.offset} bytes "
                                    "of this file: send from there", offset=upload.offset)
                conflict.headers = {"Upload-Offset": str(upload.offset)}
                raise conflict
            try:
                async for chunk in request.stream():
                    if upload.offset + len(chunk) > last + 1:
                        upload.discard()
                        raise TooLarge("blob_too_large", "the body runs past the "
                                       f"{last - first + 1} bytes its range declares")
                    upload.append(chunk)
            except InternalServerException:
                # The device went away: what arrived stays, and the next upload goes on.
                return _stands(request, declared, upload.offset)
            if upload.offset < declared.size:
                return _stands(request, declared, upload.offset)
            await registry.run(_finish, registry, caller, declared, upload)
    except StagingBusy:
        raise Conflict("upload_busy", "another upload of this file is under way; ask where it "
                       "stands in a moment") from None
    return _stands(request, declared, declared.size, 201)


def _finish(registry: Registry, caller: Caller, declared: Declared, upload: Upload) -> None:
    """Check a file whose last byte arrived, and keep it (or drop it, refused)."""
    if upload.sha256() != declared.sha256:
        upload.discard()
        raise Unprocessable("blob_mismatch", "these bytes are not the file the protocol names "
                            "(another SHA-256): sent again from the first byte")
    try:
        with upload.path.open("rb") as file:
            media_type = sniff(file.read(SNIFF_BYTES))
        if media_type != declared.media_type:
            raise MediaRefused(f"a {media_type} file, declared {declared.media_type}",
                               code="media_type_mismatch")
        check_decodes(upload.path, media_type)
    except MediaRefused as refused:
        upload.discard()
        raise Unprocessable(refused.code, refused.reason) from refused
    registry.blobs.put_file(declared.sha256, declared.size, upload.path)
    upload.forget()
    evidence.file_arrived(registry.database, registry.keys,
                          Arrived(declared.sha256, declared.size, declared.media_type,
                                  caller.device_id), now_ms())


@get("/v1/protocols/{protocol_id:str}/blobs/{sha256:str}", opt=UNCOMPRESSED,
     security=_READERS, operation_class=documented(response=Body(str, _EVIDENCE)))
async def download_blob(request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                        protocol_id: KeyPath, sha256: FromPath[str]) -> Stream:
    """Administrator, supervisors, or a device whose scope holds the protocol. A file the
    protocol names; ``Range: bytes=<from>-`` goes on from a byte."""
    reader = await registry.run(protocol_reader, request, registry)
    return await evidence_file(request, registry, reader, protocol_id, sha256)


@get("/v1/protocols/{protocol_id:str}/blobs/{sha256:str}/thumbnail", opt=UNCOMPRESSED,
     security=_READERS, operation_class=documented(response=Body(str, ("image/jpeg",))))
async def blob_thumbnail(request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                         protocol_id: KeyPath, sha256: FromPath[str]) -> Response[bytes]:
    """As the file itself. A photo's thumbnail, a JPEG at most 480 pixels across (404
    ``no_thumbnail`` for a PDF)."""
    reader = await registry.run(protocol_reader, request, registry)
    return await evidence_thumbnail(registry, reader, protocol_id, sha256)
