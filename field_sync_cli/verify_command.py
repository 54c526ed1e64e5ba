"""``field-sync verify``: the verdict on a seal, from a QR image or its text.

Offline with ``--trust-list FILE`` (a cached, registry-signed list); with ``--server URL`` it
also asks the registry whether the protocol is registered, superseded or annulled (and fetches
the trust list if none was given). Exit status 0 only for a genuine seal, 1 for any other
verdict, 3 when the seal, the trust list or the registry could not be read or reached.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click
import httpx
import msgspec

from field_sync.seal import PREFIX
from field_sync.verify import Verdict, trust_list_is_signed, verify_seal
from field_sync_cli.admin_client import read_answer
from field_sync_cli.errors import Unreachable
from schemas.signing import TrustList

__all__ = ["read_qr_image", "run_verify"]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}
_JSON = {"Accept": "application/json"}


def read_qr_image(path: Path) -> str:
    """The text of the QR code in an image (decoded with zxing-cpp)."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            found = zxingcpp.read_barcodes(image)
    except UnidentifiedImageError as exc:
        raise Unreachable(f"{path}: not an image (PNG, JPEG...) that can be read") from exc
    if not found:
        raise Unreachable(f"{path}: no QR code found in this image")
    return str(found[0].text)


def _seal_text(source: str) -> str:
    """The seal's text from an image of its QR, a file of its text, or the text itself (in any
    case: a phone may have lower-cased it)."""
    if not source.strip():
        raise click.UsageError("the seal is empty: give a QR image, a file with the seal's "
                               "text, or the text")
    if os.path.isfile(source):  # never raises, even on a seal too long to be a file name
        path = Path(source)
        if path.suffix.lower() in _IMAGE_SUFFIXES:
            return read_qr_image(path)
        try:
            source = path.read_text()
        except UnicodeDecodeError as exc:
            raise Unreachable(f"{path}: neither an image nor a seal's text") from exc
    elif PREFIX not in source.upper():
        raise Unreachable(f"{source}: no such file (and not a seal's text)")
    return source.strip().upper() if source.isascii() else source.strip()


def _trust_list(file: str | None, server: str | None) -> TrustList:
    if file:
        try:
            return msgspec.json.decode(Path(file).read_bytes(), type=TrustList)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise Unreachable(f"{file}: not a trust list ({exc})") from exc
    if server:
        return read_answer(httpx.get(f"{server}/v1/trust-list", headers=_JSON, timeout=30),
                           TrustList)
    raise click.UsageError("give --trust-list FILE (offline) or --server URL")


def _print(verdict: Verdict) -> None:
    click.echo(f"verdict: {verdict.verdict.upper().replace('_', ' ')} — {verdict.reason}")
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
            click.echo(f"  {label:<15} {value}")


def run_verify(source: str, trust_list_file: str | None, server: str | None,
               registry_key_file: str | None) -> int:
    """Print the verdict; 0 only for genuine."""
    text = _seal_text(source)
    pinned = Path(registry_key_file).read_text() if registry_key_file else None
    trusted = _trust_list(trust_list_file, server)
    if not trust_list_is_signed(trusted, pinned):
        click.echo("verdict: UNTRUSTED — the trust list's signature does not verify")
        return 1
    verdict = verify_seal(text, trusted)
    if server and verdict.genuine:
        answer = httpx.get(f"{server}/v1/verify/{text.rsplit('/', 1)[-1]}", headers=_JSON,
                           timeout=30)
        verdict = read_answer(answer, Verdict)
    _print(verdict)
    return 0 if verdict.genuine else 1
