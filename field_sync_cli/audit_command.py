"""``field-sync audit verify``: recompute the audit log's chain, and check it reaches the newest
checkpoint the registry recorded and any checkpoint given (kept by a supervisor, a tablet or
an export).

Exit status: 0 intact; 1 broken (the first bad entry, or the checkpoint it fails, is named);
3 the database, the checkpoint or the registry key could not be read. A database that does not
exist is never made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import msgspec
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from field_sync.registry_pin import RegistryPin
from field_sync_cli.pinning import PIN_VARIABLE, PinUnreadable, configured_pin
from schemas.signing import AuditCheckpoint
from server.audit import AuditBreak, verify_chain
from server.audit_anchor import check_checkpoint, newest_checkpoint
from server.database import Database
from server.keys import read_registry_public_key

__all__ = ["run_audit_verify"]

INTACT, BROKEN, UNREADABLE = 0, 1, 3


class _Unreadable(Exception):
    """What was named cannot be read: the one line to print."""


def _checkpoint(given: str) -> AuditCheckpoint:
    """A checkpoint from a file of its JSON, or from the JSON itself."""
    path = Path(given)
    try:
        text = path.read_bytes() if not given.lstrip().startswith("{") else given.encode()
    except OSError as exc:
        raise _Unreadable(f"cannot read the checkpoint {given}: {exc.strerror}") from exc
    try:
        return msgspec.json.decode(text, type=AuditCheckpoint)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise _Unreadable(f"{given} is not an audit checkpoint: {exc}") from exc


def _pin(registry_key: str | None, data_dir: Path) -> RegistryPin:
    """The pinned key, else the registry's own key file in the data directory (read, never
    made)."""
    try:
        pin = configured_pin(registry_key)
        if pin is None and (pem := read_registry_public_key(data_dir)) is not None:
            pin = RegistryPin.of_key(pem)
    except (PinUnreadable, ValueError, OSError) as exc:
        raise _Unreadable(str(exc)) from exc
    if pin is None:
        raise _Unreadable("no registry key to check the checkpoints against: give "
                          f"--registry-key FILE|FINGERPRINT or ${PIN_VARIABLE}")
    return pin


def _open(database_url: str) -> Database:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise _Unreadable(f"no registry database at {url.database or database_url}")
    return Database(database_url)


def _verify(session: Session, given: list[AuditCheckpoint],
            pin: Callable[[], RegistryPin]) -> tuple[int, AuditBreak | None, int]:
    """Entries checked, the first break, and the furthest checkpoint the log reaches."""
    count, broken = verify_chain(session)
    recorded = newest_checkpoint(session)
    anchors = [*given, *([recorded] if recorded else [])]
    if broken is None and anchors:
        pinned = pin()
        broken = next(filter(None, (check_checkpoint(session, anchor, pinned)
                                    for anchor in anchors)), None)
    return count, broken, max((anchor.seq for anchor in anchors), default=-1)


def run_audit_verify(database_url: str, data_dir: Path, checkpoint: str | None = None,
                     registry_key: str | None = None) -> int:
    """Verify the audit log; print one line and return the exit status.

    Args:
        database_url: the registry's database.
        data_dir: the registry's data directory: its key file is the default registry key.
        checkpoint: a checkpoint kept outside the registry: a file of its JSON, or the JSON.
        registry_key: the registry key to check checkpoints' signatures with (a PEM file or a
            fingerprint); None reads ``$FIELD_SYNC_REGISTRY_KEY_PIN``, then the data directory.
    """
    try:
        given = [_checkpoint(checkpoint)] if checkpoint else []
        database = _open(database_url)
        try:
            with database.read() as session:
                count, broken, reached = _verify(session, given,
                                                 lambda: _pin(registry_key, data_dir))
        except SQLAlchemyError as exc:
            raise _Unreadable(f"cannot read the audit log: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0]}") from exc
        finally:
            database.dispose()
    except _Unreadable as exc:
        print(f"field-sync audit verify: {exc}", file=sys.stderr)
        return UNREADABLE
    if broken is not None:
        print(f"audit log BROKEN at entry {broken.seq}: {broken.reason}")
        return BROKEN
    print(f"audit log intact: {count} entries, every hash and every merged op checks out; " +
          (f"it reaches every checkpoint, the furthest at entry {reached}" if reached >= 0
           else "no checkpoint to check it against"))
    return INTACT
