"""The tablet's evidence files, content-addressed, in a folder beside its SQLite file.

A file is kept under its SHA-256 (``<tablet file>.blobs/ab/abcdef…``), so a photo attached
twice is stored once. It is written to a temporary file first, made durable, then renamed into
place: a file under a hash is always whole. The tablet's SQLite file says what each file is
(``blob``) and which protocols name it (``blob_use``):

- ``own`` files were attached on this tablet: never evicted, and uploaded to the registry
  (``client_lib.uploads``) until it says it holds them (``at_registry``);
- ``pulled`` files were fetched from the registry when someone opened a teammate's photo:
  evicted, least recently opened first, when they take more than the tablet's budget.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import IOBase
from pathlib import Path
from typing import IO, cast

from client_lib.store import DeviceStore

__all__ = ["DEFAULT_PULLED_BUDGET", "BlobFolder", "Incoming", "OwnBlob"]

DEFAULT_PULLED_BUDGET = 512 * 1024 * 1024
"""How many bytes of pulled files a tablet keeps by default."""
CHUNK = 256 * 1024
"""Bytes read or written at a time: a file is never held whole in memory."""

Source = bytes | Path | IO[bytes] | Iterable[bytes]
"""A file's bytes: in memory, at a path, in an open binary file, or as chunks."""


@dataclass(frozen=True)
class Incoming:
    """A file received into the folder's scratch space, not yet kept under its hash."""

    path: Path
    sha256: str
    size: int
    head: bytes
    """Its first bytes, for sniffing its media type."""


@dataclass(frozen=True)
class OwnBlob:
    """A file attached on this tablet that the registry has not confirmed yet."""

    sha256: str
    size: int
    media_type: str
    docs: tuple[str, ...]
    """The protocols that name it (an upload names one of them)."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _chunks(source: Source) -> Iterator[bytes]:
    if isinstance(source, bytes):
        for start in range(0, len(source), CHUNK):
            yield source[start:start + CHUNK]
    elif isinstance(source, Path):
        with source.open("rb") as opened:
            yield from iter(lambda: opened.read(CHUNK), b"")
    elif isinstance(source, IOBase) or hasattr(source, "read"):
        given = cast("IO[bytes]", source)
        yield from iter(lambda: given.read(CHUNK), b"")
    else:
        yield from source


class BlobFolder:
    """The files of one tablet. ``budget_bytes`` bounds the pulled files kept."""

    def __init__(self, store: DeviceStore, budget_bytes: int = DEFAULT_PULLED_BUDGET) -> None:
        self.store = store
        self.root = store.path.with_name(store.path.name + ".blobs")
        self.budget_bytes = budget_bytes

    def file(self, sha256: str) -> Path:
        """Where the file with this hash is (or would be) kept."""
        return self.root / sha256[:2] / sha256

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def receive(self, source: Source) -> Iterator[Incoming]:
        """Copy ``source`` (bytes, a path, a binary file, or chunks) to scratch space while
        hashing it; the scratch copy is removed on leaving unless ``keep`` took it."""
        scratch = self.root / ".incoming"
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / secrets.token_hex(8)
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            with path.open("wb") as out:
                for chunk in _chunks(source):
                    digest.update(chunk)
                    out.write(chunk)
                    if len(head) < 16:
                        head += chunk[:16 - len(head)]
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            yield Incoming(path, digest.hexdigest(), size, head)
        finally:
            path.unlink(missing_ok=True)

    def keep(self, incoming: Incoming, media_type: str, origin: str, doc: str = "") -> Path:
        """Move a received file under its hash (atomically; a file already there stays) and
        record it. A pulled file attached here becomes this tablet's own."""
        final = self.file(incoming.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        if not final.exists():
            os.replace(incoming.path, final)
            _sync_folder(final.parent)
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO blob (hash, size, media_type, origin, used_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET "
                "origin = CASE WHEN excluded.origin = 'own' THEN 'own' ELSE blob.origin END, "
                "used_at = excluded.used_at",
                (incoming.sha256, incoming.size, media_type, origin, _now_ms()))
            if doc:
                db.execute("INSERT OR IGNORE INTO blob_use (hash, doc) VALUES (?, ?)",
                           (incoming.sha256, doc))
        return final

    # -- reading ---------------------------------------------------------------------------

    def open_path(self, sha256: str) -> Path | None:
        """The kept file with this hash, marked as just used; None when not on the tablet."""
        final = self.file(sha256)
        if not final.exists():
            return None
        with self.store.transaction() as db:
            db.execute("UPDATE blob SET used_at = ? WHERE hash = ?", (_now_ms(), sha256))
        return final

    def unconfirmed(self) -> list[OwnBlob]:
        """This tablet's files the registry has not said it holds, oldest first."""
        rows = self.store.rows(
            "SELECT blob.hash, size, media_type, group_concat(doc, ' ') FROM blob "
            "JOIN blob_use USING (hash) WHERE origin = 'own' AND at_registry = 0 "
            "GROUP BY blob.hash ORDER BY min(blob.rowid)")
        return [OwnBlob(sha256, size, media_type, tuple(docs.split()))
                for sha256, size, media_type, docs in rows]

    def confirmed(self, hashes: Iterable[str]) -> set[str]:
        """Which of ``hashes`` the registry is known to hold."""
        wanted = list(hashes)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            marks = ", ".join("?" * len(part))
            found.update(sha256 for (sha256,) in self.store.rows(
                f"SELECT hash FROM blob WHERE at_registry = 1 AND hash IN ({marks})",  # noqa: S608
                tuple(part)))
        return found

    def mark_at_registry(self, hashes: Iterable[str]) -> None:
        """Record that the registry holds these files."""
        with self.store.transaction() as db:
            db.executemany("UPDATE blob SET at_registry = 1 WHERE hash = ?",
                           [(sha256,) for sha256 in hashes])

    # -- the budget ------------------------------------------------------------------------

    def pulled_bytes(self) -> int:
        """Bytes of pulled files on the tablet."""
        return int(self.store.rows(
            "SELECT coalesce(sum(size), 0) FROM blob WHERE origin = 'pulled'")[0][0])

    def evict(self, keep: str = "") -> list[str]:
        """Remove pulled files, least recently used first, until they fit the budget (never
        ``keep``, the one just opened); return the hashes removed."""
        over = self.pulled_bytes() - self.budget_bytes
        removed: list[str] = []
        if over <= 0:
            return removed
        for sha256, size in self.store.rows(
                "SELECT hash, size FROM blob WHERE origin = 'pulled' AND hash != ? "
                "ORDER BY used_at, hash", (keep,)):
            if over <= 0:
                break
            with self.store.transaction() as db:  # the row first: a file half gone is refetched
                db.execute("DELETE FROM blob WHERE hash = ? AND origin = 'pulled'", (sha256,))
            self.file(sha256).unlink(missing_ok=True)
            removed.append(sha256)
            over -= size
        return removed


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
