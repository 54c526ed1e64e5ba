"""``field-sync admin import FILE``: load reference data into a running registry."""

from __future__ import annotations

from pathlib import Path

import click
import httpx

from field_sync_cli.admin_client import read_answer
from field_sync_cli.errors import FAILED, OK
from server.data.importer import ImportReport

__all__ = ["run_import"]


def run_import(file: Path, kind: str, server: str, token: str) -> int:
    """Upload ``file`` (CSV or JSON lines, by its suffix) and print the report; 0 when every
    row was stored or already there, 1 when some were rejected."""
    fmt = "csv" if file.suffix.lower() == ".csv" else "jsonl"
    content = file.read_bytes()
    response = httpx.post(
        f"{server}/v1/admin/import", params={"kind": kind, "format": fmt},
        content=content, timeout=300,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                 "Content-Type": "text/csv" if fmt == "csv" else "application/jsonl"})
    report = read_answer(response, ImportReport)
    click.echo(f"{file.name}: {report.stored} stored, {report.unchanged} unchanged, "
               f"{len(report.rejected)} rejected (encoding {report.encoding})")
    for row in report.rejected:
        click.echo(f"  line {row.line}: {row.field}: {row.reason}")
    return OK if not report.rejected else FAILED
