"""The real ``field-sync`` command, run as a process, as a person or a script runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["field_sync", "field_sync_command"]


def field_sync_command() -> list[str]:
    """The installed console script beside this interpreter (``python -m field_sync_cli.main``
    where there is none)."""
    script = Path(sys.executable).with_name("field-sync")
    return [str(script)] if script.exists() else [sys.executable, "-m", "field_sync_cli.main"]


def field_sync(*arguments: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``field-sync ARGUMENTS`` with no ``FIELD_SYNC_*`` variable of the test run's but
    those in ``env``; its output is captured as text."""
    clean = {name: value for name, value in os.environ.items()
             if not name.startswith("FIELD_SYNC_") or name == "FIELD_SYNC_TEST_POSTGRES"}
    return subprocess.run([*field_sync_command(), *arguments], capture_output=True, text=True,
                          timeout=timeout, check=False, env={**clean, **(env or {})}, cwd=cwd)
