"""The HTTP transport against real servers on loopback that behave as a registry may: one that
drops a connection unanswered, as a registry does with a kept-alive connection it closed while
the tablet was busy; one from before request bodies in Zstandard."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import msgspec
import pytest

from client_lib import HttpTransport
from client_lib.errors import Offline, RegistryRefused
from schemas import EnrollRequest, Op, OpResult, PullResponse, PushRequest, PushResponse

pytestmark = pytest.mark.database_free


class _FlakyRegistry(BaseHTTPRequestHandler):
    """Drops the first ``drops`` requests without a word, then answers every one with a page."""

    protocol_version = "HTTP/1.1"
    drops = 1
    seen: list[str] = []
    page = msgspec.msgpack.encode(PullResponse(cursor="1.0.0.1..", changes=[], more=False,
                                               server_time_ms=1))

    def _answer(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if len(self.seen) <= self.drops:
            self.close_connection = True  # hang up before any status line
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/msgpack")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serving(server: HTTPServer) -> Iterator[str]:
    """``server`` answering on loopback, in a thread, for the block; its URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def flaky(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    """A registry on loopback that hangs up on the first requests (one, or the param)."""
    seen: list[str] = []
    handler = type("Handler", (_FlakyRegistry,), {"seen": seen,
                                                  "drops": getattr(request, "param", 1)})
    with _serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url, seen


def test_a_pull_cut_off_before_its_answer_is_asked_again_once(
        flaky: tuple[str, list[str]]) -> None:
    url, seen = flaky
    transport = HttpTransport(url)
    page = transport.pull("token", "")
    transport.close()
    assert page.cursor == "1.0.0.1.." and not page.more
    assert seen == ["GET /v1/pull?cursor=&states=true&packed=true&attachments=true"] * 2
    assert transport.traffic.requests == 1  # the one that was answered


def test_an_enrollment_cut_off_is_not_sent_again(flaky: tuple[str, list[str]]) -> None:
    """Its one-time code may already be spent: the inspector is told, and tries again."""
    url, seen = flaky
    transport = HttpTransport(url)
    with pytest.raises(Offline):
        transport.enroll(EnrollRequest(code="123456", public_key="pem", device_name="tab"))
    transport.close()
    assert seen == ["POST /v1/enroll"]


@pytest.mark.parametrize("flaky", [5], indirect=True)
def test_a_registry_that_keeps_hanging_up_is_offline_after_the_second_try(
        flaky: tuple[str, list[str]]) -> None:
    url, seen = flaky
    transport = HttpTransport(url)
    with pytest.raises(Offline):
        transport.pull("token", "")
    transport.close()
    assert len(seen) == 2


Seen = list[tuple[str, list[Op]]]
"""What an old registry received: each body's encoding, and the ops of those it took."""


class _RegistryBeforeZstd(BaseHTTPRequestHandler):
    """A push endpoint as registries answered before they took Zstandard: bodies as they are or
    gzipped (``takes``), and 415 ``unsupported_encoding`` for any other, having done nothing."""

    protocol_version = "HTTP/1.1"
    takes = ("identity", "gzip")
    seen: Seen = []

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        encoding = self.headers.get("Content-Encoding", "identity")
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if encoding not in self.takes:
            self.seen.append((encoding, []))
            problem = json.dumps({"code": "unsupported_encoding",
                                  "detail": f"not {encoding!r}"}).encode()
            return self._send(415, "application/problem+json", problem)
        if encoding == "gzip":
            body = gzip.decompress(body)
        ops = msgspec.msgpack.decode(body, type=PushRequest).ops
        self.seen.append((encoding, ops))
        answer = PushResponse([OpResult(op.seq, "accepted") for op in ops], server_time_ms=1)
        return self._send(200, "application/msgpack", msgspec.msgpack.encode(answer))

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def old_registry(request: pytest.FixtureRequest) -> Iterator[tuple[str, Seen]]:
    """A registry on loopback from before Zstandard (taking the param's encodings, if any)."""
    seen: Seen = []
    handler = type("Handler", (_RegistryBeforeZstd,), {
        "seen": seen, "takes": getattr(request, "param", _RegistryBeforeZstd.takes)})
    with _serving(HTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url, seen


def _ops(first: int, count: int) -> list[Op]:
    return [Op("tablet-a", seq, "0f0e0d0c-0b0a-4908-8706-050403020100", "findings",
               f"finding {seq} " * 20, seq) for seq in range(first, first + count)]


def test_a_registry_without_zstandard_is_sent_gzip_from_its_first_refusal_on(
        old_registry: tuple[str, Seen]) -> None:
    url, seen = old_registry
    transport = HttpTransport(url)
    first, second = _ops(1, 50), _ops(51, 50)
    assert [r.seq for r in transport.push("token", PushRequest(first)).results] == \
        list(range(1, 51))
    assert [r.seq for r in transport.push("token", PushRequest(second)).results] == \
        list(range(51, 101))
    transport.close()
    assert seen == [("zstd", []), ("gzip", first), ("gzip", second)]
    assert transport.traffic.requests == 3


@pytest.mark.parametrize("old_registry", [("identity",)], indirect=True)
def test_a_refused_gzipped_body_is_not_sent_again(
        old_registry: tuple[str, Seen]) -> None:
    """Only a refused Zstandard body is sent again, gzipped; a refusal of that is the caller's."""
    url, seen = old_registry
    transport = HttpTransport(url)
    with pytest.raises(RegistryRefused) as refused:
        transport.push("token", PushRequest(_ops(1, 50)))
    transport.close()
    assert (refused.value.status, refused.value.code) == (415, "unsupported_encoding")
    assert seen == [("zstd", []), ("gzip", [])]
