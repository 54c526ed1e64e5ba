"""What the hardware allows for the same bytes: the least a push and a pull of the workload can
cost on this machine, to read field-sync's rates against.

    python bench/ceiling.py [--protocols N] [--batch N]

A push carries the protocols as a tablet sends them whole (``PushRequest.protocols``, MessagePack
in Zstandard, two requests on the wire) over loopback HTTP to an ASGI app on uvicorn (httptools,
uvloop: field-sync's own HTTP stack) that inflates and decodes each body, writes one SQLite row
a protocol (its ops' bytes) in one transaction a request (write-ahead log, ``synchronous=FULL``)
and answers each protocol in one result. A pull asks for pages of as many protocols, which the
app reads back and sends as they were stored, compressed; the client inflates, decodes and
writes one row a protocol, a transaction a page. Nothing is checked, merged, indexed, logged or
audited: the rest of what the registry does is what its rate leaves off this one.

Prints one JSON line: protocols/s for each leg.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import msgspec
import zstandard

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from schemas import ProtocolResult, PushRequest, PushResponse  # noqa: E402 (after the path)

__all__ = ["app", "run"]

_PAGE = msgspec.msgpack.Encoder()


class _Page(msgspec.Struct):
    protocols: list[tuple[str, msgspec.Raw]]
    cursor: str


def _store(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS protocol (id TEXT PRIMARY KEY, ops BLOB NOT NULL)")
    return db


def app(database: str) -> Any:
    """The minimal registry: an ASGI app storing one row a protocol."""
    db = _store(Path(database))
    decode = msgspec.msgpack.Decoder(PushRequest).decode
    inflate = zstandard.ZstdDecompressor()
    deflate = zstandard.ZstdCompressor(level=1)

    async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/push":
            batch = decode(inflate.decompressobj().decompress(body))
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO protocol VALUES (?, ?)",
                           [(item.doc, _PAGE.encode(item.ops)) for item in batch.protocols])
            db.execute("COMMIT")
            answer = _PAGE.encode(PushResponse([], 0, [ProtocolResult(item.doc, "accepted")
                                                        for item in batch.protocols]))
        else:
            cursor = scope["query_string"].decode().partition("=")[2]
            rows = db.execute("SELECT id, ops FROM protocol WHERE id > ? ORDER BY id LIMIT 500",
                              (cursor,)).fetchall()
            answer = deflate.compress(_PAGE.encode(_Page(
                [(doc, msgspec.Raw(ops)) for doc, ops in rows], rows[-1][0] if rows else "")))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/msgpack")]})
        await send({"type": "http.response.body", "body": answer})

    return serve


def _bodies(protocols: int, batch: int) -> Iterator[bytes]:
    """The workload's push bodies, as a tablet sends its protocols whole."""
    from workload import generate, read_workload, whole_protocol

    with tempfile.TemporaryDirectory() as scratch:
        documents = read_workload(generate(protocols, Path(scratch)))
    items = [whole_protocol(document, number * 100) for number, document in
             enumerate(documents)]
    compress = zstandard.ZstdCompressor(level=1).compress
    for start in range(0, len(items), batch):
        yield compress(_PAGE.encode(PushRequest([], items[start:start + batch])))


def run(protocols: int, batch: int) -> dict[str, Any]:
    """Push and pull ``protocols`` through the minimal registry; their rates."""
    from workload import process_cpu_s

    from field_sync_cli.local_server import free_port

    bodies = list(_bodies(protocols, batch))
    with tempfile.TemporaryDirectory(prefix="field-sync-ceiling-") as scratch:
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 (this interpreter and fixed arguments)
            [sys.executable, "-c", "import sys, uvicorn; sys.path.insert(0, sys.argv[1]); "
             "from ceiling import app; uvicorn.run(app(sys.argv[2]), port=int(sys.argv[3]), "
             "log_level='warning', http='httptools', loop='uvloop')",
             str(HERE), str(Path(scratch) / "registry.db"), str(port)])
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=120) as http:
                _wait(http)
                before = (time.process_time(), process_cpu_s(server.pid))
                push_s = _push(http, bodies)
                middle = (time.process_time(), process_cpu_s(server.pid))
                pull_s, pulled = _pull(http, Path(scratch) / "tablet.db")
                after = (time.process_time(), process_cpu_s(server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert pulled == protocols, f"pulled {pulled} of {protocols}"
    return {"bench": "ceiling", "protocols": protocols, "batch": batch,
            "push_protocols_per_s": protocols / push_s, "pull_protocols_per_s": protocols / pull_s,
            "push_cpu_s": {"tablet": middle[0] - before[0], "server": middle[1] - before[1]},
            "pull_cpu_s": {"tablet": after[0] - middle[0], "server": after[1] - middle[1]}}


def _wait(http: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            http.get("/pull", params={"cursor": "~"})
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _push(http: httpx.Client, bodies: list[bytes]) -> float:
    decode = msgspec.msgpack.Decoder(PushResponse).decode
    headers = {"content-type": "application/msgpack", "content-encoding": "zstd"}
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as wire:  # two requests on the wire, as a tablet
        for answer in wire.map(lambda body: http.post("/push", content=body, headers=headers),
                               bodies):
            decode(answer.content)
    return time.perf_counter() - started


def _pull(http: httpx.Client, path: Path) -> tuple[float, int]:
    db = _store(path)
    decode = msgspec.msgpack.Decoder(_Page).decode
    inflate = zstandard.ZstdDecompressor()
    cursor, pulled = "", 0
    started = time.perf_counter()
    while True:
        page = decode(inflate.decompressobj().decompress(
            http.get("/pull", params={"cursor": cursor}).content))
        if not page.protocols:
            break
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO protocol VALUES (?, ?)",
                       [(doc, bytes(ops)) for doc, ops in page.protocols])
        db.execute("COMMIT")
        pulled += len(page.protocols)
        cursor = page.cursor
    return time.perf_counter() - started, pulled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocols", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="protocols per request")
    args = parser.parse_args()
    print(json.dumps(run(args.protocols, args.batch)))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

