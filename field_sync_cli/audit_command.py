"""``field-sync audit verify``: recompute the audit log's chain, and check it reaches the newest
checkpoint the registry recorded and any checkpoint given (kept by a supervisor, a tablet or
an export), each signed by the registry key: the one pinned, or one the hand-overs kept beside
the registry's key file lead to from it (by default, any key the registry has had).

Exit status: 0 intact; 1 broken (the first bad entry, or the checkpoint it fails, is named);
3 the database, the checkpoint or the registry key could not be read. A database that does not
exist is never made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
import msgspec
from sqlmodel import Session

from field_sync.registry_pin import RegistryPin
from field_sync_cli.database_commands import existing_database
from field_sync_cli.errors import FAILED, OK, Unreachable
from field_sync_cli.pinning import PIN_VARIABLE, PinUnreadable, configured_pin
from schemas.signing import AuditCheckpoint, KeyHandover
from server.authority.audit import AuditBreak, verify_chain
from server.authority.audit_anchor import check_checkpoint, newest_checkpoint
from server.authority.key_ring import KeyRing
from server.authority.keys import read_registry_public_key
from server.config import ServerConfig
from server.data.database import Database

__all__ = ["run_audit_verify"]


def _checkpoint(given: str) -> AuditCheckpoint:
    """A checkpoint from a file of its JSON, or from the JSON itself."""
    text = given.encode() if given.lstrip().startswith("{") else Path(given).read_bytes()
    try:
        return msgspec.json.decode(text, type=AuditCheckpoint)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise Unreachable(f"{given}: not an audit checkpoint ({exc})") from exc


def _pin(registry_key: str | None, key_file: Path) -> tuple[RegistryPin, list[KeyHandover]]:
    """The pinned key, else the registry's first key (its key file read, never made); and the
    hand-overs kept beside the key file."""
    ring = KeyRing(key_file)
    try:
        handovers = ring.recorded()
        pin = configured_pin(registry_key)
        if pin is None and (pem := read_registry_public_key(key_file)) is not None:
            pin = RegistryPin.of_key(handovers[0].previous_key if handovers else pem)
    except (PinUnreadable, ValueError) as exc:
        raise Unreachable(str(exc)) from exc
    if pin is None:
        raise Unreachable("no registry key to check the checkpoints against: give "
                          f"--registry-key FILE|FINGERPRINT or ${PIN_VARIABLE}")
    return pin, handovers


def _verify(session: Session, given: list[AuditCheckpoint],
            pin: Callable[[], tuple[RegistryPin, list[KeyHandover]]],
            ) -> tuple[int, AuditBreak | None, int]:
    """Entries checked, the first break, and the furthest checkpoint the log reaches."""
    count, broken = verify_chain(session)
    recorded = newest_checkpoint(session)
    anchors = [*given, *([recorded] if recorded else [])]
    if broken is None and anchors:
        pinned, handovers = pin()
        broken = next(filter(None, (check_checkpoint(session, anchor, pinned, handovers)
                                    for anchor in anchors)), None)
    return count, broken, max((anchor.seq for anchor in anchors), default=-1)


def run_audit_verify(db: str, data_dir: Path, checkpoint: str | None = None,
                     registry_key: str | None = None) -> int:
    """Verify the audit log and say so; ``Unreachable`` for what cannot be read.

    Args:
        db: the registry's database URL; empty means the data directory's SQLite file.
        data_dir: the registry's data directory, where its key file is by default.
        checkpoint: a checkpoint kept outside the registry: a file of its JSON, or the JSON.
        registry_key: the registry key to check checkpoints' signatures with (a PEM file or a
            fingerprint); None reads ``$FIELD_SYNC_REGISTRY_KEY_PIN``, then takes the
            registry's first key. The hand-overs beside the key file lead on from it.
    """
    config = ServerConfig(data_dir=data_dir, db_url=db)
    given = [_checkpoint(checkpoint)] if checkpoint else []
    database = Database(existing_database(config.database_url))
    try:
        with database.read() as session:
            count, broken, reached = _verify(session, given, lambda: _pin(registry_key,
                                                                          config.signing_key_file))
    finally:
        database.dispose()
    if broken is not None:
        click.echo(f"audit log BROKEN at entry {broken.seq}: {broken.reason}")
        return FAILED
    click.echo(f"audit log intact: {count} entries, every hash and every merged op checks "
               "out; " + (f"it reaches every checkpoint, the furthest at entry {reached}"
                          if reached >= 0 else "no checkpoint to check it against"))
    return OK
