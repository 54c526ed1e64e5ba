"""A registry server process on a loopback port, for the demo, end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["LocalServer", "MemoryWatch", "free_port", "resident_bytes"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalServer:
    """``field-sync serve`` as a child process on 127.0.0.1.

    Args:
        data_dir: the server's data directory (its SQLite file lives there by default).
        admin_token: the administrator token the server is started with.
        db_url: a database URL instead of the embedded SQLite.
        port: a fixed port (to restart a server where it was); a free one by default.
        workers: server processes (``serve --workers``).
        options: more flags of ``serve`` (``--log-level`` is ``warning`` unless given).
    """

    def __init__(self, data_dir: Path, admin_token: str, db_url: str = "",
                 port: int | None = None, workers: int = 1, options: tuple[str, ...] = ()) -> None:
        self.workers = workers
        self.options = options
        self.data_dir = Path(data_dir)
        self.admin_token = admin_token
        self.db_url = db_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.cwd: Path | None = None
        """The folder the process starts in (the caller's by default)."""

    def command(self) -> list[str]:
        """What starts the server: ``field-sync serve`` with this server's options."""
        command = [sys.executable, "-m", "field_sync_cli.main", "serve", "--port", str(self.port),
                   "--data-dir", str(self.data_dir), "--log-level", "warning", *self.options]
        if self.db_url:
            command += ["--db", self.db_url]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        return command

    def environment(self) -> dict[str, str]:
        """The server's environment: this process's, with the administrator token."""
        return {**os.environ, "FIELD_SYNC_ADMIN_TOKEN": self.admin_token}

    def start(self, timeout_s: float = 30.0) -> LocalServer:
        """Start the process and wait until ``/health`` answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "server.log").open("ab") as log:
            # The command is this interpreter and fixed arguments: nothing comes from a user.
            self.process = subprocess.Popen(self.command(), env=self.environment(),  # noqa: S603
                                            cwd=self.cwd, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; "
                                   f"see {self.data_dir / 'server.log'}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not answer on {self.url} within {timeout_s} s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process (``SIGKILL`` to simulate a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def resident_bytes(pid: int) -> int:
    """A process's resident memory now (``VmRSS``; Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"/proc/{pid}/status says nothing of VmRSS")


class MemoryWatch:
    """A process's resident memory sampled every 5 ms while in the ``with`` block: how much it
    grew over where it began (how a test or a benchmark sees a server stream, not buffer)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = self.peak = resident_bytes(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, resident_bytes(self.pid))

    @property
    def growth(self) -> int:
        """Bytes the process grew by, at its peak."""
        return self.peak - self.start

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
