"""One leg of a sync, run by a tablet in a process of its own so that its peak memory is the
tablet's alone: ``python bench/tablet_leg.py STORE push|pull [--batch N]``.

Prints one JSON line: seconds, ops and protocols moved, traffic, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from device import PASSPHRASE, peak_rss_mb

from client_lib import HttpTransport, Tablet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("store", type=Path)
    parser.add_argument("leg", choices=["push", "pull"])
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    tablet = Tablet(args.store, PASSPHRASE)
    transport = tablet.transport
    assert isinstance(transport, HttpTransport)
    started, cpu = time.perf_counter(), time.process_time()
    report = tablet.push(args.batch) if args.leg == "push" else tablet.pull()
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    if not report.ok:
        raise SystemExit(f"the {args.leg} failed: {report}")
    print(json.dumps({
        "seconds": seconds, "cpu_s": cpu_s, "pushed": report.pushed, "accepted": report.accepted,
        "pulled": report.pulled, "protocols": len(tablet.store.documents()),
        "round_trips": transport.traffic.requests, "sent_bytes": transport.traffic.sent_bytes,
        "received_bytes": transport.traffic.received_bytes, "peak_rss_mb": peak_rss_mb()}))
    tablet.close()


if __name__ == "__main__":
    main()
