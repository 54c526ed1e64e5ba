"""``field-sync admin import FILE``: load reference data into a running registry."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import msgspec

from server.config import default_data_dir
from server.importer import ImportReport

__all__ = ["admin_token", "run_import"]


def admin_token(given: str | None) -> str:
    """The administrator token: given, ``$FIELD_SYNC_ADMIN_TOKEN``, or the server's file."""
    if given:
        return given
    if os.environ.get("FIELD_SYNC_ADMIN_TOKEN"):
        return os.environ["FIELD_SYNC_ADMIN_TOKEN"]
    path = default_data_dir() / "admin-token"
    if path.exists():
        return path.read_text().strip()
    raise SystemExit("give --admin-token, set FIELD_SYNC_ADMIN_TOKEN, or run on the server")


def run_import(file: str, kind: str, server: str, token: str | None) -> int:
    """Upload ``file`` (CSV or JSON lines, by its suffix) and print the report; 0 when every
    row was stored or already there."""
    path = Path(file)
    fmt = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    response = httpx.post(
        f"{server.rstrip('/')}/v1/admin/import", params={"kind": kind, "format": fmt},
        content=path.read_bytes(), timeout=300,
        headers={"Authorization": f"Bearer {admin_token(token)}", "Accept": "application/json",
                 "Content-Type": "text/csv" if fmt == "csv" else "application/jsonl"})
    if response.status_code >= 400:
        print(f"import refused: {response.status_code} {response.text}")
        return 1
    report = msgspec.json.decode(response.content, type=ImportReport)
    print(f"{path.name}: {report.stored} stored, {report.unchanged} unchanged, "
          f"{len(report.rejected)} rejected (encoding {report.encoding})")
    for row in report.rejected:
        print(f"  line {row.line}: {row.field}: {row.reason}")
    return 0 if not report.rejected else 1
