"""The same workload through PouchDB, for side-by-side figures in one benchmark run.

A PouchDB 9 client on LevelDB replicates to `pouchdb-server` 4.2 (LevelDB too), both from npm,
pinned in `bench/peer/pouchdb/package-lock.json` and installed there on first use. The node
side is `bench/peer/pouchdb/run.mjs`; this module installs it, starts a fresh server per run,
runs the script and returns its one JSON line as a dict.

    python bench/pouchdb_peer.py sync WORKLOAD [--batch 500]
    python bench/pouchdb_peer.py conflict WORKLOAD [--fraction 0.01]

WORKLOAD is JSON lines, one protocol with `_id` each
(`python3 shared/workloads/gen_protocols.py N > FILE`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device import vm_hwm_mb

PEER_DIR = Path(__file__).resolve().parent / "peer" / "pouchdb"
RUN_SCRIPT = PEER_DIR / "run.mjs"
SERVER_SCRIPT = PEER_DIR / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"
# npm rewrites this on every install, so it dates what node_modules holds.
INSTALLED_MARKER = PEER_DIR / "node_modules" / ".package-lock.json"
MIN_NODE_MAJOR = 18  # run.mjs uses the global fetch Response
SERVER_START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 3600.0


class PeerError(RuntimeError):
    """The PouchDB peer could not be installed, started or run."""


@dataclass(frozen=True)
class _Server:
    url: str
    pid: int


def _say(message: str) -> None:
    print(f"pouchdb peer: {message}", file=sys.stderr, flush=True)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PeerError(
            f"`{name}` is not on PATH: the PouchDB peer needs Node.js {MIN_NODE_MAJOR}+ "
            "and npm (e.g. `apt-get install nodejs npm`)"
        )
    return found


def _check_node(node: str) -> None:
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    major = int(version.lstrip("v").split(".", 1)[0])
    if major < MIN_NODE_MAJOR:
        raise PeerError(f"node {version} is too old: the PouchDB peer needs {MIN_NODE_MAJOR}+")


def ensure_installed() -> Path:
    """Install the pinned npm packages unless node_modules is already up to date.

    Returns the peer's folder (holding `run.mjs` and `node_modules`).
    """
    node = _tool("node")
    npm = _tool("npm")
    _check_node(node)
    lock = PEER_DIR / "package-lock.json"
    stale = not INSTALLED_MARKER.exists() or (
        lock.exists() and lock.stat().st_mtime > INSTALLED_MARKER.stat().st_mtime
    )
    if stale:
        # `npm ci` installs exactly the lock; without one, `npm install` writes it.
        command = [npm, "ci" if lock.exists() else "install", "--no-audit", "--no-fund"]
        _say(f"installing npm packages in {PEER_DIR} ({' '.join(command[1:])}) ...")
        started = time.monotonic()
        # npm's own output goes to stderr: stdout is kept for the benchmark's figures.
        result = subprocess.run(command, cwd=PEER_DIR, stdout=sys.stderr, stderr=sys.stderr)
        if result.returncode != 0:
            raise PeerError(f"`{' '.join(command)}` failed in {PEER_DIR} ({result.returncode})")
        _say(f"installed in {time.monotonic() - started:.0f} s")
    if not SERVER_SCRIPT.exists():
        raise PeerError(f"{SERVER_SCRIPT} is missing after install")
    return PEER_DIR


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback http
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The server has its own process group (start_new_session), so this reaches only it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def _server(scratch: Path) -> Iterator[_Server]:
    ensure_installed()
    node = _tool("node")
    scratch.mkdir(parents=True, exist_ok=True)
    data = scratch / "data"
    data.mkdir(exist_ok=True)
    log = scratch / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        node,
        str(SERVER_SCRIPT),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data),  # LevelDB files, one folder per database
        "--config", str(scratch / "config.json"),
        # Request log to log.txt in its working folder only. The long form does not work: its
        # option parser reads `--no-stdout-logs` as `stdout-logs` = false, an unknown option.
        "-n",
        "--no-color",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=scratch, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _answers(url + "/"):
            if process.poll() is not None:
                raise PeerError(
                    f"pouchdb-server exited ({process.returncode}) on start:\n{_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise PeerError(f"pouchdb-server did not answer on {url} in time:\n{_tail(log)}")
            time.sleep(0.1)
        yield _Server(url=url, pid=process.pid)
    finally:
        _stop(process)


@contextlib.contextmanager
def pouchdb_server(scratch: Path) -> Iterator[str]:
    """A `pouchdb-server` on a free loopback port with its data in `scratch`; yields its URL."""
    with _server(scratch) as server:
        yield server.url


def _peer_versions() -> dict[str, str]:
    versions = {}
    for package in ("pouchdb", "pouchdb-server"):
        manifest = PEER_DIR / "node_modules" / package / "package.json"
        versions[package] = str(json.loads(manifest.read_text())["version"])
    return versions


def _run(mode: str, workload: Path, arg: str, scratch: Path) -> dict[str, Any]:
    node = _tool("node")
    workload = workload.resolve()
    if not workload.is_file():
        raise PeerError(f"no workload file {workload}")
    scratch.mkdir(parents=True, exist_ok=True)
    # A fresh server and fresh local databases every run, whatever the caller's scratch holds.
    run_dir = Path(tempfile.mkdtemp(prefix=f"pouchdb-{mode}-", dir=scratch))
    try:
        client_dir = run_dir / "client"
        client_dir.mkdir()
        with _server(run_dir / "server") as server:
            try:
                result = subprocess.run(
                    [node, str(RUN_SCRIPT), mode, str(workload), arg, server.url, str(client_dir)],
                    cwd=PEER_DIR,
                    capture_output=True,
                    text=True,
                    timeout=RUN_TIMEOUT_S,
                    env={**os.environ, "PEER_SERVER_PID": str(server.pid)},
                )
            except subprocess.TimeoutExpired as exc:
                raise PeerError(f"run.mjs {mode} took over {RUN_TIMEOUT_S:.0f} s") from exc
            server_rss = vm_hwm_mb(server.pid)
        if result.returncode != 0:
            raise PeerError(
                f"run.mjs {mode} failed ({result.returncode}):\n{result.stderr[-4000:]}"
            )
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        if not lines:
            raise PeerError(f"run.mjs {mode} printed nothing:\n{result.stderr[-4000:]}")
        report: dict[str, Any] = json.loads(lines[-1])
        report["server_peak_rss_mb"] = server_rss
        report["peer"] = _peer_versions()
        return report
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def run_sync(workload: Path, batch: int, scratch: Path) -> dict[str, Any]:
    """Push the workload from one PouchDB to the server, then pull it into a fresh one."""
    if batch < 1:
        raise ValueError(f"batch must be positive, got {batch}")
    return _run("sync", workload, str(batch), scratch)


def run_conflict(workload: Path, fraction: float, scratch: Path) -> dict[str, Any]:
    """Two tablets edit different fields of the same protocols offline, then sync."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return _run("conflict", workload, repr(fraction), scratch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("mode", choices=["sync", "conflict"])
    parser.add_argument("workload", type=Path, help="JSON lines, one protocol with _id each")
    parser.add_argument("--batch", type=int, default=500, help="replication batch size (sync)")
    parser.add_argument("--fraction", type=float, default=0.01, help="edited share (conflict)")
    parser.add_argument("--scratch", type=Path, help="where databases go (default: a temp dir)")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        scratch: Path = args.scratch or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="pouchdb-peer-"))
        )
        if args.mode == "sync":
            report = run_sync(args.workload, args.batch, scratch)
        else:
            report = run_conflict(args.workload, args.fraction, scratch)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
