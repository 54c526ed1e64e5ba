"""Devices' credentials as each registry process keeps them in memory: every device's token
hash, and the trust list signed with its entity tag, built once per change.

Any transaction that writes a device or a device key through a session (enrollment, key
rotation, revocation, suspension: they all do) moves the credentials' generation
(``server.data.tables.CredentialsGeneration``) in the same transaction. Each request reads that row
(one statement on its primary key, whatever the fleet's size) and, when it moved, drops what the
process kept. So a device revoked in one worker is refused by every worker at its next request,
and a trust list still current is answered ``304`` after that one read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, insert, select, update
from sqlalchemy.orm import Session as OrmSession

from schemas.signing import TrustList
from server.data.tables import CredentialsGeneration, DeviceKeyRow, DeviceRow

__all__ = ["Credentials", "KnownDevice", "ListedKeys", "add_generation"]

_GENERATION = CredentialsGeneration.__table__  # type: ignore[attr-defined]  # SQLModel's table
_READ = select(_GENERATION.c.value).where(_GENERATION.c.id == 1)
_MOVE = update(_GENERATION).where(_GENERATION.c.id == 1).values(value=_GENERATION.c.value + 1)
_CREDENTIALS = (DeviceRow, DeviceKeyRow)


@event.listens_for(OrmSession, "before_flush")
def _moved(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Move the generation in a transaction that writes a device or a device key."""
    if any(isinstance(row, _CREDENTIALS) for row in (*session.new, *session.deleted)) or any(
            isinstance(row, _CREDENTIALS) and session.is_modified(row) for row in session.dirty):
        session.connection().execute(_MOVE)


def add_generation(session: OrmSession) -> None:
    """Make the generation's row if the database has none (``Database.create_schema``)."""
    if session.connection().execute(_READ).first() is None:
        session.connection().execute(insert(_GENERATION).values(id=1, value=0))


@dataclass
class KnownDevice:
    """What authenticating a device needs of its row."""

    token_hash: str
    inspector_id: str
    revoked: bool
    last_seen_ms: int


@dataclass(frozen=True)
class ListedKeys:
    """The trust list for one public address: unsigned (what seals are checked against), signed
    (what is sent), and its entity tag."""

    unsigned: TrustList
    signed: TrustList
    tag: str


class Credentials:
    """What one process keeps of devices' credentials, for as long as the generation holds.

    Args:
        reader: the engine the generation is read on (a connection of its pool a read).
    """

    def __init__(self, reader: Engine) -> None:
        self._reader = reader
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._devices: dict[str, KnownDevice] = {}
        self._lists: dict[str, ListedKeys] = {}

    def _current(self) -> int | None:
        """The generation now (None: the database has no such row, nothing is kept); what was
        kept under another is dropped."""
        with self._reader.connect() as connection:
            generation = connection.execute(_READ).scalar()
        with self._lock:
            if generation is None or generation != self._generation:
                self._devices, self._lists = {}, {}
                self._generation = generation
        return generation

    def device(self, device_id: str,
               read: Callable[[str], KnownDevice | None]) -> KnownDevice | None:
        """The device ``device_id`` as kept, else as ``read`` finds it (None: unknown)."""
        # The generation first: a row read after it is at least as new as the generation.
        generation = self._current()
        known = self._devices.get(device_id)
        if known is not None:
            return known
        known = read(device_id)
        with self._lock:  # an unknown id is not kept: anyone may send any number of them
            if known is not None and generation is not None and generation == self._generation:
                self._devices[device_id] = known
        return known

    def trust_list(self, public_url: str, build: Callable[[str], ListedKeys]) -> ListedKeys:
        """The trust list for ``public_url`` as kept, else as ``build`` makes it."""
        generation = self._current()
        listed = self._lists.get(public_url)
        if listed is not None:
            return listed
        listed = build(public_url)
        with self._lock:
            if generation is not None and generation == self._generation:
                self._lists[public_url] = listed
        return listed
