"""``field-sync verify``: the verdict on a seal, from a QR image or its text.

Offline with ``--trust-list FILE`` (a cached, registry-signed list), which needs the agency's
registry key pinned (``--registry-key`` or ``$FIELD_SYNC_REGISTRY_KEY_PIN``: a PEM file or the
key's fingerprint): a list that key did not sign gives ``untrusted``. With ``--server URL`` it
also asks the registry whether the protocol is registered, superseded or annulled, and fetches
the trust list if none was given; with no key pinned, the verdict is then the registry's own
word, and the command says so. Exit status 0 only for a genuine seal, 1 for any other verdict,
2 for an offline verdict asked without a pinned key, 3 when the seal, the trust list, the pin
or the registry could not be read or reached.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TypeVar

import click
import httpx
import msgspec

from field_sync.registry_pin import RegistryPin
from field_sync.seal import PREFIX, seal_address
from field_sync.verify import VERIFIED, Verdict, verify_offline, verify_seal
from field_sync_cli.admin_client import read_answer
from field_sync_cli.errors import Unreachable
from field_sync_cli.pinning import PIN_VARIABLE, PinUnreadable, configured_pin
from schemas.signing import RegistryKey, TrustList

__all__ = ["read_qr_image", "run_verify"]

T = TypeVar("T")
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


def _fetch(server: str, path: str, kind: type[T], params: dict[str, str] | None = None) -> T:
    return read_answer(httpx.get(f"{server}{path}", params=params, headers=_JSON, timeout=30),
                       kind)


def _trust_list(file: str | None, server: str | None) -> TrustList:
    if file:
        try:
            return msgspec.json.decode(Path(file).read_bytes(), type=TrustList)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise Unreachable(f"{file}: not a trust list ({exc})") from exc
    if server:
        return _fetch(server, "/v1/trust-list", TrustList)
    raise click.UsageError("give --trust-list FILE (offline) or --server URL")


def _pin(registry_key: str | None, server: str | None) -> tuple[RegistryPin, str]:
    """The registry key to trust, and what to say of it: the pinned one, else (online only)
    the one the server names."""
    try:
        pin = configured_pin(registry_key)
    except PinUnreadable as exc:
        raise Unreachable(str(exc)) from exc
    if pin is not None:
        return pin, f"the pinned registry key {pin.fingerprint}"
    if server is None:
        raise click.UsageError("an offline verdict needs the agency's registry key pinned: "
                               f"--registry-key FILE|FINGERPRINT or ${PIN_VARIABLE}")
    # No pin: the key is whatever the server says, so the verdict is the server's word.
    named = _fetch(server, "/v1/registry-key", RegistryKey)
    return (RegistryPin(named.fingerprint),
            f"the registry's own word, online ({server}); no registry key pinned")


def _registry_word(server: str, text: str, trusted: TrustList) -> Verdict:
    """The verdict once the registry said what it holds of the seal; the claim stays the one
    verified here."""
    address = seal_address(text)
    remote = _fetch(server, f"/v1/verify/{text.rsplit('/', 1)[-1]}", Verdict,
                    {"address": address} if address else None)
    if remote.verdict == "genuine":
        return verify_seal(text, trusted, "registered", remote.registry_number)
    if remote.verdict in ("not_registered", "superseded", "annulled"):
        return verify_seal(text, trusted, remote.verdict, remote.registry_number,
                           remote.superseded_by)
    return Verdict(remote.verdict, remote.reason)


def _print(verdict: Verdict, trusted_by: str) -> None:
    click.echo(f"verdict: {verdict.verdict.upper().replace('_', ' ')} — {verdict.reason}")
    click.echo(f"  {'trusted by':<15} {trusted_by}")
    claim = verdict.claim
    if claim is None or verdict.verdict not in VERIFIED:  # nothing a forger wrote
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
               registry_key: str | None) -> int:
    """Print the verdict; 0 only for genuine.

    Args:
        source: a QR image, a file holding the seal's text, or the text itself.
        trust_list_file: a cached trust list (JSON), for an offline verdict.
        server: the registry to ask (and to fetch the trust list from, if none is given).
        registry_key: the pinned registry key, a PEM file or a fingerprint; None reads
            ``$FIELD_SYNC_REGISTRY_KEY_PIN``.
    """
    text = _seal_text(source)
    trusted = _trust_list(trust_list_file, server)
    pin, trusted_by = _pin(registry_key, server)
    verdict = verify_offline(text, trusted, pin)
    if server and verdict.genuine:
        verdict = _registry_word(server, text, trusted)
    _print(verdict, trusted_by)
    return 0 if verdict.genuine else 1
