"""A registry killed between commit and answer, and a push cut off half way through its body.

Pushing is idempotent and a batch the registry has acknowledged is durable (docs/protocol/push.md),
SQLite running in WAL mode with full sync. Here the registry commits a tablet's batch and is killed
with SIGKILL before a byte of its answer reaches the tablet (a relay in front of it holds the answer
back). The tablet must treat the push as not done, keep its ops, and on the next sync, against the
restarted registry, be told ``duplicate`` for each of them: nothing lost, nothing logged twice. A
push whose body never fully arrives must change nothing.
"""

from __future__ import annotations

import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, Op, PushRequest
from tests.databases import logged
from tests.live import PASSPHRASE, TEMPLATE, team

pytestmark = pytest.mark.e2e


def _shut(sock: socket.socket) -> None:
    """Shut a socket both ways, waking any thread blocked on it; it may be gone already."""
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class CrashingProxy:
    """A TCP relay between a tablet and the registry, on a loopback port of its own.

    Disarmed, it passes bytes both ways. Armed, it lets the next push through to the registry,
    waits for the first bytes of the registry's answer (written only after the batch has
    committed), kills the registry with SIGKILL and closes the tablet's connection without
    forwarding a byte of that answer.
    """

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.armed = threading.Event()
        self.killed = threading.Event()
        self.withheld = b""  # the start of the answer the tablet never got
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client = self._keep(self._listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = self._keep(socket.create_connection(
                    ("127.0.0.1", self.server.port), timeout=5))
            except OSError:  # the registry is down: the tablet's connection just closes
                _shut(client)
                continue
            upstream.settimeout(None)
            pushing = threading.Event()
            self._spawn(self._requests, client, upstream, pushing)
            self._spawn(self._answers, upstream, client, pushing)

    def _requests(self, client: socket.socket, upstream: socket.socket,
                  pushing: threading.Event) -> None:
        try:
            while data := client.recv(65536):
                # A request's first bytes are its request line (HTTP/1.1, no pipelining).
                if self.armed.is_set() and data.startswith(b"POST /v1/push "):
                    pushing.set()
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _shut(upstream)

    def _answers(self, upstream: socket.socket, client: socket.socket,
                 pushing: threading.Event) -> None:
        try:
            while data := upstream.recv(65536):
                if pushing.is_set():  # the registry is answering the push: it has committed
                    self.withheld = data
                    self.server.stop(signal.SIGKILL)
                    self.armed.clear()
                    self.killed.set()
                    return
                client.sendall(data)
        except OSError:
            pass
        finally:
            _shut(client)
            _shut(upstream)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            _shut(sock)
        for thread in threads:
            thread.join(timeout=10)
        for sock in sockets:
            sock.close()
        self._listener.close()


def logged_ops(url: str, actor: str) -> list[Op]:
    """The op log's ops of ``actor``, in seq order."""
    return [op for op, _ in logged(url) if op.actor == actor]


def test_a_push_committed_but_never_answered_is_a_duplicate_after_a_crash(
    tmp_path: Path, db_url: str
) -> None:
    data_dir = tmp_path / "registry"
    server = LocalServer(data_dir, secrets.token_urlsafe(16), db_url=db_url).start()
    proxy = CrashingProxy(server)
    admin = AdminClient(server.url, server.admin_token)
    tablet = Tablet(tmp_path / "tablet.sqlite", PASSPHRASE)
    try:
        admin.create_inspector("insp-crash", "Inspector Crash")
        admin.put_assignment(Assignment("assignment-crash", "fuel dispensers", ("insp-crash",)))
        tablet.enroll(admin.enrollment_code("insp-crash"), proxy.url)
        assert tablet.sync().ok
        device = tablet.device_id

        doc = tablet.create_protocol(TEMPLATE, "assignment-crash",
                                     {"number": "TR-CRASH", "entity_tin": "301245678"})
        with tablet.edit(doc) as edit:
            dispenser = edit.add_row("instruments", {"type": "fuel dispenser", "serial": "FD-7"})
            edit.add_row("measurements", {"instrument": dispenser, "nominal": "10.00",
                                          "indication": "10.04", "mpe": "0.05", "unit": "L"})
            edit.set("conclusion", "compliant")
        sent = [entry.op for entry in tablet.store.outbox("pending")]
        assert len(sent) == tablet.pending() == 4

        proxy.armed.set()
        report = tablet.sync()
        assert proxy.killed.is_set() and server.process is None
        assert proxy.withheld.startswith(b"HTTP/1.1 200")  # the registry did answer
        assert report.offline and not report.ok and report.accepted == 0, report
        assert tablet.pending() == len(sent)  # nothing settled without an answer
        # The killed registry had committed the batch: its database holds it (SQLite: WAL and
        # all).
        assert logged_ops(db_url, device) == sent

        server.start()  # same port, same data directory
        report = tablet.sync()
        assert report.ok, report
        assert (report.duplicates, report.accepted, report.rejected) == (len(sent), 0, 0)
        assert tablet.pending() == 0
        record = admin.protocol(doc)
        assert record.content_hash == tablet.content_hash(doc)
        assert record.vector == {device: sent[-1].seq}
        assert record.protocol.collections["measurements"]  # the registry's copy is whole
    finally:
        tablet.close()
        admin.close()
        proxy.close()
        server.stop()

    assert logged_ops(db_url, device) == sent  # each op once, as sent


def _raw_push(server: LocalServer, token: str, body: bytes, declared: int) -> socket.socket:
    """Open a connection and send a push that promises ``declared`` body bytes, and ``body``."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    head = (f"POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/msgpack\r\n"
            f"Accept: application/msgpack\r\nContent-Length: {declared}\r\n\r\n").encode()
    sock.sendall(head + body)
    return sock


@pytest.mark.parametrize("cut", ["headers-only", "half-the-body", "all-but-one-byte",
                                 "whole-body-one-byte-promised-more"])
def test_a_push_cut_off_mid_body_changes_nothing(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet], cut: str,
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    doc = tablet.create_protocol(TEMPLATE, assignment, {"number": "TR-CUT"})
    assert tablet.sync().ok
    before = admin.protocol(doc)
    with tablet.edit(doc) as edit:
        edit.set("findings", "a push cut off half way")
        edit.add_row("instruments", {"type": "scale", "serial": "SN-CUT"})
    ops = [entry.op for entry in tablet.store.outbox("pending")]
    body = msgspec.msgpack.encode(PushRequest(ops))
    sent = {"headers-only": b"", "half-the-body": body[: len(body) // 2],
            "all-but-one-byte": body[:-1], "whole-body-one-byte-promised-more": body}[cut]

    declared = len(body) + 1 if cut == "whole-body-one-byte-promised-more" else len(body)
    with _raw_push(server, str(tablet.store.get("token")), sent, declared):
        # While that upload stalls, the registry serves everyone else.
        assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200
        assert admin.protocol(doc) == before
    time.sleep(0.3)  # the registry sees the connection closed

    assert server.process is not None and server.process.poll() is None
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200
    assert admin.protocol(doc) == before
    # Nothing of the cut-off batch was logged: the same ops are new to the registry.
    report = tablet.sync()
    assert report.ok, report
    assert (report.accepted, report.duplicates, report.rejected) == (len(ops), 0, 0)
    assert admin.protocol(doc).content_hash == tablet.content_hash(doc)
