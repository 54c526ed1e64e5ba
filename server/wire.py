"""Content negotiation: MessagePack by default, JSON when the client says so; request bodies
as they are, gzipped, or in Zstandard (what ``client_lib`` sends: a push's body packs a fifth
smaller than with gzip, four times faster, and unpacks three times faster)."""

from __future__ import annotations

import zlib
from typing import Any, TypeVar

import msgspec
import zstandard
from litestar import Request, Response

from server.compression import ZSTD
from server.problems import BadRequest, TooLarge, UnsupportedEncoding

__all__ = ["JSON", "MSGPACK", "decode_body", "replies_in_json", "reply"]

MSGPACK = "application/msgpack"
JSON = "application/json"

T = TypeVar("T")

_json_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()


def _wants_json(media_type: str) -> bool:
    return "json" in media_type.lower()


def _gunzip(body: bytes, limit: int | None) -> bytes:
    """A gzip body inflated, refused past ``limit`` bytes (the limit a plain body has)."""
    inflater = zlib.decompressobj(wbits=31)  # 31: gzip framing
    try:
        inflated = inflater.decompress(body, limit + 1) if limit else inflater.decompress(body)
    except zlib.error as exc:
        raise BadRequest("malformed_body", f"the body is not valid gzip: {exc}") from exc
    if limit and len(inflated) > limit:
        raise TooLarge("body_too_large", f"the body inflates past {limit} bytes")
    if not inflater.eof:
        raise BadRequest("malformed_body", "the gzip body is cut short")
    return inflated


def _unzstd(body: bytes, limit: int | None) -> bytes:
    """A Zstandard body inflated, refused past ``limit`` bytes. Read as a stream of at most the
    limit, never in one go: a small body may claim, or make, gigabytes."""
    try:
        with zstandard.ZstdDecompressor().stream_reader(body) as reader:
            inflated = reader.read(limit + 1) if limit else reader.readall()
    except zstandard.ZstdError as exc:
        raise BadRequest("malformed_body", f"the body is not valid Zstandard: {exc}") from exc
    if limit and len(inflated) > limit:
        raise TooLarge("body_too_large", f"the body inflates past {limit} bytes")
    declared = zstandard.frame_content_size(body)  # -1 when the frame does not state it
    if declared >= 0 and declared != len(inflated):
        raise BadRequest("malformed_body", "the Zstandard body is cut short")
    return inflated


_INFLATE = {"gzip": _gunzip, ZSTD: _unzstd}


async def decode_body(request: Request[Any, Any, Any], kind: type[T]) -> T:
    """The request body as ``kind``, read as JSON or MessagePack by its ``Content-Type``,
    inflated first if its ``Content-Encoding`` is gzip or zstd."""
    body = await request.body()
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in _INFLATE:
        body = _INFLATE[encoding](body, request.route_handler.resolve_request_max_body_size())
    elif encoding != "identity":
        raise UnsupportedEncoding("unsupported_encoding", "bodies are sent as they are, gzipped "
                                  f"or in Zstandard (zstd), not {encoding!r}")
    content_type = request.headers.get("content-type", MSGPACK)
    try:
        if _wants_json(content_type):
            return msgspec.json.decode(body, type=kind)
        return msgspec.msgpack.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise BadRequest("invalid_body", f"the body does not match {kind.__name__}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest("malformed_body", f"the body is not valid {content_type}: {exc}") from exc


def replies_in_json(request: Request[Any, Any, Any]) -> bool:
    """Whether ``reply`` answers this request in JSON: its ``Accept``, else its
    ``Content-Type``, asks for it."""
    preferred = request.headers.get("accept", "")
    if not preferred or preferred == "*/*":
        preferred = request.headers.get("content-type", MSGPACK)
    return _wants_json(preferred)


def reply(request: Request[Any, Any, Any], message: Any, status_code: int = 200) -> Response[bytes]:
    """``message`` encoded as the client prefers (``replies_in_json``), MessagePack by default."""
    if replies_in_json(request):
        return Response(_json_encoder.encode(message), media_type=JSON, status_code=status_code)
    return Response(_msgpack_encoder.encode(message), media_type=MSGPACK, status_code=status_code)
