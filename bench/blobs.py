"""Evidence files over loopback: upload throughput against raw HTTP, the registry's memory as
files grow, a resume after a cut, and a fleet uploading at once.

    ./dev bench blobs [--photos 1000] [--photo-mb 2] [--fleet 50] [--fleet-photos 20]
                      [--db sqlite|postgresql] [--db-url URL] [--workers N]

1. **One tablet, ``--photos`` photos of ``--photo-mb`` MB** (distinct JPEGs: one photo of noise
   with a numbered comment segment each; ten to a protocol, one per inspected instrument). The
   photos are attached and their ops pushed first (not timed); then the tablet's uploader sends
   them all (timed), one after another on one connection, as a sync does. The same files are
   sent to a raw sink over loopback HTTP (uvicorn with the same HTTP parser and event loop, an
   ASGI app that reads each body and drops it), before and after, with the same client and
   chunks: the registry's MB/s against that ceiling.
2. **Memory against file size**: the registry's resident memory, sampled every 5 ms, while it
   takes the photos, a 20 MB PDF (the largest file a built-in template takes), and while it
   refuses a gigabyte streamed at a 20 MB attachment: the growth over the start of each phase.
3. **A resume after a cut at 50 %**: the 20 MB file's upload dropped by the tablet half way,
   then resumed: the bytes sent over the file's size (1.0 when nothing is sent twice) and the
   time the resumed half took.
4. **A fleet**: ``--fleet`` tablets each upload ``--fleet-photos`` photos at once (threads of
   this process, one connection each): MB/s, per-file latency p50/p99, the registry's CPU.

Prints one JSON line, then a table. Figures only: it never fails on a time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import msgspec
from PIL import Image
from workload import PASSPHRASE, Registry, print_table, registry, registry_database

from client_lib import HttpBlobTransport, Tablet
from client_lib.errors import Offline
from client_lib.uploads import BlobUploader
from field_sync_cli.local_server import MemoryWatch, free_port
from schemas import Assignment
from schemas.attachments import Attachment

TEMPLATE = "metrology_supervision@2"
PER_PROTOCOL = 10
MB = 1024 * 1024


# -- files ------------------------------------------------------------------------------------

def base_photo(megabytes: float) -> bytes:
    """A JPEG of noise of about ``megabytes``."""
    pixels = int(megabytes * MB / 0.9)  # noise at quality 90: some 0.9 bytes a pixel
    width = int((pixels * 4 / 3) ** 0.5)
    height = pixels // width
    image = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def numbered(base: bytes, number: int) -> bytes:
    """``base`` with a JPEG comment segment carrying ``number``: another file, the same
    picture."""
    comment = f"field-sync bench photo {number}".encode()
    return base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]


def big_pdf(megabytes: int) -> bytes:
    return b"%PDF-1.4\n" + os.urandom(megabytes * MB - 64) + b"\n%%EOF\n"


class Unreachable:
    """A blob transport with no network: ops go, files stay (until the timed upload)."""

    def __getattr__(self, name: str) -> Any:
        def offline(*_args: Any, **_kwargs: Any) -> Any:
            raise Offline("files wait for the timed upload")

        return offline


# -- the registry's process -------------------------------------------------------------------

def cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (the workers of ``serve --workers``)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid] + ([int(child) for child in children.read_text().split()]
                    if children.exists() else [])
    total = 0.0
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# -- the raw sink -----------------------------------------------------------------------------

async def sink(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that reads a request's body and drops it: raw HTTP over loopback."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def raw_mb_s(files: list[Path]) -> float:
    """MB/s sending ``files`` to the raw sink, one after another on one connection, in the
    chunks the tablet's uploader sends."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "blobs:sink", "--app-dir",
                                str(Path(__file__).parent), "--port", str(port), "--log-level",
                                "warning"])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(100):
                try:
                    http.get("/")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            started, sent = time.perf_counter(), 0
            for path in files:
                size = path.stat().st_size
                http.put(f"/{path.name}", content=_chunks(path),
                         headers={"Content-Length": str(size)})
                sent += size
            return sent / MB / (time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait()


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        yield from iter(lambda: file.read(256 * 1024), b"")


# -- tablets ----------------------------------------------------------------------------------

def tablets(reg: Registry, count: int) -> tuple[str, list[Tablet]]:
    """``count`` enrolled tablets on one assignment (no site: no geofence to meet)."""
    suffix = secrets.token_hex(3)
    inspectors = [f"photo-{suffix}-{index}" for index in range(count)]
    made = []
    for inspector in inspectors:
        reg.admin.create_inspector(inspector, f"Inspector {inspector}")
        tablet = Tablet(reg.folder / "tablets" / f"{inspector}.sqlite", PASSPHRASE,
                        blob_transport=Unreachable())
        tablet.enroll(reg.admin.enrollment(inspector).code, reg.server.url)
        made.append(tablet)
    assignment = f"photos-{suffix}"
    reg.admin.put_assignment(Assignment(assignment, "bench", tuple(inspectors)))
    for tablet in made:
        tablet.sync()
    return assignment, made


def attach_photos(tablet: Tablet, assignment: str, photos: Iterable[bytes]) -> None:
    """Protocols of ``PER_PROTOCOL`` instruments, each with its label photo; ops pushed."""
    pending = list(photos)
    for start in range(0, len(pending), PER_PROTOCOL):
        protocol = tablet.create_protocol(TEMPLATE, assignment, {"number": secrets.token_hex(6)})
        with tablet.edit(protocol) as edit:
            for data in pending[start:start + PER_PROTOCOL]:
                row = edit.add_row("instruments", {"type": "scale", "serial": "SN"})
                edit.attach(data, f"instruments/{row}/label_photo")
    tablet.push()


def upload(tablet: Tablet, url: str) -> tuple[float, int, list[float]]:
    """Seconds, bytes, and each file's seconds, for the tablet's uploader to send its files."""
    transport = TimedBlobs(url)
    try:
        started = time.perf_counter()
        report = BlobUploader(tablet.blobs, transport, tablet.store.get("token")).run()
        elapsed = time.perf_counter() - started
    finally:
        transport.close()
    assert not report.refused and report.waiting == 0, report
    return elapsed, report.sent_bytes, transport.latencies


class TimedBlobs(HttpBlobTransport):
    """HTTP, timing each upload."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.latencies: list[float] = []

    def upload(self, token: str, protocol_id: str, sha256: str, offset: int, size: int,
               chunks: Iterable[bytes]) -> int:
        started = time.perf_counter()
        reached = super().upload(token, protocol_id, sha256, offset, size, chunks)
        self.latencies.append(time.perf_counter() - started)
        return reached


# -- the phases -------------------------------------------------------------------------------

def one_tablet(reg: Registry, count: int,
               megabytes: float) -> tuple[dict[str, Any], str, Tablet]:
    assignment, (tablet,) = tablets(reg, 1)
    base = base_photo(megabytes)
    attach_photos(tablet, assignment, (numbered(base, index) for index in range(count)))
    files = [tablet.blobs.file(blob.sha256) for blob in tablet.blobs.unconfirmed()]
    raw_before = raw_mb_s(files)
    assert reg.server.process is not None
    pid = reg.server.process.pid
    cpu = cpu_s(pid)
    with MemoryWatch(pid) as watch:
        elapsed, sent, latencies = upload(tablet, reg.server.url)
    raw_after = raw_mb_s(files)
    raw = (raw_before + raw_after) / 2
    registry_mb_s = sent / MB / elapsed
    return {"photos": count, "photo_mb": round(len(base) / MB, 2),
            "registry_mb_s": round(registry_mb_s, 1), "raw_mb_s": round(raw, 1),
            "of_raw": round(registry_mb_s / raw, 3),
            "photos_s": round(count / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "server_cpu_ms_per_photo": round((cpu_s(pid) - cpu) * 1000 / count, 2),
            "rss_growth_mb_photos": round(watch.growth / MB, 1),
            "server_rss_mb": round(watch.peak / MB, 1)}, assignment, tablet


def big_file_and_cut(reg: Registry, assignment: str, tablet: Tablet) -> dict[str, Any]:
    """A 20 MB PDF: cut at half, resumed; the registry's memory while it takes it; then a
    gigabyte refused."""
    assert reg.server.process is not None
    pid = reg.server.process.pid
    protocol = tablet.create_protocol(TEMPLATE, assignment, {"number": secrets.token_hex(6)})
    with tablet.edit(protocol) as edit:
        scan = edit.attach(big_pdf(20), "order_scan").attachment
    tablet.push()
    cut = CutAtHalf(reg.server.url)
    token = tablet.store.get("token")
    with MemoryWatch(pid) as watch:
        with contextlib.suppress(Offline):
            BlobUploader(tablet.blobs, cut, token).run()
        started = time.perf_counter()
        report = BlobUploader(tablet.blobs, cut, token).run()
        resumed_s = time.perf_counter() - started
    cut.close()
    assert report.uploaded == 1 and report.resumed == 1, report
    return {"big_mb": round(scan.size / MB, 1), "rss_growth_mb_big": round(watch.growth / MB, 1),
            "resumed_from": round(cut.resumed_from / scan.size, 3),
            "sent_over_size": round(cut.sent / scan.size, 3),
            "resumed_half_s": round(resumed_s, 3), **gigabyte(reg, tablet, assignment, pid)}


class CutAtHalf(HttpBlobTransport):
    """Drops its first upload at half the file; counts what it sends, and where it resumed."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.sent, self.resumed_from, self.cut = 0, 0, False

    def upload(self, token: str, protocol_id: str, sha256: str, offset: int, size: int,
               chunks: Iterable[bytes]) -> int:
        if self.cut:
            self.resumed_from = offset

        def counted() -> Iterator[bytes]:
            for chunk in chunks:
                self.sent += len(chunk)
                yield chunk
                if not self.cut and self.sent >= size // 2:
                    self.cut = True
                    time.sleep(0.2)
                    raise Offline("cut at half")

        return super().upload(token, protocol_id, sha256, offset, size, counted())


def gigabyte(reg: Registry, tablet: Tablet, assignment: str, pid: int) -> dict[str, Any]:
    protocol = tablet.create_protocol(TEMPLATE, assignment, {"number": secrets.token_hex(6)})
    sha256 = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
    with tablet.edit(protocol) as edit:
        edit.set("order_scan", msgspec.to_builtins(Attachment(
            sha256, 20 * MB, "application/pdf", "2026-11-20T10:05:00+05:00", "device")))
    tablet.push()
    megabyte = bytes(MB)
    started = time.perf_counter()
    # Refused with 413, or the connection closed while the body was still coming.
    with MemoryWatch(pid) as watch, contextlib.suppress(httpx.TransportError):
        httpx.put(f"{reg.server.url}/v1/protocols/{protocol}/blobs/{sha256}",
                  content=(megabyte for _ in range(1024)), timeout=120,
                  headers={"Authorization": f"Bearer {tablet.store.get('token')}"})
    return {"rss_growth_mb_gigabyte": round(watch.growth / MB, 1),
            "gigabyte_refused_s": round(time.perf_counter() - started, 2)}


def fleet(reg: Registry, devices: int, each: int, megabytes: float) -> dict[str, Any]:
    assignment, team = tablets(reg, devices)
    base = base_photo(megabytes)
    for place, tablet in enumerate(team):
        attach_photos(tablet, assignment,
                      (numbered(base, 10_000 * (place + 1) + index) for index in range(each)))
    assert reg.server.process is not None
    pid = reg.server.process.pid
    cpu = cpu_s(pid)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=devices) as pool, MemoryWatch(pid) as watch:
        results = list(pool.map(lambda tablet: upload(tablet, reg.server.url), team))
    elapsed = time.perf_counter() - started
    latencies = sorted(latency for _, _, times in results for latency in times)
    sent = sum(sent for _, sent, _ in results)
    for tablet in team:
        tablet.close()
    return {"fleet": devices, "fleet_photos": devices * each,
            "fleet_mb_s": round(sent / MB / elapsed, 1),
            "fleet_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "fleet_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
            "fleet_server_cpu_ms_per_photo": round((cpu_s(pid) - cpu) * 1000 / len(latencies), 2),
            "rss_growth_mb_fleet": round(watch.growth / MB, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--photo-mb", type=float, default=2.0)
    parser.add_argument("--fleet", type=int, default=50)
    parser.add_argument("--fleet-photos", type=int, default=20)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--db-url", default="")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with registry_database(args.db, args.db_url) as url, registry(url, args.workers) as reg:
        single, assignment, tablet = one_tablet(reg, args.photos, args.photo_mb)
        figures = {"db": args.db, "workers": args.workers, **single,
                   **big_file_and_cut(reg, assignment, tablet)}
        tablet.close()
        figures.update(fleet(reg, args.fleet, args.fleet_photos, args.photo_mb))
    print(json.dumps(figures))
    print_table([(name, str(value)) for name, value in figures.items()], width=12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
