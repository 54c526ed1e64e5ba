"""Thumbnails of evidence photos at the registry: made once from the file in the blob store, and
kept beside the files (``<blob dir>/thumbnails/<sha256>.jpg``, written atomically), for the
console and the printed protocol. A thumbnail is the same bytes the tablet makes
(``field_sync.thumbnails``), so both print the same protocol."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path

from field_sync.thumbnails import thumbnail
from schemas.attachments import Attachment
from server.blobs.blobstore import BlobStore

__all__ = ["Thumbnails"]

_SPOOL = 4 * 1024 * 1024
"""A photo up to this size is read into memory to be decoded; a larger one, to a scratch file."""


class Thumbnails:
    """The thumbnails of the photos in ``store``, cached in ``folder``."""

    def __init__(self, store: BlobStore, folder: Path) -> None:
        self.store = store
        self.folder = Path(folder)

    def of(self, sha256: str) -> bytes | None:
        """The thumbnail of the photo ``sha256``; None when the store does not hold it (or it
        is not an image that decodes)."""
        cached = self.folder / f"{sha256}.jpg"
        try:
            return cached.read_bytes()
        except FileNotFoundError:
            pass
        try:
            chunks = self.store.get(sha256)
        except KeyError:
            return None
        with tempfile.SpooledTemporaryFile(_SPOOL) as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.seek(0)
            try:
                made = thumbnail(spool)
            except (OSError, ValueError):
                return None
        self.folder.mkdir(parents=True, exist_ok=True)
        scratch = self.folder / f".{sha256}.{secrets.token_hex(4)}"
        scratch.write_bytes(made)
        os.replace(scratch, cached)
        return made

    def for_photos(self, attachments: Iterable[Attachment]) -> dict[str, bytes]:
        """The thumbnails of the photos among ``attachments`` the registry holds."""
        found: dict[str, bytes] = {}
        for attachment in attachments:
            if attachment.media_type.startswith("image/") and attachment.sha256 not in found:
                made = self.of(attachment.sha256)
                if made is not None:
                    found[attachment.sha256] = made
        return found
