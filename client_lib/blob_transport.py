"""How a tablet moves evidence files: a small Protocol, and its HTTP implementation.

Files go by their own endpoints, apart from ops (``docs/protocol/blobs.md``):

- ``POST /v1/blobs/missing``: which of these hashes the registry lacks, and how many bytes of
  each it has already received;
- ``PUT /v1/protocols/{id}/blobs/{sha256}`` with ``Content-Range: bytes <from>-<last>/<size>``:
  the rest of a file, from where the registry stands; a cut connection loses nothing the
  registry received;
- ``GET /v1/protocols/{id}/blobs/{sha256}`` (``Range: bytes=<from>-`` to go on): a file a
  protocol in the tablet's scope names, when it is opened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import httpx
import msgspec

from client_lib.errors import Offline, RegistryRefused
from schemas.attachments import BlobOffsets, BlobQuestion

__all__ = ["BlobTransport", "HttpBlobTransport"]

_MSGPACK = "application/msgpack"


class BlobTransport(Protocol):
    """The registry's file endpoints as the tablet sees them. Every method raises ``Offline``
    when the registry cannot be reached and ``RegistryRefused`` when it answers a problem."""

    def missing(self, token: str, hashes: list[str]) -> dict[str, int]:
        """The hashes among ``hashes`` (at most 1,000) the registry lacks, each with the bytes
        of it already received."""
        ...

    def upload(self, token: str, protocol_id: str, sha256: str, offset: int, size: int,
               chunks: Iterable[bytes]) -> int:
        """Send bytes ``offset`` to the end of a file that protocol ``protocol_id`` names;
        return how many bytes of it the registry holds after (``size`` once it took it)."""
        ...

    def download(self, token: str, protocol_id: str, sha256: str,
                 offset: int = 0) -> Any:
        """A context manager giving the file's bytes from ``offset``, a chunk at a time."""
        ...


def _refused(response: httpx.Response, body: bytes) -> RegistryRefused:
    try:
        problem = json.loads(body)
    except ValueError:
        problem = {"code": "http_error", "detail": body[:200].decode(errors="replace")}
    return RegistryRefused(response.status_code, problem)


class HttpBlobTransport:
    """The file endpoints over HTTP.

    Args:
        base_url: the registry.
        timeout_s: how long to wait for the registry between two chunks.
    """

    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _request(self, method: str, path: str, token: str, *, content: Any = None,
                 headers: dict[str, str] | None = None) -> tuple[httpx.Response, bytes]:
        try:
            with self._http.stream(method, path, content=content,
                                   headers={"Authorization": f"Bearer {token}",
                                            **(headers or {})}) as response:
                body = response.read()
        except httpx.TransportError as exc:
            raise Offline(f"the registry at {self.base_url} is out of reach: {exc}") from exc
        if response.status_code >= 400:
            raise _refused(response, body)
        return response, body

    def missing(self, token: str, hashes: list[str]) -> dict[str, int]:
        """See ``BlobTransport.missing``."""
        _, body = self._request("POST", "/v1/blobs/missing", token,
                                content=msgspec.msgpack.encode(BlobQuestion(hashes)),
                                headers={"Content-Type": _MSGPACK, "Accept": _MSGPACK})
        return msgspec.msgpack.decode(body, type=BlobOffsets).missing

    def upload(self, token: str, protocol_id: str, sha256: str, offset: int, size: int,
               chunks: Iterable[bytes]) -> int:
        """See ``BlobTransport.upload``: one streamed ``PUT``, its length announced."""
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Length": str(size - offset),
                   "Content-Range": f"bytes {offset}-{size - 1}/{size}"}
        response, _ = self._request("PUT", f"/v1/protocols/{protocol_id}/blobs/{sha256}",
                                    token, content=chunks, headers=headers)
        return int(response.headers.get("Upload-Offset", size))

    @contextmanager
    def download(self, token: str, protocol_id: str, sha256: str,
                 offset: int = 0) -> Iterator[Iterator[bytes]]:
        """See ``BlobTransport.download``."""
        headers = {"Authorization": f"Bearer {token}"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            with self._http.stream("GET", f"/v1/protocols/{protocol_id}/blobs/{sha256}",
                                   headers=headers) as response:
                if response.status_code >= 400:
                    raise _refused(response, response.read())
                yield _offline_on_cut(response.iter_bytes(), self.base_url)
        except httpx.TransportError as exc:
            raise Offline(f"the registry at {self.base_url} is out of reach: {exc}") from exc


def _offline_on_cut(chunks: Iterator[bytes], base_url: str) -> Iterator[bytes]:
    try:
        yield from chunks
    except httpx.TransportError as exc:
        raise Offline(f"the download from {base_url} was cut: {exc}") from exc
