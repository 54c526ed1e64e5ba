"""Where the registry keeps evidence files: a small interface, and its embedded backend, a
directory beside the database.

Every backend keeps a file under its SHA-256 and never holds a whole file in memory:

- ``put`` streams a file in, checking its size and hash on the way; nothing is kept under the
  hash unless both hold, and a file already there stays as it is;
- ``put_file`` keeps a file the caller has checked already (an upload staged on disk: the
  directory backend moves it with one rename);
- ``get`` streams a file out, from a byte offset (a download that goes on after a cut);
- ``has`` and ``size`` answer without reading it.

``DirectoryBlobStore`` writes each file to a temporary file in the same folder, makes it
durable, and renames it into place (``ab/abcdef…``), so a file under a hash is always whole,
and several server processes on one machine share the folder safely. For several machines,
``server.blobs.blobstore_s3.S3BlobStore`` keeps them in an S3-compatible bucket.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

__all__ = ["CHUNK", "BlobMismatch", "BlobStore", "DirectoryBlobStore", "sync_folder"]

CHUNK = 256 * 1024
"""Bytes read or written at a time."""


class BlobMismatch(ValueError):
    """Bytes that are not the file they were said to be (another size, another hash)."""


class BlobStore(Protocol):
    """Evidence files by SHA-256."""

    def put(self, sha256: str, size: int, chunks: Iterable[bytes]) -> None:
        """Keep ``chunks`` under ``sha256``; ``BlobMismatch`` (and nothing kept) unless they
        are ``size`` bytes whose SHA-256 is ``sha256``."""
        ...

    def put_file(self, sha256: str, size: int, path: Path) -> None:
        """Keep the file at ``path``, whose size and hash the caller checked; the file is
        moved or copied (it is gone from ``path`` after, or the caller removes it)."""
        ...

    def get(self, sha256: str, start: int = 0) -> Iterator[bytes]:
        """The file's bytes from ``start``, a chunk at a time; ``KeyError`` when it is not
        kept."""
        ...

    def has(self, sha256: str) -> bool:
        """Whether the file is kept."""
        ...

    def size(self, sha256: str) -> int | None:
        """The file's size in bytes, or None when it is not kept."""
        ...


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class DirectoryBlobStore:
    """Files under ``root``, each named by its hash (the embedded default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._scratch = self.root / ".tmp"
        self._scratch.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise KeyError(sha256)  # never a path built from anything but a hash
        return self.root / sha256[:2] / sha256

    def put(self, sha256: str, size: int, chunks: Iterable[bytes]) -> None:
        """See ``BlobStore.put``."""
        final = self._path(sha256)
        scratch = self._scratch / secrets.token_hex(8)
        digest, written = hashlib.sha256(), 0
        try:
            with scratch.open("wb") as out:
                for chunk in chunks:
                    written += len(chunk)
                    if written > size:
                        raise BlobMismatch(f"more than the {size} bytes declared")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if written != size or digest.hexdigest() != sha256:
                raise BlobMismatch(f"{written} bytes hashing to {digest.hexdigest()}, not "
                                   f"{size} bytes hashing to {sha256}")
            self._move_in(scratch, final)
        finally:
            scratch.unlink(missing_ok=True)

    def put_file(self, sha256: str, size: int, path: Path) -> None:
        """See ``BlobStore.put_file``: one rename when ``path`` is on this store's file
        system, a checked copy otherwise."""
        final = self._path(sha256)
        if path.stat().st_dev != self.root.stat().st_dev:
            with path.open("rb") as source:
                self.put(sha256, size, iter(lambda: source.read(CHUNK), b""))
            return
        self._move_in(path, final)

    def _move_in(self, path: Path, final: Path) -> None:
        if final.exists():
            return  # the same bytes, from another upload
        final.parent.mkdir(exist_ok=True)
        os.replace(path, final)
        sync_folder(final.parent)

    def get(self, sha256: str, start: int = 0) -> Iterator[bytes]:
        """See ``BlobStore.get``."""
        try:
            file = self._path(sha256).open("rb")
        except FileNotFoundError:
            raise KeyError(sha256) from None
        return _read_from(file, start)

    def has(self, sha256: str) -> bool:
        """See ``BlobStore.has``."""
        try:
            return self._path(sha256).exists()
        except KeyError:
            return False

    def size(self, sha256: str) -> int | None:
        """See ``BlobStore.size``."""
        try:
            return self._path(sha256).stat().st_size
        except (KeyError, FileNotFoundError):
            return None


def _read_from(file: BinaryIO, start: int) -> Iterator[bytes]:
    """The chunks of an open file from ``start``; the file is closed when they end (or when
    the iterator is dropped)."""
    try:
        file.seek(start)
        while chunk := file.read(CHUNK):
            yield chunk
    finally:
        file.close()
