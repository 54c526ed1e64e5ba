"""``field-sync admin rotate-registry-key``: hand the registry over to a new signing key.

Run on the registry's machine, with the registry's data directory (or its ``registry_key``
setting). The key in use is kept under its fingerprint, a new key is made and put in use, and
the outgoing key signs a hand-over naming it (``server.authority.key_ring``). Restart the registry
(every
process) to sign trust lists and checkpoints with the new key; tablets and verifiers pinned to
an earlier key follow the hand-overs it publishes.

Exit status: 0 rotated; 1 the key's files do not hold together (a key that cannot be read,
hand-overs that do not lead to the key in use); 3 there is no key to rotate.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from field_sync_cli.errors import Failed, Unreachable
from field_sync_cli.options import data_dir_option, option

__all__ = ["rotate_registry_key"]


@click.command("rotate-registry-key", epilog=(
    "Exit status: 0 rotated; 1 the key's files do not hold together; 3 no key to rotate."))
@data_dir_option
@option("--registry-key", "key_file", env="FIELD_SYNC_REGISTRY_KEY", default=None,
        type=click.Path(dir_okay=False, path_type=Path),
        show_default="DATA_DIR/registry-key.pem",
        help="The registry's signing key file, if the registry's setting names one.")
def rotate_registry_key(data_dir: Path, key_file: Path | None) -> None:
    """Hand the registry over to a new signing key. The key in use signs the hand-over and is
    kept; restart the registry to sign with the new one."""
    from field_sync.keys import key_fingerprint, load_public_key
    from server.authority.key_ring import KeyRing, KeyRingError
    from server.config import ServerConfig

    path = ServerConfig(data_dir=data_dir, registry_key=key_file).signing_key_file
    if not path.is_file():
        raise Unreachable(f"no registry key at {path}: the registry makes it on first start "
                          "(give --data-dir or --registry-key)")
    ring = KeyRing(path)
    try:
        handover = ring.rotate(time.time_ns() // 1_000_000)
    except KeyRingError as exc:
        raise Failed(f"the registry key was not rotated: {exc}") from exc
    outgoing, incoming = (key_fingerprint(load_public_key(pem))
                          for pem in (handover.previous_key, handover.next_key))
    at = dt.datetime.fromtimestamp(handover.at_ms / 1000, dt.UTC).isoformat(timespec="seconds")
    click.echo(f"registry key handed over at {at}\n"
               f"  outgoing   {outgoing} (kept in {ring.kept_path(outgoing)})\n"
               f"  incoming   {incoming} (in use: {path})\n"
               f"  hand-over  {ring.handovers_path}\n"
               "Restart the registry (every process) to sign with the new key, and publish its "
               "fingerprint; verifiers pinned to an earlier key follow the hand-overs.")
