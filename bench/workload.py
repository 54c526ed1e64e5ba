"""What the benchmarks share: the workload file, a registry process, enrolled tablets, and the
mapping of a workload document onto the metrology supervision template.

The workload (``../shared/workloads/gen_protocols.py N``) is JSON lines, one protocol each, so
that a peer system can be fed the identical documents.
"""

from __future__ import annotations

import resource
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment

__all__ = ["Registry", "TEMPLATE", "enrolled", "fill", "generate", "peak_rss_mb",
           "read_workload", "registry", "server_peak_rss_mb"]

TEMPLATE = "metrology_supervision@1"
PASSPHRASE = b"bench passphrase"
GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "workloads" / "gen_protocols.py"


def generate(count: int, folder: Path, seed: int = 41) -> Path:
    """A workload of ``count`` protocols written by the shared generator (or, where the shared
    folder is absent, by its copy in ``bench/``)."""
    generator = GENERATOR if GENERATOR.exists() else Path(__file__).with_name("gen_protocols.py")
    path = folder / f"workload-{count}-{seed}.jsonl"
    with path.open("wb") as out:
        subprocess.run([sys.executable, str(generator), str(count), str(seed)],  # noqa: S603
                       stdout=out, check=True)
    return path


def read_workload(path: Path) -> list[dict[str, Any]]:
    """The workload's documents, in file order."""
    decoder = msgspec.json.Decoder(dict[str, Any])
    with path.open("rb") as lines:
        return [decoder.decode(line) for line in lines if line.strip()]


def fill(tablet: Tablet, assignment: str, document: dict[str, Any]) -> str:
    """Enter one workload document on a tablet as an inspector would: the protocol's fields,
    then each instrument and its measurements as rows. Returns the protocol id."""
    site = document["site"]
    protocol = tablet.create_protocol(TEMPLATE, assignment, {
        "number": document["number"][:32],
        "started_at": document["started_at"],
        "entity_tin": document["entity_tin"],
        "entity_name": document["entity_name"],
        "site_address": f"{site['lat']}, {site['lon']}",
        "lead_inspector": document["inspector_id"],
        "findings": document["findings"] or None,
        "conclusion": document["conclusion"],
    })
    with tablet.edit(protocol) as edit:
        for instrument in document["instruments"]:
            row = edit.add_row("instruments", {
                "type": instrument["type"], "serial": instrument["serial"],
                "verified_until": instrument["verified_until"]})
            for measurement in instrument["measurements"]:
                edit.add_row("measurements", {
                    "instrument": row, "nominal": str(measurement["nominal"]),
                    "indication": str(measurement["observed"]), "mpe": str(measurement["mpe"]),
                    "unit": measurement["unit"]})
    return protocol


@dataclass
class Registry:
    """A registry server process and its administrator."""

    server: LocalServer
    admin: AdminClient
    folder: Path

    def team(self, size: int, name: str = "bench") -> tuple[str, list[Tablet]]:
        """``size`` enrolled tablets whose inspectors share one new assignment, synced once."""
        suffix = secrets.token_hex(3)
        inspectors = [f"{name}-{suffix}-{index}" for index in range(size)]
        tablets = [enrolled(self, inspector) for inspector in inspectors]
        assignment = f"assignment-{name}-{suffix}"
        self.admin.put_assignment(Assignment(assignment, "bench", tuple(inspectors)))
        for tablet in tablets:
            tablet.sync()
        return assignment, tablets


def enrolled(registry: Registry, inspector: str) -> Tablet:
    """A tablet enrolled for a new inspector."""
    registry.admin.create_inspector(inspector, f"Inspector {inspector}")
    tablet = Tablet(registry.folder / "tablets" / f"{inspector}.sqlite", PASSPHRASE)
    tablet.enroll(registry.admin.enrollment(inspector).code, registry.server.url)
    return tablet


@contextmanager
def registry(db_url: str = "", workers: int = 1) -> Iterator[Registry]:
    """A fresh registry server on loopback (embedded SQLite unless ``db_url``)."""
    with tempfile.TemporaryDirectory(prefix="field-sync-bench-") as scratch:
        folder = Path(scratch)
        (folder / "tablets").mkdir()
        server = LocalServer(folder / "registry", secrets.token_urlsafe(16), db_url=db_url,
                             workers=workers)
        with server:
            admin = AdminClient(server.url, server.admin_token)
            try:
                yield Registry(server, admin, folder)
            finally:
                admin.close()


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def server_peak_rss_mb(server: LocalServer) -> float:
    """The server process's peak resident memory (VmHWM; the largest of its workers)."""
    assert server.process is not None
    pids = [server.process.pid]
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    if children.exists():
        pids += [int(pid) for pid in children.read_text().split()]
    peak = 0.0
    for pid in pids:
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    return peak

