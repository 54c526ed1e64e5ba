"""How a tablet talks to the registry: a small Protocol, and the HTTP implementation.

Tests and apps may plug in another transport (a recorded one, one with fault injection); the
sync logic only ever sees this interface.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
import msgspec

from client_lib.errors import Offline, RegistryRefused
from schemas import EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse
from schemas.signing import TrustList

__all__ = ["HttpTransport", "Traffic", "Transport"]

T = TypeVar("T")
MSGPACK = "application/msgpack"


class Transport(Protocol):
    """The registry as the sync client sees it."""

    def enroll(self, request: EnrollRequest) -> EnrollResponse: ...

    def push(self, token: str, batch: PushRequest) -> PushResponse: ...

    def pull(self, token: str, cursor: str) -> PullResponse: ...

    def rotate_key(self, token: str, public_key: str) -> str: ...

    def trust_list(self) -> TrustList: ...


@dataclass
class Traffic:
    """What a transport sent and received: requests, and bytes of bodies and headers."""

    requests: int = 0
    sent_bytes: int = 0
    received_bytes: int = 0


def _header_bytes(headers: httpx.Headers) -> int:
    return sum(len(name) + len(value) + 4 for name, value in headers.raw)  # "name: value\r\n"


class HttpTransport:
    """The ``/v1`` sync protocol over HTTP, in MessagePack.

    Args:
        base_url: the registry, such as ``https://registry.example.uz``.
        timeout_s: how long to wait for the registry on a slow field connection.
    """

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s,
                                  headers={"Accept": MSGPACK})
        self._encoder = msgspec.msgpack.Encoder()
        self.traffic = Traffic()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, kind: type[T], token: str = "",
              body: Any = None, params: dict[str, str] | None = None,
              idempotent: bool = False) -> T:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        content = None
        if body is not None:
            headers["Content-Type"] = MSGPACK
            content = self._encoder.encode(body)
        try:
            response, body = self._send(method, path, content, headers, params)
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            # A kept-alive connection the registry closed while idle fails the next request
            # at once. A request that changes nothing when repeated gets one more try on a
            # fresh connection; an enrollment (its code is spent once) does not.
            if not idempotent:
                raise Offline(f"the registry at {self.base_url} is out of reach: {exc}") from exc
            try:
                response, body = self._send(method, path, content, headers, params)
            except httpx.TransportError as again:
                raise Offline(f"the registry at {self.base_url} is out of reach: "
                              f"{again}") from again
        except httpx.TransportError as exc:
            raise Offline(f"the registry at {self.base_url} is out of reach: {exc}") from exc
        self._count(response, body)
        if response.status_code >= 400:
            try:
                problem = json.loads(body)
            except ValueError:
                problem = {"code": "http_error", "detail": body[:200].decode(errors="replace")}
            raise RegistryRefused(response.status_code, problem)
        return msgspec.msgpack.decode(body, type=kind)

    def _send(self, method: str, path: str, content: bytes | None, headers: dict[str, str],
              params: dict[str, str] | None) -> tuple[httpx.Response, bytes]:
        # The body is read into a buffer of our own rather than kept on the response: an
        # httpx response sits in a reference cycle, so whatever it holds (a pull page is
        # megabytes) would stay in memory until the next full garbage collection.
        with self._http.stream(method, path, content=content, headers=headers,
                               params=params) as response:
            return response, b"".join(response.iter_bytes())

    def _count(self, response: httpx.Response, body: bytes) -> None:
        request = response.request
        self.traffic.requests += 1
        self.traffic.sent_bytes += (len(request.content) + _header_bytes(request.headers)
                                    + len(request.method) + len(str(request.url.raw_path)) + 11)
        self.traffic.received_bytes += len(body) + _header_bytes(response.headers) + 15

    def enroll(self, request: EnrollRequest) -> EnrollResponse:
        """Trade a one-time code and a public key for device credentials."""
        return self._call("POST", "/v1/enroll", EnrollResponse, body=request)

    def push(self, token: str, batch: PushRequest) -> PushResponse:
        """Send a batch of ops."""
        return self._call("POST", "/v1/push", PushResponse, token=token, body=batch,
                          idempotent=True)

    def pull(self, token: str, cursor: str) -> PullResponse:
        """Fetch one page of changes."""
        return self._call("GET", "/v1/pull", PullResponse, token=token,
                          params={"cursor": cursor}, idempotent=True)

    def trust_list(self) -> TrustList:
        """The registry's signed trust list."""
        return self._call("GET", "/v1/trust-list", TrustList, idempotent=True)

    def rotate_key(self, token: str, public_key: str) -> str:
        """Enroll a new signing key; return its key id."""
        answer = self._call("POST", "/v1/keys", dict[str, Any], token=token,
                            body={"public_key": public_key})
        return str(answer["kid"])
