"""Uploads under way: the bytes of each file received so far, kept on disk until it is whole.

A file being uploaded is ``<blob folder>/incoming/<sha256>.part``; its size is how far the
upload got, the offset a device resumes from after a cut connection or a restarted registry
(nothing received is lost: every chunk is written as it arrives). One upload of a file at a time,
across the server processes of one machine: an upload holds an exclusive lock on its part file,
and a second one is refused (``upload_busy``) until the first is over. The file's SHA-256 is
computed as the bytes arrive (over the part already there first, after a resume), so a file is
checked when its last byte lands, without reading it again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.blobs.blobstore import CHUNK

__all__ = ["Staging", "StagingBusy", "Upload"]


class StagingBusy(Exception):
    """Another upload of the same file is under way."""


class Upload:
    """One upload of a file, holding its part file's lock."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor = descriptor
        self._digest = hashlib.sha256()
        self.offset = 0
        while chunk := os.read(descriptor, CHUNK):  # what earlier uploads left, hashed once
            self._digest.update(chunk)
            self.offset += len(chunk)

    def append(self, chunk: bytes) -> None:
        """Write ``chunk`` at the end (to the operating system at once: a registry killed
        after this keeps it)."""
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._descriptor, view):]
        self._digest.update(chunk)
        self.offset += len(chunk)

    def sha256(self) -> str:
        """The SHA-256 of the bytes received, made durable first."""
        os.fsync(self._descriptor)
        return self._digest.hexdigest()

    def discard(self) -> None:
        """Forget the bytes received (a file refused): the next upload starts from the first
        byte."""
        os.ftruncate(self._descriptor, 0)
        self.path.unlink(missing_ok=True)
        self._digest, self.offset = hashlib.sha256(), 0

    def forget(self) -> None:
        """Remove the part file once the blob store kept the file (moved or copied it)."""
        self.path.unlink(missing_ok=True)


class Staging:
    """The uploads under way in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        return self.folder / f"{sha256}.part"

    def offset(self, sha256: str) -> int:
        """How many bytes of the file have been received (0 when none)."""
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError:
            return 0

    @contextmanager
    def open(self, sha256: str) -> Iterator[Upload]:
        """The upload of ``sha256``, locked for this caller; ``StagingBusy`` when another
        holds it. Its part file stays when left (an upload to go on), unless discarded."""
        path = self._path(sha256)
        while True:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise StagingBusy(sha256) from None
            # The upload that held the lock may have finished and removed the file in the
            # meantime: then this lock is on a file nobody will find; open the path anew.
            try:
                same = os.fstat(descriptor).st_ino == path.stat().st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(descriptor)
        try:
            yield Upload(path, descriptor)
        finally:
            os.close(descriptor)  # and with it the lock
