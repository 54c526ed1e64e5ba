"""A fleet of devices syncing at once against one registry: the server's CPU per protocol as the
fleet grows, p50/p99 of every push and pull request, and a check that nothing was lost or
duplicated.

    ./dev bench fleet [--devices 200 | --sweep 10,100,1000] [--protocols-per-device 20]
                      [--team-size 20] [--rounds 3] [--threads 100] [--processes N]
                      [--client-cpus LIST] [--server-cpus LIST] [--baseline 2000]
                      [--db sqlite|postgresql] [--db-url URL] [--workers N]
                      [--save FILE.jsonl] [--chart FILE.svg] [--workload FILE]

The devices are enrolled tablets in teams (``--team-size`` inspectors share an assignment, so a
pull brings the teammates' protocols). Each device's share of the workload is split over
``--rounds``: before each round every device enters its part offline (not timed), then all the
devices sync at once, each a push and then a pull (and the trust list and audit checkpoint a
tablet fetches after a pull), so most pulls bring teammates' pushes of that round or the one
before; a last, pull-only round brings the rest. Only the sync rounds are timed.

The tablets run in processes of their own (``--processes``, by default one per two CPUs, at
least two), never beside the server: each holds its share of the devices and syncs
``--threads`` / processes of them at a time, one HTTP connection each. ``--client-cpus`` and
``--server-cpus`` (``0-3,8``) pin the tablet processes and the registry's processes apart, on a
machine with CPUs enough. A request's latency is timed around the transport call (the round
trip and decoding the answer). A request that fails (a connection the server dropped) is not
in the latencies: the device runs that push or pull again, and the failures are listed.

The server's CPU is the user and system time of the registry's processes (every worker) over
the sync rounds, divided by the protocols pushed; on PostgreSQL the database's own CPU is
given beside it where the database runs on this machine. ``--baseline N`` first measures one
tablet pushing N protocols alone (batches of 500), the single push the fleet's cost is held
to. ``--sweep 10,100,1000`` runs one fleet per size, each on a fresh registry.

Then it checks: the registry holds exactly the protocols entered (none missing, none extra, no
workload number twice); every op of every device was answered ``accepted`` exactly once
(``duplicate`` only for an op sent again after a failed request); every tablet has nothing
pending or refused and holds every protocol of its team with the registry's content hash.

Prints one JSON line a fleet, then a table; ``--save`` appends the JSON lines to a file and
``--chart`` draws every fleet saved there (server CPU per protocol against fleet size, one line
a database) as an SVG. Exits 1 if a check fails (never on a time). With ``--db postgresql`` the
URL comes from ``--db-url`` or ``$FIELD_SYNC_BENCH_POSTGRES`` (``./dev bench`` starts a private
PostgreSQL with durability on: fsync and synchronous commit, as production runs); the run makes
a database of its own there and drops it at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from device import PASSPHRASE, peak_rss_mb
from sqlalchemy.engine import make_url
from tqdm import tqdm
from workload import (
    Registry,
    _server_pids,
    add_options,
    fill,
    generate,
    print_table,
    process_cpu_s,
    read_workload,
    registry,
    registry_copies,
    registry_database,
    server_cpu_s,
    server_peak_rss_mb,
)

from client_lib import HttpTransport, Offline, SyncReport, Tablet
from schemas import Assignment, PulledPage, PushRequest, PushResponse
from schemas.signing import AuditCheckpoint, TrustList

REQUEST_TIMEOUT_S = 600.0  # a queue of a thousand devices on two workers is slow, not down
MAX_TRIES = 3
KINDS = ("push", "pull", "trust_list", "checkpoint")
T = TypeVar("T")


# -- in a tablet process -----------------------------------------------------------------------

class TimedTransport(HttpTransport):
    """HTTP as a tablet speaks it, timing every request and keeping every answer, per op (a
    protocol answered whole answers each of its ops). One device uses it from one thread at a
    time."""

    def __init__(self, base_url: str, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        super().__init__(base_url, timeout_s)
        self.ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.sent: Counter[int] = Counter()
        self.answers: dict[str, Counter[int]] = {"accepted": Counter(), "duplicate": Counter(),
                                                 "rejected": Counter()}
        self.pulled_registers = 0
        self.failures: list[str] = []

    def _timed(self, kind: str, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            answer = call()
        except Offline as exc:
            self.failures.append(f"{kind}: {exc}")
            raise
        self.ms[kind].append((time.perf_counter() - started) * 1000)
        return answer

    def push(self, token: str, batch: PushRequest) -> PushResponse:
        whole = {item.doc: [seq for seq, _, _, _ in item.ops] for item in batch.protocols}
        self.sent.update(op.seq for op in batch.ops)
        self.sent.update(seq for seqs in whole.values() for seq in seqs)
        response = self._timed("push", lambda: super(TimedTransport, self).push(token, batch))
        for result in response.results:
            self.answers[result.status][result.seq] += 1
        for protocol in response.protocols:
            self.answers[protocol.status].update(whole[protocol.doc])
        return response

    def pull(self, token: str, cursor: str) -> PulledPage:
        page = self._timed("pull", lambda: super(TimedTransport, self).pull(token, cursor))
        self.pulled_registers += page.registers
        return page

    def trust_list(self) -> TrustList:
        return self._timed("trust_list", lambda: super(TimedTransport, self).trust_list())

    def audit_checkpoint(self) -> AuditCheckpoint:
        return self._timed("checkpoint",
                           lambda: super(TimedTransport, self).audit_checkpoint())


@dataclass
class Device:
    """One simulated tablet, its team and the protocols it entered."""

    tablet: Tablet
    transport: TimedTransport
    team: int
    assignment: str
    documents: list[dict[str, Any]]
    created: list[str] = field(default_factory=list)
    retries: int = 0


@dataclass(frozen=True)
class DeviceSpec:
    """What a tablet process needs to enroll one device."""

    inspector: str
    code: str
    team: int
    assignment: str
    documents: list[dict[str, Any]]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _leg(device: Device, run: Callable[[], SyncReport]) -> None:
    """One push or pull, run again if a request failed (the ops of a push sent again may come
    back ``duplicate``, which the check allows only for ops sent more than once)."""
    for _ in range(MAX_TRIES):
        report = run()
        if report.ok:
            return
        device.retries += 1
    raise RuntimeError(f"device {device.tablet.device_id}: {report}")


def _sync(device: Device) -> None:
    _leg(device, device.tablet.push)
    _leg(device, device.tablet.pull)


def _pull(device: Device) -> None:
    _leg(device, device.tablet.pull)


class Tablets:
    """The devices of one tablet process, and what the coordinator asks of them."""

    def __init__(self, folder: Path, url: str, threads: int) -> None:
        self.folder, self.url = folder, url
        self.devices: list[Device] = []
        self.pool = ThreadPoolExecutor(max_workers=threads)

    def enroll(self, specs: list[DeviceSpec]) -> int:
        def one(spec: DeviceSpec) -> Device:
            transport = TimedTransport(self.url)
            tablet = Tablet(self.folder / f"{spec.inspector}.sqlite", PASSPHRASE,
                            transport=transport)
            tablet.enroll(spec.code, self.url)
            return Device(tablet, transport, spec.team, spec.assignment, spec.documents)

        self.devices += list(self.pool.map(one, specs))
        return len(self.devices)

    def fill(self, round_: int, rounds: int) -> int:
        """Enter this round's part of every device's protocols offline; the ops now pending."""
        for device in self.devices:
            for document in device.documents[round_::rounds]:
                device.created.append(fill(device.tablet, device.assignment, document))
        return sum(device.tablet.pending() for device in self.devices)

    def run(self, kind: str) -> dict[str, Any]:
        """Every device syncs (``sync``: push and pull) or pulls, ``threads`` at a time: the
        latencies of its requests, the failures and this process's CPU seconds."""
        for device in self.devices:
            for times in device.transport.ms.values():
                times.clear()
            device.transport.failures.clear()
            device.transport.pulled_registers = 0
        cpu = _cpu_s()
        for future in [self.pool.submit(_sync if kind == "sync" else _pull, device)
                       for device in self.devices]:
            future.result()
        return {"cpu_s": _cpu_s() - cpu,
                "ms": {name: [ms for device in self.devices for ms in device.transport.ms[name]]
                       for name in KINDS},
                "failures": [failure for device in self.devices
                             for failure in device.transport.failures],
                "registers": sum(device.transport.pulled_registers for device in self.devices)}

    def created(self) -> dict[int, list[str]]:
        teams: dict[int, list[str]] = {}
        for device in self.devices:
            teams.setdefault(device.team, []).extend(device.created)
        return teams

    def check(self, hashes: dict[str, str], teams: dict[int, set[str]]) -> dict[str, int]:
        """What each device lost, had duplicated or left behind, by kind."""
        problems: Counter[str] = Counter()
        for device in self.devices:
            tablet, answers, sent = device.tablet, device.transport.answers, device.transport.sent
            seqs = {entry.op.seq for entry in tablet.store.outbox()}
            problems["ops_not_accepted"] += len(seqs - answers["accepted"].keys())
            problems["ops_accepted_twice"] += sum(count > 1
                                                  for count in answers["accepted"].values())
            problems["duplicate_answers_unsent"] += sum(sent[seq] < 2
                                                        for seq in answers["duplicate"])
            problems["ops_rejected"] += len(answers["rejected"]) + len(tablet.rejections())
            problems["pending_on_tablets"] += tablet.pending()
            held = {protocol for protocol, _, _ in tablet.store.documents()}
            team = teams[device.team]
            problems["missing_on_tablets"] += len(team - held)
            problems["extra_on_tablets"] += len(held - team)
            problems["hash_mismatches"] += sum(
                protocol in hashes and tablet.content_hash(protocol) != hashes[protocol]
                for protocol in held & team)
            problems["retries"] += device.retries
        return dict(problems)

    def close(self) -> float:
        for device in self.devices:
            device.tablet.close()
        self.pool.shutdown()
        return peak_rss_mb()


