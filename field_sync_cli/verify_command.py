"""``field-sync verify``: the verdict on a seal, from a QR image or its text.

Offline with ``--trust-list FILE`` (a cached, registry-signed list), which needs the agency's
registry key pinned (``--registry-key`` or ``$FIELD_SYNC_REGISTRY_KEY_PIN``: a PEM file or the
key's fingerprint): a list that key did not sign gives ``untrusted``. With ``--server URL`` it
also asks the registry whether the protocol is registered, superseded or annulled, and fetches
the trust list if none was given; with no key pinned, that answer is the registry's own word
and the command says so. Exit status 0 only for a genuine seal; 2 for an offline verdict
asked without a pinned key; 3 for a pin that cannot be read.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TypeVar

import httpx
import msgspec

from field_sync.registry_pin import RegistryPin
from field_sync.seal import PREFIX, seal_address
from field_sync.verify import VERIFIED, Verdict, verify_offline, verify_seal
from field_sync_cli.pinning import PIN_VARIABLE, PinUnreadable, configured_pin
from schemas.signing import RegistryKey, TrustList

__all__ = ["read_qr_image", "run_verify"]

T = TypeVar("T")
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
    if PREFIX not in source.upper() and path.exists():
        return path.read_text().strip()
    return source.strip()


def _print(verdict: Verdict, trusted_by: str) -> None:
    print(f"verdict: {verdict.verdict.upper().replace('_', ' ')} — {verdict.reason}")
    print(f"  {'trusted by':<15} {trusted_by}")
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
            print(f"  {label:<15} {value}")


def _fetch(server: str, path: str, kind: type[T], params: dict[str, str] | None = None) -> T:
    answer = httpx.get(f"{server.rstrip('/')}{path}", params=params,
                       headers={"Accept": "application/json"}, timeout=30)
    return msgspec.json.decode(answer.content, type=kind)


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
    if not trust_list_file and not server:
        print("field-sync verify: give --trust-list FILE (offline) or --server URL",
              file=sys.stderr)
        return 2
    try:
        pin = configured_pin(registry_key)
    except PinUnreadable as exc:
        print(f"field-sync verify: {exc}", file=sys.stderr)
        return 3
    if pin is not None:
        trusted_by = f"the pinned registry key {pin.fingerprint}"
    elif server:
        # No pin: the key is whatever the server says, so the verdict is the server's word.
        trusted_by = f"the registry's own word, online ({server}); no registry key pinned"
        pin = RegistryPin(_fetch(server, "/v1/registry-key", RegistryKey).fingerprint)
    else:
        print("field-sync verify: an offline verdict needs the agency's registry key pinned: "
              f"--registry-key FILE|FINGERPRINT or ${PIN_VARIABLE}", file=sys.stderr)
        return 2
    text = _seal_text(source)
    trusted = (msgspec.json.decode(Path(trust_list_file).read_bytes(), type=TrustList)
               if trust_list_file else _fetch(str(server), "/v1/trust-list", TrustList))
    verdict = verify_offline(text, trusted, pin)
    if server and verdict.genuine:
        verdict = _registry_word(server, text, trusted)
    _print(verdict, trusted_by)
    return 0 if verdict.genuine else 1
