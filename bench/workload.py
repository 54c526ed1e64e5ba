"""What the benchmarks share: the workload file, a registry process, enrolled tablets, and the
mapping of a workload document onto the metrology supervision template.

The workload (``bench/gen_protocols.py N``) is JSON lines, one protocol each, so
that a peer system can be fed the identical documents.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
from device import PASSPHRASE, peak_rss_mb, vm_hwm_mb
from psycopg import sql
from sqlalchemy.engine import make_url

from client_lib import Tablet
from field_sync import content_hash, pack
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, Protocol, ProtocolSummary, WholeProtocol

__all__ = ["PASSPHRASE", "Registry", "TEMPLATE", "add_options", "enrolled", "fill", "generate",
           "peak_rss_mb", "print_table", "process_cpu_s", "read_workload", "registry",
           "registry_copies", "registry_database", "server_cpu_s", "server_peak_rss_mb",
           "whole_protocol"]

TEMPLATE = "metrology_supervision@1"
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
    protocol = tablet.create_protocol(TEMPLATE, assignment, _fields(document))
    with tablet.edit(protocol) as edit:
        for instrument in document["instruments"]:
            row = edit.add_row("instruments", _instrument(instrument))
            for measurement in instrument["measurements"]:
                edit.add_row("measurements", _measurement(measurement, row))
    return protocol


def whole_protocol(document: dict[str, Any], first_seq: int, device: str = "bench-tablet",
                   assignment: str = "bench-assignment") -> WholeProtocol:
    """One workload document as a tablet that filled it (``fill``) pushes it whole: the ops,
    each value the MessagePack the tablet saved."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for instrument in document["instruments"]:
        row = str(uuid.uuid4())
        rows.append((f"instruments/{row}", _instrument(instrument)))
        rows += [(f"measurements/{uuid.uuid4()}", _measurement(measurement, row))
                 for measurement in instrument["measurements"]]
    authored = [("", {**_fields(document), "_template": TEMPLATE, "_assignment": assignment}),
                *rows]
    now = time.time_ns() // 1_000_000
    return WholeProtocol(str(uuid.uuid4()), [
        (first_seq + place, path, msgspec.Raw(msgspec.msgpack.encode(value)), pack(now, place))
        for place, (path, value) in enumerate(authored)])


def _fields(document: dict[str, Any]) -> dict[str, Any]:
    site = document["site"]
    return {"number": document["number"][:32], "started_at": document["started_at"],
            "entity_tin": document["entity_tin"], "entity_name": document["entity_name"],
            "site_address": f"{site['lat']}, {site['lon']}",
            "lead_inspector": document["inspector_id"],
            "findings": document["findings"] or None, "conclusion": document["conclusion"]}


def _instrument(instrument: dict[str, Any]) -> dict[str, Any]:
    return {"type": instrument["type"], "serial": instrument["serial"],
            "verified_until": instrument["verified_until"]}


def _measurement(measurement: dict[str, Any], instrument: str) -> dict[str, Any]:
    return {"instrument": instrument, "nominal": str(measurement["nominal"]),
            "indication": str(measurement["observed"]), "mpe": str(measurement["mpe"]),
            "unit": measurement["unit"]}


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


class _Exported(msgspec.Struct):
    summary: ProtocolSummary
    protocol: Protocol


def registry_copies(reg: Registry) -> dict[str, tuple[ProtocolSummary, str]]:
    """Every protocol in the registry, with its content hash, read in one streamed export
    (one request, rather than one per protocol)."""
    decoder = msgspec.json.Decoder(_Exported)
    copies: dict[str, tuple[ProtocolSummary, str]] = {}
    with httpx.Client(base_url=reg.server.url, timeout=600.0,
                      headers={"Authorization": f"Bearer {reg.server.admin_token}"}) as http, \
            http.stream("GET", "/v1/registry/export", params={"format": "jsonl"}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.strip():
                item = decoder.decode(line)
                copies[item.protocol.id] = (item.summary, content_hash(item.protocol))
    return copies


@contextmanager
def registry_database(db: str, given: str) -> Iterator[str]:
    """The registry database URL for one run: ``given`` or empty (the embedded SQLite) on
    SQLite; on PostgreSQL a new database on the server at ``given`` or
    ``$FIELD_SYNC_BENCH_POSTGRES``, dropped after the run, so that the registry holds only
    what the run wrote."""
    if db == "sqlite":
        yield given
        return
    url = given or os.environ.get("FIELD_SYNC_BENCH_POSTGRES", "")
    if not url:
        raise SystemExit("--db postgresql needs --db-url or $FIELD_SYNC_BENCH_POSTGRES "
                         "(./dev postgres prints one)")
    server = make_url(url)
    name = f"bench_{secrets.token_hex(6)}"
    # psycopg takes a libpq URL: no SQLAlchemy driver suffix.
    libpq = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


def add_options(parser: argparse.ArgumentParser, protocols: bool = True) -> None:
    """The options every workload benchmark takes: the workload (``--protocols``, how many to
    generate, unless the benchmark sizes it otherwise) and the registry database."""
    parser.add_argument("--workload", type=Path, help="JSON lines (default: generated)")
    if protocols:
        parser.add_argument("--protocols", type=int, default=10_000,
                            help="protocols to generate when no --workload (default 10,000)")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--db-url", default="", help="registry database URL")


def print_table(rows: Sequence[tuple[str, ...]], width: int = 14) -> None:
    """Rows as a readable table: names on the left, values right-aligned."""
    name_width = max(len(row[0]) for row in rows)
    print()
    for name, *values in rows:
        print(f"{name:<{name_width}}" + "".join(f"  {value:>{width}}" for value in values))


def _server_pids(server: LocalServer) -> list[int]:
    """The server process and its workers."""
    assert server.process is not None
    pids = [server.process.pid]
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    if children.exists():
        pids += [int(pid) for pid in children.read_text().split()]
    return pids


def server_peak_rss_mb(server: LocalServer) -> float:
    """The server process's peak resident memory (VmHWM; the largest of its workers)."""
    return max((vm_hwm_mb(pid) or 0.0 for pid in _server_pids(server)), default=0.0)


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_s(server: LocalServer) -> float:
    """CPU seconds of the server process and its workers so far."""
    return sum(process_cpu_s(pid) for pid in _server_pids(server))