def _tablet_process(connection: Connection, folder: str, url: str, threads: int,
                    cpus: list[int]) -> None:
    """A tablet process: answers the coordinator's commands until ``close``."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    tablets = Tablets(Path(folder), url, threads)
    while True:
        command, arguments = connection.recv()
        try:
            answer = getattr(tablets, command)(*arguments)
        except Exception:  # noqa: BLE001  (sent to the coordinator, which stops the run)
            connection.send(("failed", traceback.format_exc()))
            return
        connection.send(("done", answer))
        if command == "close":
            return


# -- the coordinator ---------------------------------------------------------------------------

class Processes:
    """The tablet processes, each asked the same thing at once."""

    def __init__(self, count: int, folder: Path, url: str, threads: int,
                 cpus: list[int]) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for index in range(count):
            ours, theirs = context.Pipe()
            (folder / f"process-{index}").mkdir(parents=True, exist_ok=True)
            process = context.Process(target=_tablet_process, daemon=True, args=(
                theirs, str(folder / f"process-{index}"), url, threads, cpus))
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def ask(self, command: str, arguments: list[tuple[Any, ...]] | None = None) -> list[Any]:
        """Send ``command`` to every process (with its own arguments), then wait for all."""
        for index, pipe in enumerate(self.pipes):
            pipe.send((command, arguments[index] if arguments else ()))
        answers = []
        for pipe in self.pipes:
            status, answer = pipe.recv()
            if status == "failed":
                raise SystemExit(f"a tablet process failed on {command}:\n{answer}")
            answers.append(answer)
        return answers

    def close(self) -> list[float]:
        peaks: list[float] = self.ask("close")
        for process in self.processes:
            process.join(timeout=60)
        return peaks


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _cpus(text: str) -> list[int]:
    """``0-3,8`` as CPU numbers."""
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        cpus += range(int(low), int(high or low) + 1)
    return cpus


@contextmanager
def _database_cpu(db_url: str) -> Iterator[Callable[[], float | None]]:
    """The CPU seconds a local PostgreSQL spent so far, its postmaster's and every backend's
    (those that ended are counted in the postmaster's children); None elsewhere."""
    if not db_url.startswith("postgresql"):
        yield lambda: None
        return
    libpq = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        directory = connection.execute("SHOW data_directory").fetchone()
    try:
        postmaster = int(Path(str(directory[0] if directory else ""), "postmaster.pid")
                         .read_text().split()[0])
    except (OSError, ValueError, IndexError):
        yield lambda: None
        return

    def spent() -> float | None:
        try:
            fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text()
        except OSError:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        own = sum(int(value) for value in fields[11:15]) / tick  # utime stime cutime cstime
        return own + sum(process_cpu_s(int(pid)) for pid in children.split())

    yield spent


def _single_push(args: argparse.Namespace, db_url: str,
                 documents: list[dict[str, Any]]) -> dict[str, float]:
    """One tablet pushing ``documents`` alone, in batches of 500: the server's CPU per
    protocol, the cost a fleet's is held to."""
    with registry(db_url, args.workers) as reg:
        assignment, (tablet,) = reg.team(1, "single")
        for document in documents:
            fill(tablet, assignment, document)
        with _database_cpu(db_url) as database_cpu:
            before, database_before = server_cpu_s(reg.server), database_cpu()
            report = tablet.push()
            server = server_cpu_s(reg.server) - before
            database_after = database_cpu()
        tablet.close()
    if not report.ok or report.accepted == 0:
        raise SystemExit(f"the single push failed: {report}")
    count = len(documents)
    return {"protocols": count, "server_us": server / count * 1e6,
            "database_us": (database_after - database_before) / count * 1e6
            if database_after is not None and database_before is not None else -1.0}


def _specs(reg: Registry, args: argparse.Namespace, devices: int,
           documents: list[dict[str, Any]]) -> list[DeviceSpec]:
    """Inspectors, their teams' assignments and an enrollment code each (set-up, not timed)."""
    per = args.protocols_per_device
    names = [f"fleet-{index // args.team_size:03d}-{index % args.team_size:03d}"
             for index in range(devices)]
    specs = []
    for index, name in enumerate(tqdm(names, desc="inspectors", unit="device", leave=False)):
        reg.admin.create_inspector(name, f"Inspector {name}")
        team = index // args.team_size
        specs.append(DeviceSpec(name, reg.admin.enrollment(name).code, team,
                                f"assignment-fleet-{team:03d}",
                                documents[index * per:(index + 1) * per]))
    for team in range(math.ceil(devices / args.team_size)):
        members = tuple(names[team * args.team_size:(team + 1) * args.team_size])
        reg.admin.put_assignment(Assignment(f"assignment-fleet-{team:03d}", "fleet", members))
    return specs


def _check(reg: Registry, processes: Processes) -> dict[str, int]:
    """What was lost, duplicated or left behind, by kind (all zero when sound)."""
    copies = registry_copies(reg)
    teams: dict[int, set[str]] = {}
    for answer in processes.ask("created"):
        for team, created in answer.items():
            teams.setdefault(team, set()).update(created)
    created = set().union(*teams.values()) if teams else set()
    numbers = Counter(summary.number for summary, _ in copies.values())
    problems: Counter[str] = Counter({
        "lost_protocols": len(created - copies.keys()),
        "unexpected_protocols": len(copies.keys() - created),
        "duplicated_numbers": sum(count - 1 for count in numbers.values())})
    hashes = {doc: digest for doc, (_, digest) in copies.items()}
    for answer in processes.ask("check", [(hashes, teams)] * len(processes.pipes)):
        problems.update(answer)
    return dict(problems)


def run(args: argparse.Namespace, db_url: str, devices: int,
        documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Enroll, fill and sync a fleet of ``devices``; its figures and the check."""
    teams = math.ceil(devices / args.team_size)
    count = args.processes or max(2, (os.cpu_count() or 2) // 2)
    count = min(count, devices)
    threads = max(1, math.ceil(min(args.threads, devices) / count))
    with registry(db_url, args.workers) as reg, _database_cpu(db_url) as database_cpu:
        if args.server_cpus:
            for pid in _server_pids(reg.server):
                os.sched_setaffinity(pid, _cpus(args.server_cpus))
        specs = _specs(reg, args, devices, documents)
        processes = Processes(count, reg.folder / "tablets", reg.server.url, threads,
                              _cpus(args.client_cpus))
        try:
            processes.ask("enroll", [(specs[index::count],) for index in range(count)])
            processes.ask("run", [("pull",)] * count)  # the assignments: set-up
            rounds: list[dict[str, Any]] = []
            ops = 0
            for round_ in range(args.rounds + 1):
                last = round_ == args.rounds
                if not last:
                    ops += sum(processes.ask("fill", [(round_, args.rounds)] * count))
                label = "last round: pull" if last else f"round {round_ + 1}: push + pull"
                server, database = server_cpu_s(reg.server), database_cpu()
                started = time.perf_counter()
                answers = processes.ask("run", [("pull" if last else "sync",)] * count)
                wall = time.perf_counter() - started
                database_after = database_cpu()
                rounds.append({
                    "wall_s": wall, "server_cpu_s": server_cpu_s(reg.server) - server,
                    "database_cpu_s": database_after - database
                    if database is not None and database_after is not None else None,
                    "client_cpu_s": sum(answer["cpu_s"] for answer in answers),
                    "ms": {kind: [ms for answer in answers for ms in answer["ms"][kind]]
                           for kind in KINDS},
                    "failures": [failure for answer in answers for failure in answer["failures"]],
                    "registers": sum(answer["registers"] for answer in answers)})
                print(f"{devices} devices, {label}: {wall:.1f} s", file=sys.stderr)
            problems = _check(reg, processes)
            server_rss = server_peak_rss_mb(reg.server)
        finally:
            client_rss = processes.close()

    protocols = devices * args.protocols_per_device
    ms = {kind: [value for round_ in rounds for value in round_["ms"][kind]] for kind in KINDS}
    wall = sum(round_["wall_s"] for round_ in rounds)
    server = sum(round_["server_cpu_s"] for round_ in rounds)
    database = None if any(round_["database_cpu_s"] is None for round_ in rounds) else \
        sum(round_["database_cpu_s"] for round_ in rounds)
    lost = problems.get("lost_protocols", 0) + problems.get("ops_not_accepted", 0)
    duplicated = (problems.get("duplicated_numbers", 0) + problems.get("ops_accepted_twice", 0)
                  + problems.get("duplicate_answers_unsent", 0))
    figures: dict[str, Any] = {}
    for kind in KINDS:
        figures[f"{kind}_requests"] = len(ms[kind])
        figures[f"{kind}_p50_ms"] = statistics.median(ms[kind]) if ms[kind] else 0.0
        figures[f"{kind}_p99_ms"] = _percentile(ms[kind], 0.99)
        figures[f"{kind}_max_ms"] = max(ms[kind], default=0.0)
    return {
        "bench": "fleet", "devices": devices, "teams": teams, "team_size": args.team_size,
        "protocols_per_device": args.protocols_per_device, "rounds": args.rounds,
        "processes": count, "threads": threads * count, "db": args.db, "workers": args.workers,
        "protocols": protocols, "ops": ops, "wall_s": wall,
        "round_s": [round_["wall_s"] for round_ in rounds],
        "protocols_per_s": protocols / wall, "ops_per_s": ops / wall,
        "server_cpu_s": server, "server_cpu_us_per_protocol": server / protocols * 1e6,
        "round_server_cpu_s": [round_["server_cpu_s"] for round_ in rounds],
        "database_cpu_s": database,
        "database_cpu_us_per_protocol": database / protocols * 1e6 if database is not None
        else None,
        "client_cpu_s": sum(round_["client_cpu_s"] for round_ in rounds),
        **figures,
        "registers_pulled": sum(round_["registers"] for round_ in rounds),
        "failures": dict(Counter(failure[:200] for round_ in rounds
                                 for failure in round_["failures"])),
        "lost": lost, "duplicated": duplicated, **problems,
        "server_peak_rss_mb": server_rss, "client_peak_rss_mb": max(client_rss),
    }


# -- the chart ---------------------------------------------------------------------------------

def chart(results: list[dict[str, Any]]) -> str:
    """Server CPU per protocol against fleet size (a log scale), one line a database and
    worker count, and each one's single push dashed: an SVG for the docs."""
    width, height, left, right, top, bottom = 640, 360, 70, 170, 30, 50
    lines: dict[str, list[tuple[int, float]]] = {}
    singles: dict[str, float] = {}
    for result in results:
        name = f"{'PostgreSQL' if result['db'] == 'postgresql' else 'SQLite'}, " \
               f"{result['workers']} worker{'s' if result['workers'] > 1 else ''}"
        lines.setdefault(name, []).append((result["devices"],
                                           result["server_cpu_us_per_protocol"]))
        if result.get("single_push_server_us"):
            singles[name] = result["single_push_server_us"]
    sizes = sorted({size for points in lines.values() for size, _ in points})
    if not sizes:
        raise SystemExit("nothing to draw: no fleet saved")
    low, high = math.log10(min(sizes)), math.log10(max(sizes))
    ceiling = max([value for points in lines.values() for _, value in points]
                  + [2 * value for value in singles.values()]) * 1.15
    step = 10 ** math.floor(math.log10(ceiling / 4))
    step *= next(factor for factor in (1, 2, 5, 10) if ceiling / (step * factor) <= 6)

    def x(size: float) -> float:
        span = high - low or 1.0
        return left + (math.log10(size) - low) / span * (width - left - right)

    def y(value: float) -> float:
        return top + (1 - value / ceiling) * (height - top - bottom)

    colours = ["#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'font-family="sans-serif" font-size="12" role="img" aria-label="Server CPU per '
             f'protocol against fleet size">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="13">Server CPU per protocol (µs) as the '
             f'fleet grows</text>']
    tick = 0.0
    while tick <= ceiling:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                     f'{tick:,.0f}</text>')
        tick += step
    for size in sizes:
        parts.append(f'<text x="{x(size):.1f}" y="{height - bottom + 18}" '
                     f'text-anchor="middle">{size:,}</text>')
    parts.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 12}" '
                 f'text-anchor="middle">devices in the fleet</text>')
    for index, (name, points) in enumerate(sorted(lines.items())):
        colour = colours[index % len(colours)]
        points.sort()
        path = " ".join(f"{x(size):.1f},{y(value):.1f}" for size, value in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                     f'stroke-width="2"/>')
        parts += [f'<circle cx="{x(size):.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour}"/>'
                  for size, value in points]
        legend = top + 20 + index * 36
        parts.append(f'<line x1="{width - right + 12}" x2="{width - right + 32}" y1="{legend}" '
                     f'y2="{legend}" stroke="{colour}" stroke-width="2"/>'
                     f'<text x="{width - right + 38}" y="{legend + 4}">{name}</text>')
        if name in singles:
            target = 2 * singles[name]
            parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(target):.1f}" '
                         f'y2="{y(target):.1f}" stroke="{colour}" stroke-dasharray="5 4"/>'
                         f'<text x="{width - right + 38}" y="{legend + 18}" fill="#555">'
                         f'2 × one push: {target:,.0f}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# -- main --------------------------------------------------------------------------------------

