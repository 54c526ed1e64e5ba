"""Two tablets edit different fields of the same protocols offline, then both sync: how many of
the edits every replica keeps (tablet 1, tablet 2 and the registry), and the same workload
through PouchDB 9 and pouchdb-server, where one revision wins and the other edit is buried.

    ./dev bench conflict [--workload FILE] [--protocols N] [--fraction F]
                         [--db sqlite|postgresql] [--db-url URL] [--peer pouchdb | --no-peer]

Both tablets share one assignment. Tablet 1 enters every protocol and syncs; tablet 2 syncs and
so holds them all. Offline, every k-th protocol (k = 1 / fraction) gets two edits: tablet 1
writes its ``findings`` and tablet 2 flips the ``conclusion`` — the edits the PouchDB peer
makes. Then rounds of both pushing, then both pulling (the peer's order), until a round moves
nothing. An edit is kept on a replica when the replica shows its value; every replica's content
hash must be the same for every protocol.

The PouchDB side runs when Node.js is on PATH (``--peer pouchdb`` insists on it, ``--no-peer``
skips it). Prints one JSON line, then a table; exits 1 if an edit was lost or the replicas
disagree (never on a time). ``--db postgresql`` makes a database of its own, dropped after the
run, on the server at ``--db-url`` or ``$FIELD_SYNC_BENCH_POSTGRES``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from workload import (
    add_options,
    fill,
    generate,
    print_table,
    read_workload,
    registry,
    registry_copies,
    registry_database,
    server_peak_rss_mb,
)

from client_lib import Tablet
from schemas import Protocol

MAX_ROUNDS = 10  # as the PouchDB peer: give up if syncing is not quiet by then
REPLICAS = ("tablet1", "tablet2", "registry")


def _sync_until_quiet(tablets: tuple[Tablet, Tablet]) -> int:
    """Rounds of both tablets pushing, then both pulling (the PouchDB peer's order), until a
    round moves nothing; the rounds taken, the quiet one included, as the peer counts them."""
    for round_ in range(1, MAX_ROUNDS + 1):
        reports = [tablet.push() for tablet in tablets] + [tablet.pull() for tablet in tablets]
        failed = [report for report in reports if not report.ok]
        if failed:
            raise SystemExit(f"a sync failed: {failed[0]}")
        if sum(report.pushed + report.pulled for report in reports) == 0:
            return round_
    raise SystemExit(f"still syncing after {MAX_ROUNDS} rounds")


def _flip(conclusion: str) -> str:
    return "non_compliant" if conclusion == "compliant" else "compliant"


def ours(documents: list[dict[str, Any]], fraction: float, db_url: str) -> dict[str, Any]:
    """The conflict workload through two tablets and a registry process."""
    with registry(db_url) as reg:
        assignment, (tablet1, tablet2) = reg.team(2, "conflict")
        started = time.perf_counter()
        ids = [fill(tablet1, assignment, document) for document in documents]
        fill_s = time.perf_counter() - started
        started = time.perf_counter()
        for tablet in (tablet1, tablet2):
            report = tablet.sync()
            if not report.ok:
                raise SystemExit(f"the first sync failed: {report}")
        first_sync_s = time.perf_counter() - started
        held = len(tablet2.store.documents())
        if held != len(ids):
            raise SystemExit(f"tablet 2 holds {held} protocols, expected {len(ids)}")

        # Offline: the same protocols edited on both tablets, each on its own field.
        k = max(1, int(1 / fraction + 0.5))  # rounded as the peer's Math.round
        picked = ids[::k]
        findings: dict[str, str] = {}
        conclusions: dict[str, str] = {}
        for index, protocol in enumerate(picked):
            findings[protocol] = f"tablet 1 finding {index}"
            conclusions[protocol] = _flip(tablet2.protocol(protocol).fields["conclusion"])
            with tablet1.edit(protocol) as edit:
                edit.set("findings", findings[protocol])
            with tablet2.edit(protocol) as edit:
                edit.set("conclusion", conclusions[protocol])

        started = time.perf_counter()
        rounds = _sync_until_quiet((tablet1, tablet2))
        conflict_sync_s = time.perf_counter() - started
        pending = tablet1.pending() + tablet2.pending()
        rejected = len(tablet1.rejections()) + len(tablet2.rejections())

        seen: dict[str, dict[str, Protocol]] = {
            "tablet1": {protocol: tablet1.protocol(protocol) for protocol in picked},
            "tablet2": {protocol: tablet2.protocol(protocol) for protocol in picked},
            "registry": {protocol: reg.admin.protocol(protocol).protocol for protocol in picked},
        }
        kept = dict.fromkeys(REPLICAS, 0)
        kept_everywhere = 0
        for protocol in picked:
            for field, expected in (("findings", findings), ("conclusion", conclusions)):
                on = [seen[name][protocol].fields.get(field) == expected[protocol]
                      for name in REPLICAS]
                for name, shown in zip(REPLICAS, on, strict=True):
                    kept[name] += shown
                kept_everywhere += all(on)

        copies = registry_copies(reg)
        agree = sum(tablet1.content_hash(protocol) == tablet2.content_hash(protocol)
                    == copies.get(protocol, (None, ""))[1] for protocol in ids)
        server_rss = server_peak_rss_mb(reg.server)
        tablet1.close()
        tablet2.close()
    edits = 2 * len(picked)
    return {
        "protocols": len(ids), "edited_protocols": len(picked), "edits": edits,
        "kept_per_replica": kept, "kept_on_every_replica": kept_everywhere,
        "kept_fraction": kept_everywhere / edits if edits else 0.0,
        "hashes_agree": agree, "converged": agree == len(ids) == len(copies),
        "registry_protocols": len(copies), "pending": pending, "rejected": rejected,
        "sync_rounds": rounds, "conflict_sync_s": conflict_sync_s,
        "first_sync_s": first_sync_s, "fill_s": fill_s,
        "db": make_url(db_url).get_backend_name() if db_url else "sqlite",
        "server_peak_rss_mb": server_rss,
    }


def _peer_wanted(choice: str) -> tuple[bool, str]:
    """Whether to run the PouchDB side, and why not when not."""
    if choice == "none":
        return False, "--no-peer"
    if choice == "auto" and not (shutil.which("node") and shutil.which("npm")):
        return False, "node and npm are not on PATH"
    return True, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(parser)
    parser.add_argument("--fraction", type=float, default=0.01,
                        help="share of the protocols edited on both tablets (default 0.01)")
    peer = parser.add_mutually_exclusive_group()
    peer.add_argument("--peer", choices=["pouchdb"], default="auto",
                      help="run the PouchDB side (default: when node is on PATH)")
    peer.add_argument("--no-peer", dest="peer", action="store_const", const="none")
    args = parser.parse_args()
    if not 0 < args.fraction <= 1:
        parser.error("--fraction is in (0, 1]")
    run_peer, skipped = _peer_wanted(args.peer)

    with tempfile.TemporaryDirectory(prefix="field-sync-conflict-") as scratch:
        workload = args.workload or generate(args.protocols, Path(scratch))
        documents = read_workload(workload)
        print(f"{len(documents):,} protocols; editing {args.fraction:g} of them on two "
              "tablets…", file=sys.stderr)
        with registry_database(args.db, args.db_url) as db_url:
            figures = ours(documents, args.fraction, db_url)
        result: dict[str, Any] = {"bench": "conflict", "fraction": args.fraction, **figures}
        theirs: dict[str, Any] = {}
        if run_peer:
            from pouchdb_peer import run_conflict

            print("the same through PouchDB…", file=sys.stderr)
            theirs = run_conflict(workload, args.fraction, Path(scratch) / "pouchdb")
            result["pouchdb"] = theirs
            result["edits_lost_by_pouchdb"] = theirs["edits"] - theirs["kept_on_every_replica"]
        else:
            result["pouchdb"] = None
            result["pouchdb_skipped"] = skipped
    print(json.dumps(result))

    def peer_value(key: str, replica: str = "") -> str:
        if not theirs:
            return "-"
        value = theirs[key][replica] if replica else theirs[key]
        return f"{value:.1%}" if key == "kept_fraction" else f"{value:,}"

    rows = [("", "field-sync", "PouchDB" if theirs else f"PouchDB ({skipped})"),
            ("protocols", f"{result['protocols']:,}", peer_value("protocols")),
            ("edited protocols", f"{result['edited_protocols']:,}",
             peer_value("edited_protocols")),
            ("edits", f"{result['edits']:,}", peer_value("edits"))]
    peer_names = {"tablet1": "tablet1", "tablet2": "tablet2", "registry": "server"}
    for name in REPLICAS:
        rows.append((f"kept on {name}", f"{result['kept_per_replica'][name]:,}",
                     peer_value("kept_per_replica", peer_names[name])))
    rows += [("kept on every replica", f"{result['kept_on_every_replica']:,}",
              peer_value("kept_on_every_replica")),
             ("fraction kept", f"{result['kept_fraction']:.1%}", peer_value("kept_fraction")),
             ("replicas converged", str(result["converged"]),
              str(theirs["converged"]) if theirs else "-"),
             ("sync rounds", str(result["sync_rounds"]), peer_value("sync_rounds")),
             ("syncing the edits s", f"{result['conflict_sync_s']:.2f}", "-")]
    print_table(rows)
    if theirs:
        print(f"PouchDB buried {theirs['conflicts_buried_on_server']:,} conflicting revisions "
              f"and lost {result['edits_lost_by_pouchdb']:,} of {theirs['edits']:,} edits")
    if result["kept_fraction"] < 1 or not result["converged"] or result["pending"] \
            or result["rejected"]:
        raise SystemExit("field-sync lost an edit or its replicas disagree")


if __name__ == "__main__":
    main()
