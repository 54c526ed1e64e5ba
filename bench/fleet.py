"""A fleet of devices syncing at once against one registry: protocols/s and ops/s, p50/p99 of
every push and every pull request, and a check that nothing was lost or duplicated.

    ./dev bench fleet [--devices 200] [--protocols-per-device 20] [--team-size 20] [--rounds 3]
                      [--threads 100] [--db sqlite|postgresql] [--db-url URL] [--workers N]
                      [--workload FILE]

The devices are enrolled tablets in teams (``--team-size`` inspectors share an assignment, so a
pull brings the teammates' protocols). Each device's share of the workload is split over
``--rounds``: before each round every device enters its part offline (not timed), then all the
devices sync at once, each a push and then a pull, so most pulls bring teammates' pushes of
that round or the one before; a last, pull-only round brings the rest. Only the sync rounds are
timed; protocols/s is protocols pushed over their summed wall time.

The devices are threads of this one process (``--threads`` at a time; one HTTP connection
each): the client side waits on the server, a separate process (``--workers`` of them). A
request's latency is timed around the transport call: the round trip and decoding the answer,
so under load it includes waiting for this process's interpreter lock; the client and server
CPU seconds are reported to show which side was busy. A pull carries registers (a row added
by one op is one register per field), the device's own included, so registers pulled are
several times the ops pushed. A request that fails (a connection the server dropped) is not in
the latencies: the device runs that push or pull again, and the failures are listed.

Then it checks: the registry holds exactly the protocols entered (none missing, none extra,
no workload number twice); every op of every device was answered ``accepted`` exactly once
(``duplicate`` only for an op sent again after a failed request); every tablet has nothing
pending or refused and holds every protocol of its team with the registry's content hash.

Prints one JSON line, then a table; exits 1 if a check fails (never on a time). With
``--db postgresql`` the URL comes from ``--db-url`` or ``$FIELD_SYNC_BENCH_POSTGRES``; the run
makes a database of its own there and drops it at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm
from workload import (
    PASSPHRASE,
    Registry,
    add_options,
    fill,
    generate,
    peak_rss_mb,
    print_table,
    read_workload,
    registry,
    registry_copies,
    registry_database,
    server_cpu_s,
    server_peak_rss_mb,
)

from client_lib import HttpTransport, Offline, SyncReport, Tablet
from schemas import Assignment, PulledPage, PushRequest, PushResponse
from schemas.signing import TrustList

REQUEST_TIMEOUT_S = 600.0  # a queue of 200 devices on one worker is slow, not down
MAX_TRIES = 3
ENROLL_THREADS = 16
T = TypeVar("T")


class TimedTransport(HttpTransport):
    """HTTP as a tablet speaks it, timing every push and pull request and keeping every
    per-op answer. One device uses it from one thread at a time."""

    def __init__(self, base_url: str, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        super().__init__(base_url, timeout_s)
        self.ms: dict[str, list[float]] = {"push": [], "pull": [], "trust_list": []}
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
        self.sent.update(op.seq for op in batch.ops)
        response = self._timed("push", lambda: super(TimedTransport, self).push(token, batch))
        for result in response.results:
            self.answers[result.status][result.seq] += 1
        return response

    def pull(self, token: str, cursor: str) -> PulledPage:
        page = self._timed("pull", lambda: super(TimedTransport, self).pull(token, cursor))
        self.pulled_registers += page.registers
        return page

    def trust_list(self) -> TrustList:
        return self._timed("trust_list", lambda: super(TimedTransport, self).trust_list())


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


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _enroll(reg: Registry, inspector: str) -> tuple[Tablet, TimedTransport]:
    """A tablet enrolled for a new inspector, speaking through a timed transport."""
    reg.admin.create_inspector(inspector, f"Inspector {inspector}")
    transport = TimedTransport(reg.server.url)
    tablet = Tablet(reg.folder / "tablets" / f"{inspector}.sqlite", PASSPHRASE,
                    transport=transport)
    tablet.enroll(reg.admin.enrollment(inspector).code, reg.server.url)
    return tablet, transport


def _in_pool(pool: ThreadPoolExecutor, work: Callable[[Device], object], devices: list[Device],
             label: str) -> float:
    """Run ``work`` for every device in the pool; the wall time from first to last."""
    started = time.perf_counter()
    futures = [pool.submit(work, device) for device in devices]
    for future in tqdm(as_completed(futures), total=len(futures), desc=label, unit="device",
                       leave=False):
        future.result()
    return time.perf_counter() - started


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


def _check(reg: Registry, devices: list[Device]) -> dict[str, int]:
    """What was lost, duplicated or left behind, by kind (all zero when sound)."""
    copies = registry_copies(reg)
    created = {protocol for device in devices for protocol in device.created}
    numbers = Counter(summary.number for summary, _ in copies.values())
    problems = {
        "lost_protocols": len(created - copies.keys()),
        "unexpected_protocols": len(copies.keys() - created),
        "duplicated_numbers": sum(count - 1 for count in numbers.values()),
        "ops_not_accepted": 0, "ops_accepted_twice": 0, "duplicate_answers_unsent": 0,
        "ops_rejected": 0, "pending_on_tablets": 0, "missing_on_tablets": 0,
        "extra_on_tablets": 0, "hash_mismatches": 0,
    }
    teams: dict[int, set[str]] = {}
    for device in devices:
        teams.setdefault(device.team, set()).update(device.created)
    for device in tqdm(devices, desc="checking tablets", unit="device", leave=False):
        tablet, answers = device.tablet, device.transport.answers
        seqs = {entry.op.seq for entry in tablet.store.outbox()}
        problems["ops_not_accepted"] += len(seqs - answers["accepted"].keys())
        problems["ops_accepted_twice"] += sum(count > 1 for count in answers["accepted"].values())
        problems["duplicate_answers_unsent"] += sum(
            device.transport.sent[seq] < 2 for seq in answers["duplicate"])
        problems["ops_rejected"] += len(answers["rejected"]) + len(tablet.rejections())
        problems["pending_on_tablets"] += tablet.pending()
        held = {protocol for protocol, _, _ in tablet.store.documents()}
        team = teams[device.team]
        problems["missing_on_tablets"] += len(team - held)
        problems["extra_on_tablets"] += len(held - team)
        problems["hash_mismatches"] += sum(
            protocol in copies and tablet.content_hash(protocol) != copies[protocol][1]
            for protocol in held & team)
    return problems


def run(args: argparse.Namespace, db_url: str) -> dict[str, Any]:
    """Enroll, fill and sync the fleet; its figures and the check."""
    total = args.devices * args.protocols_per_device
    with tempfile.TemporaryDirectory(prefix="field-sync-fleet-") as scratch:
        source = args.workload or generate(total, Path(scratch))
        documents = read_workload(source)
    if len(documents) < total:
        raise SystemExit(f"the workload has {len(documents):,} protocols; {total:,} needed")
    teams = math.ceil(args.devices / args.team_size)
    per = args.protocols_per_device

    with registry(db_url, args.workers) as reg, \
            ThreadPoolExecutor(max_workers=args.threads) as pool:
        names = [f"fleet-{index // args.team_size:03d}-{index % args.team_size:03d}"
                 for index in range(args.devices)]
        # Enrollment is set-up, not measured. Its pool is small: every enrollment goes through
        # the one administrator client, whose HTTP pool fails under a couple of hundred threads.
        with ThreadPoolExecutor(max_workers=ENROLL_THREADS) as enrolling:
            enrolled = list(tqdm(enrolling.map(lambda name: _enroll(reg, name), names),
                                 total=len(names), desc="enrolling", unit="device"))
        devices: list[Device] = []
        for index, (tablet, transport) in enumerate(enrolled):
            team = index // args.team_size
            devices.append(Device(tablet, transport, team, f"assignment-fleet-{team:03d}",
                                  documents[index * per:(index + 1) * per]))
        for team in range(teams):
            members = tuple(names[team * args.team_size:(team + 1) * args.team_size])
            reg.admin.put_assignment(Assignment(f"assignment-fleet-{team:03d}", "fleet",
                                                members))
        _in_pool(pool, _pull, devices, "first pull (assignments)")
        for device in devices:  # set-up traffic is not part of the figures
            for times in device.transport.ms.values():
                times.clear()
            device.transport.pulled_registers = 0

        phases: list[float] = []
        ops = 0
        client_cpu, server_cpu = 0.0, 0.0
        for round_ in range(args.rounds + 1):
            last = round_ == args.rounds
            if not last:
                for device in tqdm(devices, desc=f"round {round_ + 1}: filling offline",
                                   unit="device", leave=False):
                    for document in device.documents[round_::args.rounds]:
                        device.created.append(fill(device.tablet, device.assignment, document))
                ops = sum(device.tablet.pending() for device in devices) + ops
            cpu_before = (_client_cpu_s(), server_cpu_s(reg.server))
            label = "last round: pull" if last else f"round {round_ + 1}: push + pull"
            phases.append(_in_pool(pool, _pull if last else _sync, devices, label))
            client_cpu += _client_cpu_s() - cpu_before[0]
            server_cpu += server_cpu_s(reg.server) - cpu_before[1]
            print(f"{label}: {phases[-1]:.1f} s", file=sys.stderr)

        problems = _check(reg, devices)
        server_rss = server_peak_rss_mb(reg.server)
        for device in devices:
            device.tablet.close()

    pushes = [ms for device in devices for ms in device.transport.ms["push"]]
    pulls = [ms for device in devices for ms in device.transport.ms["pull"]]
    trust = [ms for device in devices for ms in device.transport.ms["trust_list"]]
    protocols = sum(len(device.created) for device in devices)
    wall = sum(phases)
    lost = problems["lost_protocols"] + problems["ops_not_accepted"]
    duplicated = (problems["duplicated_numbers"] + problems["ops_accepted_twice"]
                  + problems["duplicate_answers_unsent"])
    return {
        "bench": "fleet", "devices": args.devices, "teams": teams, "team_size": args.team_size,
        "protocols_per_device": per, "rounds": args.rounds, "threads": args.threads,
        "db": args.db, "workers": args.workers,
        "protocols": protocols, "ops": ops, "wall_s": wall, "round_s": phases,
        "protocols_per_s": protocols / wall, "ops_per_s": ops / wall,
        "push_requests": len(pushes), "pull_requests": len(pulls),
        "requests_per_s": (len(pushes) + len(pulls) + len(trust)) / wall,
        "push_p50_ms": statistics.median(pushes), "push_p99_ms": _percentile(pushes, 0.99),
        "push_max_ms": max(pushes),
        "pull_p50_ms": statistics.median(pulls), "pull_p99_ms": _percentile(pulls, 0.99),
        "pull_max_ms": max(pulls),
        "trust_list_p50_ms": statistics.median(trust) if trust else 0.0,
        "registers_pulled": sum(device.transport.pulled_registers for device in devices),
        "retries": sum(device.retries for device in devices),
        "failures": dict(Counter(failure[:200] for device in devices
                                 for failure in device.transport.failures)),
        "lost": lost, "duplicated": duplicated, **problems,
        "client_cpu_s": client_cpu, "server_cpu_s": server_cpu,
        "server_peak_rss_mb": server_rss, "client_peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--protocols-per-device", type=int, default=20)
    parser.add_argument("--team-size", type=int, default=20,
                        help="inspectors per assignment (default 20)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="push + pull rounds, each after entering a part offline (default 3)")
    parser.add_argument("--threads", type=int, default=100,
                        help="devices syncing at the same moment (default 100)")
    add_options(parser, protocols=False)
    parser.add_argument("--workers", type=int,
                        help="server processes (default 1 on SQLite, 2 on PostgreSQL)")
    args = parser.parse_args()
    for name in ("devices", "protocols_per_device", "team_size", "rounds", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.workers is None:
        args.workers = 2 if args.db == "postgresql" else 1
    with registry_database(args.db, args.db_url) as db_url:
        result = run(args, db_url)
    print(json.dumps(result))

    rows = [
        ("devices (teams × size)", f"{result['devices']} ({result['teams']} × "
                                   f"{result['team_size']})"),
        ("database, server workers", f"{result['db']}, {result['workers']}"),
        ("protocols pushed", f"{result['protocols']:,}"),
        ("ops pushed", f"{result['ops']:,}"),
        ("registers pulled", f"{result['registers_pulled']:,}"),
        ("sync wall time s", f"{result['wall_s']:.1f}"),
        ("protocols/s", f"{result['protocols_per_s']:,.0f}"),
        ("ops/s", f"{result['ops_per_s']:,.0f}"),
        ("push p50 / p99 ms", f"{result['push_p50_ms']:,.0f} / {result['push_p99_ms']:,.0f}"),
        ("pull p50 / p99 ms", f"{result['pull_p50_ms']:,.0f} / {result['pull_p99_ms']:,.0f}"),
        ("push, pull requests", f"{result['push_requests']:,}, {result['pull_requests']:,}"),
        ("lost", f"{result['lost']:,}"),
        ("duplicated", f"{result['duplicated']:,}"),
        ("retried push/pull legs", f"{result['retries']:,}"),
        ("client, server CPU s", f"{result['client_cpu_s']:.0f}, {result['server_cpu_s']:.0f}"),
        ("server peak RSS MB", f"{result['server_peak_rss_mb']:.0f}"),
    ]
    print_table(rows, width=20)
    for reason, count in result["failures"].items():
        print(f"failed {count}×: {reason}")
    failed = {name: result[name] for name in (
        "lost_protocols", "unexpected_protocols", "duplicated_numbers", "ops_not_accepted",
        "ops_accepted_twice", "duplicate_answers_unsent", "ops_rejected", "pending_on_tablets",
        "missing_on_tablets", "extra_on_tablets", "hash_mismatches") if result[name]}
    if failed:
        raise SystemExit(f"the check failed: {failed}")


if __name__ == "__main__":
    main()
