"""Push a workload from tablet A to a registry process over loopback HTTP, then pull it to a
fresh tablet B; with ``--peer pouchdb``, the same documents and batch size through PouchDB 9
(LevelDB) replicating to pouchdb-server 4.2, in the same run, and the ratio.

    ./dev bench sync [--workload FILE] [--protocols N] [--batch N] [--db sqlite|postgresql]
                     [--peer pouchdb]

``--batch N`` is protocols per round trip, as PouchDB's ``batch_size`` is documents: a push
carries the ops of about N protocols. Each tablet leg runs in a process of its own, so the
client's peak memory is the tablet's alone. Prints one JSON line and a table; never passes or
fails on a time. ``--db postgresql`` uses ``$FIELD_SYNC_BENCH_POSTGRES`` (``./dev bench``
starts a private PostgreSQL and sets it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workload import (
    Registry,
    add_options,
    enrolled,
    fill,
    generate,
    print_table,
    read_workload,
    registry,
    registry_database,
    server_cpu_s,
    server_peak_rss_mb,
)

from schemas import Assignment

HERE = Path(__file__).resolve().parent


def _leg(store: Path, leg: str, batch_ops: int) -> dict[str, Any]:
    """Run one sync leg in a tablet process of its own; its JSON report."""
    done = subprocess.run([sys.executable, str(HERE / "tablet_leg.py"), str(store), leg,  # noqa: S603
                           "--batch", str(batch_ops)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {leg} leg failed:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _ours(documents: list[dict[str, Any]], batch: int, db_url: str,
          db: str) -> dict[str, Any]:
    with registry(db_url) as reg:
        assignment, (tablet_a,) = reg.team(1, "sync")
        started = time.perf_counter()
        for document in documents:
            fill(tablet_a, assignment, document)
        fill_s = time.perf_counter() - started
        ops = tablet_a.pending()
        assert tablet_a.inspector is not None
        team = (tablet_a.inspector.id,)
        store_a = tablet_a.store.path
        tablet_a.close()
        batch_ops = max(1, round(batch * ops / len(documents)))
        print(f"tablet A holds {len(documents)} protocols ({ops} ops, filled at "
              f"{len(documents) / fill_s:.0f} protocols/s); pushing…", file=sys.stderr)
        before = server_cpu_s(reg.server)
        push = _leg(store_a, "push", batch_ops)
        push["server_cpu_s"] = server_cpu_s(reg.server) - before
        if push["accepted"] != ops:
            raise SystemExit(f"the registry accepted {push['accepted']} of {ops} ops")
        store_b = _join(reg, assignment, team)
        print("pulling to a fresh tablet B…", file=sys.stderr)
        before = server_cpu_s(reg.server)
        pull = _leg(store_b, "pull", batch_ops)
        pull["server_cpu_s"] = server_cpu_s(reg.server) - before
        if pull["protocols"] != len(documents):
            raise SystemExit(f"tablet B holds {pull['protocols']} of {len(documents)} protocols")
        server_rss = server_peak_rss_mb(reg.server)
    count = len(documents)
    return {
        "protocols": count, "ops": ops, "batch": batch, "batch_ops": batch_ops,
        "db": db,
        "push_s": push["seconds"], "pull_s": pull["seconds"],
        "push_cpu_s": {"tablet": push["cpu_s"], "server": push["server_cpu_s"]},
        "pull_cpu_s": {"tablet": pull["cpu_s"], "server": pull["server_cpu_s"]},
        "push_protocols_per_s": count / push["seconds"],
        "pull_protocols_per_s": count / pull["seconds"],
        "push_bytes": push["sent_bytes"] + push["received_bytes"],
        "pull_bytes": pull["sent_bytes"] + pull["received_bytes"],
        "push_round_trips": push["round_trips"], "pull_round_trips": pull["round_trips"],
        "client_peak_rss_mb": max(push["peak_rss_mb"], pull["peak_rss_mb"]),
        "client_b_rss_mb": pull["peak_rss_mb"],
        "server_peak_rss_mb": server_rss,
        "fill_protocols_per_s": count / fill_s,
    }


def _join(reg: Registry, assignment: str, team: tuple[str, ...]) -> Path:
    """A second inspector joins the team and enrolls a new tablet: its first pull is fresh."""
    inspector = f"{assignment}-b"
    tablet_b = enrolled(reg, inspector)
    reg.admin.put_assignment(Assignment(assignment, "bench", (*team, inspector)))
    path = tablet_b.store.path
    tablet_b.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(parser)
    parser.add_argument("--batch", type=int, default=500, help="protocols per round trip")
    parser.add_argument("--peer", choices=["pouchdb"], help="run PouchDB side by side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="field-sync-sync-") as scratch:
        workload = args.workload or generate(args.protocols, Path(scratch))
        documents = read_workload(workload)
        with registry_database(args.db, args.db_url) as db_url:
            ours = _ours(documents, args.batch, db_url, args.db)
        result: dict[str, Any] = {"bench": "sync", **ours}
        theirs: dict[str, Any] = {}
        if args.peer == "pouchdb":
            from pouchdb_peer import run_sync

            print("the same through PouchDB…", file=sys.stderr)
            theirs = run_sync(workload, args.batch, Path(scratch) / "pouchdb")
            result["pouchdb"] = theirs
            result["push_ratio"] = ours["push_protocols_per_s"] / theirs["push_protocols_per_s"]
            result["pull_ratio"] = ours["pull_protocols_per_s"] / theirs["pull_protocols_per_s"]
    print(json.dumps(result))

    def peer(key: str, form: str = "{:,.0f}") -> str:
        return form.format(theirs[key]) if key in theirs else "-"

    print(f"{ours['protocols']:,} protocols ({ours['ops']:,} ops), batch {args.batch} "
          f"protocols (~{ours['batch_ops']} ops), database {ours['db']}")
    print_table([
        ("", "field-sync", "PouchDB" if theirs else ""),
        ("push protocols/s", f"{ours['push_protocols_per_s']:,.0f}", peer("push_protocols_per_s")),
        ("pull protocols/s", f"{ours['pull_protocols_per_s']:,.0f}", peer("pull_protocols_per_s")),
        ("push bytes", f"{ours['push_bytes']:,}", peer("push_bytes")),
        ("pull bytes", f"{ours['pull_bytes']:,}", peer("pull_bytes")),
        ("push round trips", f"{ours['push_round_trips']:,}", peer("push_round_trips")),
        ("pull round trips", f"{ours['pull_round_trips']:,}", peer("pull_round_trips")),
        ("client peak RSS MB", f"{ours['client_peak_rss_mb']:.0f}",
         peer("client_peak_rss_mb", "{:.0f}")),
        ("server peak RSS MB", f"{ours['server_peak_rss_mb']:.0f}",
         peer("server_peak_rss_mb", "{:.0f}")),
    ])
    if theirs:
        print(f"ratio (field-sync / PouchDB): push {result['push_ratio']:.2f}×, "
              f"pull {result['pull_ratio']:.2f}×")


if __name__ == "__main__":
    main()
