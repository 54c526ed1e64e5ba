"""The HTTP transport against a real server on loopback that drops a connection unanswered,
as a registry does with a kept-alive connection it closed while the tablet was busy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pytest

from client_lib import HttpTransport
from client_lib.errors import Offline
from schemas import EnrollRequest, PullResponse


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


@pytest.fixture
def flaky(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    """A registry on loopback that hangs up on the first requests (one, or the param)."""
    seen: list[str] = []
    handler = type("Handler", (_FlakyRegistry,), {"seen": seen,
                                                  "drops": getattr(request, "param", 1)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def test_a_pull_cut_off_before_its_answer_is_asked_again_once(
        flaky: tuple[str, list[str]]) -> None:
    url, seen = flaky
    transport = HttpTransport(url)
    page = transport.pull("token", "")
    transport.close()
    assert page.cursor == "1.0.0.1.." and not page.more
    assert seen == ["GET /v1/pull?cursor=&states=true&packed=true"] * 2
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
