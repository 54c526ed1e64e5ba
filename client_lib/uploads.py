"""Uploading this tablet's evidence files after its ops, resumably.

The registry must know a protocol's attachment (its op) before it takes the file, so a sync
pushes ops first, then runs this. Each file goes from where the registry stands: it says, for
every hash it lacks, how many bytes it already has, and a file cut off by a lost connection (or
a registry restarted) goes on from there at the next sync. A file the registry takes is marked
on the tablet, and never sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from client_lib.blob_transport import BlobTransport
from client_lib.blobs import CHUNK, BlobFolder, OwnBlob
from client_lib.errors import RegistryRefused

__all__ = ["BlobUploader", "UploadReport"]

log = logging.getLogger("field_sync.client")

_QUESTION = 1000
"""Hashes asked about in one request."""
_NOT_YET = frozenset({"unknown_protocol", "unknown_attachment"})
"""Refusals that mean the registry does not know the op naming the file yet (or no longer
names it): the file waits on the tablet."""
_MARK_EVERY = 64
"""Files taken before the tablet records them (one durable write for them all)."""
_ASK_AGAIN = frozenset({"upload_offset", "upload_busy"})
"""Refusals after which the registry is asked where it stands, and the upload goes on."""
_TRIES = 4
"""Attempts at one file within a sync when the registry answers it stands elsewhere, or is
still finishing an upload of it that was cut."""


@dataclass
class UploadReport:
    """What an upload run did."""

    uploaded: int = 0
    """Files the registry took."""
    sent_bytes: int = 0
    resumed: int = 0
    """Files that went on from bytes the registry already had."""
    waiting: int = 0
    """Files the registry cannot take yet (their op has not reached it)."""
    refused: dict[str, str] = field(default_factory=dict)
    """Files the registry refused, by hash, with its code."""


def _file_chunks(path: Path, offset: int, report: UploadReport) -> Iterator[bytes]:
    with path.open("rb") as file:
        file.seek(offset)
        while chunk := file.read(CHUNK):
            report.sent_bytes += len(chunk)
            yield chunk


@dataclass
class BlobUploader:
    """Uploads the files of one tablet the registry has not confirmed."""

    folder: BlobFolder
    transport: BlobTransport
    token: str
    report: UploadReport = field(default_factory=UploadReport)
    """What the run did, so far if it stopped."""
    _taken: list[str] = field(default_factory=list)

    def run(self) -> UploadReport:
        """Upload what is missing at the registry; ``Offline`` stops the run (what was sent
        stays sent, and ``report`` says how far it got)."""
        report = self.report
        own = self.folder.unconfirmed()
        hashes = [blob.sha256 for blob in own]
        missing: dict[str, int] = {}
        for start in range(0, len(hashes), _QUESTION):
            missing.update(self.transport.missing(self.token, hashes[start:start + _QUESTION]))
        self.folder.mark_at_registry(sha256 for sha256 in hashes if sha256 not in missing)
        try:
            for blob in own:
                if blob.sha256 in missing:
                    self._upload(blob, missing[blob.sha256], report)
                if len(self._taken) >= _MARK_EVERY:
                    self._mark()
        finally:
            self._mark()
        return report

    def _mark(self) -> None:
        """Record the files the registry took. A few at a time: a file taken but not yet
        marked (the tablet stopped) is found held at the next run, and marked then."""
        self.folder.mark_at_registry(self._taken)
        self._taken.clear()

    def _upload(self, blob: OwnBlob, offset: int, report: UploadReport) -> None:
        path = self.folder.file(blob.sha256)
        if not path.exists():
            report.refused[blob.sha256] = "lost_on_tablet"
            log.error("evidence file %s is gone from the tablet", blob.sha256)
            return
        report.resumed += offset > 0
        for doc in blob.docs:  # any protocol that names the file will do
            outcome = self._upload_as(doc, blob, path, offset, report)
            if outcome == "taken":
                self._taken.append(blob.sha256)
                report.uploaded += 1
                return
            if outcome == "refused":
                return
        report.waiting += 1

    def _upload_as(self, doc: str, blob: OwnBlob, path: Path, offset: int,
                   report: UploadReport) -> str:
        """Upload ``blob`` as an attachment of protocol ``doc``: ``taken``, ``refused``, or
        ``not_yet`` (the registry does not know ``doc`` names it)."""
        for attempt in range(_TRIES):
            if offset >= blob.size:
                return "taken"
            try:
                offset = self.transport.upload(self.token, doc, blob.sha256, offset, blob.size,
                                               _file_chunks(path, offset, report))
            except RegistryRefused as refused:
                if refused.code in _NOT_YET:
                    return "not_yet"
                if refused.code not in _ASK_AGAIN or attempt == _TRIES - 1:
                    report.refused[blob.sha256] = refused.code
                    log.warning("the registry refused evidence file %s: %s", blob.sha256,
                                refused)
                    return "refused"
                time.sleep(0.05 * 2**attempt)  # a cut upload the registry is still closing
                offset = self.transport.missing(self.token, [blob.sha256]).get(blob.sha256,
                                                                               blob.size)
        return "taken" if offset >= blob.size else "not_yet"
