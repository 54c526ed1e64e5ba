"""What a tablet process of a benchmark needs and nothing more (importing ``workload`` would
load the server's libraries too, and the tablet's memory figure would carry them), and how
every benchmark reads a process's peak memory."""

from __future__ import annotations

import resource
from pathlib import Path

__all__ = ["PASSPHRASE", "peak_rss_mb", "vm_hwm_mb"]

PASSPHRASE = b"bench passphrase"


def vm_hwm_mb(pid: int | str = "self") -> float | None:
    """A process's own peak resident set (VmHWM), or None where /proc does not tell."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def peak_rss_mb() -> float:
    """This process's peak resident memory so far. VmHWM rather than ``ru_maxrss``: Linux
    keeps ``ru_maxrss`` across exec, so a process a large benchmark starts would report the
    benchmark's memory."""
    own = vm_hwm_mb()
    return own if own is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
