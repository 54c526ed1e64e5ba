"""``field-sync render PROTOCOL_ID --lang ru --out file.pdf``: the printed protocol, as the
registry renders it (the same bytes the tablet makes offline).

Exit codes: 0 written; 1 the registry refused (not allowed, or no such protocol in reach);
2 usage (an unknown language); 3 the registry or the output file could not be reached.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from field_sync.i18n import LANGUAGES

__all__ = ["render"]


def _say(text: str) -> None:
    print(f"field-sync render: {text}", file=sys.stderr)


def render(protocol_id: str, lang: str, out: Path, server: str, token: str) -> int:
    """Fetch ``protocol_id``'s printed protocol in ``lang`` from ``server`` with ``token`` (an
    administrator's, a supervisor's or a device's) and write it to ``out``; the exit code."""
    if lang not in LANGUAGES:
        _say(f"unknown language {lang!r}; one of {', '.join(LANGUAGES)}")
        return 2
    url = f"{server.rstrip('/')}/v1/protocols/{protocol_id}/document.pdf"
    try:
        response = httpx.get(url, params={"lang": lang}, timeout=60,
                             headers={"Authorization": f"Bearer {token}",
                                      "Accept": "application/pdf"})
    except httpx.HTTPError as exc:
        _say(f"could not reach the registry at {server}: {exc}")
        return 3
    if response.status_code != 200 or response.headers.get("content-type") != "application/pdf":
        detail = response.json().get("detail", "") if "json" in response.headers.get(
            "content-type", "") else response.text[:200]
        _say(f"the registry refused: {response.status_code} {detail}")
        return 1
    try:
        out.write_bytes(response.content)
    except OSError as exc:
        _say(f"could not write {out}: {exc.strerror or exc}")
        return 3
    print(f"{out}: {len(response.content)} bytes, {lang}")
    return 0
