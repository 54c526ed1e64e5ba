"""``field-sync export``: stream the registry's protocols to a file, with a progress bar."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
from tqdm import tqdm

from field_sync_cli.admin_client import read_answer

__all__ = ["run_export"]


def run_export(server: str, token: str, fmt: str, out: str | None,
               filters: dict[str, str]) -> int:
    """Write every matching protocol (JSON lines or CSV) to ``out`` (or standard output) with
    an administrator's or a supervisor's ``token``."""
    params = {"format": fmt, **{key: value for key, value in filters.items() if value}}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{server}/v1/registry/export", params=params,
                      headers=headers, timeout=None) as response:  # noqa: S113 - a long stream
        if response.status_code >= 400:
            response.read()
            read_answer(response, dict)  # raises: the registry's refusal, or not a registry
        total = int(response.headers.get("x-total-count", "0"))
        with ExitStack() as files:
            target = files.enter_context(Path(out).open("wb")) if out else sys.stdout.buffer
            lines = response.iter_lines()
            if fmt == "csv":
                target.write(next(lines).encode() + b"\n")  # the header is not a protocol
            with tqdm(total=total, unit=" protocols", file=sys.stderr) as progress:
                for line in lines:
                    target.write(line.encode() + b"\n")
                    progress.update(1)
    print(f"exported {total} protocols" + (f" to {out}" if out else ""), file=sys.stderr)
    return 0