def _table(result: dict[str, Any]) -> None:
    database = result["database_cpu_us_per_protocol"]
    rows = [
        ("devices (teams × size)", f"{result['devices']} ({result['teams']} × "
                                   f"{result['team_size']})"),
        ("database, server workers", f"{result['db']}, {result['workers']}"),
        ("tablet processes, threads", f"{result['processes']}, {result['threads']}"),
        ("protocols pushed", f"{result['protocols']:,}"),
        ("ops pushed", f"{result['ops']:,}"),
        ("registers pulled", f"{result['registers_pulled']:,}"),
        ("server CPU µs/protocol", f"{result['server_cpu_us_per_protocol']:,.0f}"),
        ("  one device's push alone", f"{result.get('single_push_server_us', 0):,.0f}"),
        ("database CPU µs/protocol", "-" if database is None else f"{database:,.0f}"),
        ("sync wall time s", f"{result['wall_s']:.1f}"),
        ("protocols/s", f"{result['protocols_per_s']:,.0f}"),
        ("push p50 / p99 ms", f"{result['push_p50_ms']:,.0f} / {result['push_p99_ms']:,.0f}"),
        ("pull p50 / p99 ms", f"{result['pull_p50_ms']:,.0f} / {result['pull_p99_ms']:,.0f}"),
        ("trust list p50 / p99 ms", f"{result['trust_list_p50_ms']:,.1f} / "
                                    f"{result['trust_list_p99_ms']:,.1f}"),
        ("checkpoint p50 / p99 ms", f"{result['checkpoint_p50_ms']:,.1f} / "
                                    f"{result['checkpoint_p99_ms']:,.1f}"),
        ("push, pull requests", f"{result['push_requests']:,}, {result['pull_requests']:,}"),
        ("lost", f"{result['lost']:,}"),
        ("duplicated", f"{result['duplicated']:,}"),
        ("retried push/pull legs", f"{result.get('retries', 0):,}"),
        ("client, server CPU s", f"{result['client_cpu_s']:.0f}, {result['server_cpu_s']:.0f}"),
        ("server peak RSS MB", f"{result['server_peak_rss_mb']:.0f}"),
    ]
    print_table(rows, width=20)
    for reason, times in result["failures"].items():
        print(f"failed {times}×: {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--sweep", default="",
                        help="fleet sizes to run one after the other, such as 10,100,1000")
    parser.add_argument("--protocols-per-device", type=int, default=20)
    parser.add_argument("--team-size", type=int, default=20,
                        help="inspectors per assignment (default 20)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="push + pull rounds, each after entering a part offline (default 3)")
    parser.add_argument("--threads", type=int, default=100,
                        help="devices syncing at the same moment, over all processes "
                             "(default 100)")
    parser.add_argument("--processes", type=int, default=0,
                        help="tablet processes (default: one per two CPUs, at least two)")
    parser.add_argument("--client-cpus", default="", help="pin the tablet processes, e.g. 2-7")
    parser.add_argument("--server-cpus", default="", help="pin the registry's processes, e.g. 0-1")
    parser.add_argument("--baseline", type=int, default=2000,
                        help="protocols one tablet pushes alone first (0: none; default 2,000)")
    add_options(parser, protocols=False)
    parser.add_argument("--workers", type=int,
                        help="server processes (default 1 on SQLite, 2 on PostgreSQL)")
    parser.add_argument("--save", type=Path, help="append each fleet's JSON line to this file")
    parser.add_argument("--chart", type=Path,
                        help="draw every fleet in --save (or this run's) as an SVG here")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sweep.split(",") if size] or [args.devices]
    for name in ("protocols_per_device", "team_size", "rounds", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if min(sizes) < 1:
        parser.error("a fleet has at least one device")
    if args.workers is None:
        args.workers = 2 if args.db == "postgresql" else 1

    needed = max(sizes) * args.protocols_per_device + args.baseline
    with tempfile.TemporaryDirectory(prefix="field-sync-fleet-") as scratch:
        documents = read_workload(args.workload or generate(needed, Path(scratch)))
    if len(documents) < needed:
        raise SystemExit(f"the workload has {len(documents):,} protocols; {needed:,} needed")

    single: dict[str, float] = {}
    if args.baseline:
        with registry_database(args.db, args.db_url) as db_url:
            single = _single_push(args, db_url, documents[-args.baseline:])
        print(f"one tablet pushing {args.baseline:,} protocols alone: "
              f"{single['server_us']:,.0f} µs of server CPU a protocol", file=sys.stderr)
    results = []
    failed: dict[str, int] = {}
    for size in sizes:
        with registry_database(args.db, args.db_url) as db_url:
            result = run(args, db_url, size, documents)
        if single:
            result["single_push_server_us"] = single["server_us"]
            result["single_push_database_us"] = single["database_us"]
            result["server_cpu_vs_single_push"] = \
                result["server_cpu_us_per_protocol"] / single["server_us"]
        print(json.dumps(result))
        if args.save:
            with args.save.open("a") as saved:
                saved.write(json.dumps(result) + "\n")
        _table(result)
        results.append(result)
        failed.update({f"{size}: {name}": result.get(name, 0) for name in (
            "lost_protocols", "unexpected_protocols", "duplicated_numbers", "ops_not_accepted",
            "ops_accepted_twice", "duplicate_answers_unsent", "ops_rejected",
            "pending_on_tablets", "missing_on_tablets", "extra_on_tablets", "hash_mismatches")
            if result.get(name, 0)})
    if len(results) > 1:
        print("\nserver CPU per protocol as the fleet grows (µs; one push alone: "
              f"{single.get('server_us', 0):,.0f})")
        print_table([("devices", "server µs", "× one push", "push p99 ms")] + [
            (f"{result['devices']:,}", f"{result['server_cpu_us_per_protocol']:,.0f}",
             f"{result.get('server_cpu_vs_single_push', 0):.2f}",
             f"{result['push_p99_ms']:,.0f}") for result in results])
    if args.chart:
        drawn = results
        if args.save and args.save.exists():
            drawn = [json.loads(line) for line in args.save.read_text().splitlines()
                     if line.strip()]
        args.chart.write_text(chart(drawn))
        print(f"chart: {args.chart}", file=sys.stderr)
    if failed:
        raise SystemExit(f"the check failed: {failed}")


if __name__ == "__main__":
    main()
