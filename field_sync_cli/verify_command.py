"""``field-sync verify``: the verdict on a seal, from a QR image or its text.

Offline with ``--trust-list FILE`` (a cached, registry-signed list); with ``--server URL`` it
also asks the registry whether the protocol is registered, superseded or annulled (and fetches
the trust list if none was given). Exit status 0 only for a genuine seal.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import msgspec

from field_sync.seal import PREFIX
from field_sync.verify import Verdict, trust_list_is_signed, verify_seal
from schemas.signing import TrustList

__all__ = ["read_qr_image", "run_verify"]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}


def read_qr_image(path: Path) -> str:
    """The text of the QR code in an image (decoded with zxing-cpp)."""
    import zxingcpp
    from PIL import Image

    with Image.open(path) as image:
        found = zxingcpp.read_barcodes(image)
    if not found:
        raise SystemExit(f"no QR code found in {path}")
    return str(found[0].text)


def _seal_text(source: str) -> str:
    path = Path(source)
    if path.suffix.lower() in _IMAGE_SUFFIXES and path.exists():
        return read_qr_image(path)
    if PREFIX not in source and path.exists():
        return path.read_text().strip()
    return source.strip()


def _print(verdict: Verdict) -> None:
    print(f"verdict: {verdict.verdict.upper().replace('_', ' ')} — {verdict.reason}")
    claim = verdict.claim
    if claim is None:
        return
    signed = dt.datetime.fromtimestamp(claim.signed_at, dt.timezone(dt.timedelta(hours=5)))
    for label, value in (("protocol", claim.protocol_id), ("number", claim.number),
                         ("registry no.", verdict.registry_number), ("kind", claim.kind),
                         ("entity STIR", claim.entity), ("result", claim.result),
                         ("signed", signed.isoformat()),
                         ("inspector", verdict.key.inspector_id if verdict.key else ""),
                         ("content sha256", claim.content_hash)):
        if value:
            print(f"  {label:<15} {value}")


def run_verify(source: str, trust_list_file: str | None, server: str | None,
               registry_key_file: str | None) -> int:
    """Print the verdict; 0 only for genuine."""
    text = _seal_text(source)
    pinned = Path(registry_key_file).read_text() if registry_key_file else None
    if trust_list_file:
        trusted = msgspec.json.decode(Path(trust_list_file).read_bytes(), type=TrustList)
    elif server:
        trusted = msgspec.json.decode(httpx.get(f"{server.rstrip('/')}/v1/trust-list",
                                                headers={"Accept": "application/json"},
                                                timeout=30).content, type=TrustList)
    else:
        raise SystemExit("give --trust-list FILE (offline) or --server URL")
    if not trust_list_is_signed(trusted, pinned):
        print("verdict: UNTRUSTED — the trust list's signature does not verify")
        return 1
    verdict = verify_seal(text, trusted)
    if server and verdict.genuine:
        answer = httpx.get(f"{server.rstrip('/')}/v1/verify/{text.rsplit('/', 1)[-1]}",
                           headers={"Accept": "application/json"}, timeout=30)
        verdict = msgspec.json.decode(answer.content, type=Verdict)
    _print(verdict)
    return 0 if verdict.genuine else 1
