"""Evidence files in an S3-compatible bucket, for registries on several machines.

The same interface as the directory store (``server.blobs.blobstore.BlobStore``), over the S3 API
with boto3 (``pip install 'field-sync[s3]'``). A file is kept under ``<prefix><sha256>``:

- ``put`` reads the file a part at a time (8 MiB, the most it holds in memory) and sends a small
  file in one request, a larger one as a multipart upload; the upload is completed only once the
  size and hash are checked, else aborted, so a file under a hash is always whole and right;
- ``get`` streams the object from a byte offset (a ranged GET);
- ``has`` and ``size`` ask for the object's head.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from server.blobs.blobstore import CHUNK, BlobMismatch

__all__ = ["PART", "S3BlobStore"]

PART = 8 * 1024 * 1024
"""Bytes of a multipart upload's part (S3 takes parts of 5 MiB or more, but the last)."""


def _boto3() -> Any:
    try:
        import boto3  # noqa: PLC0415  (an optional dependency, imported when used)
    except ImportError as exc:
        raise ImportError("the s3 blob store needs boto3: pip install 'field-sync[s3]'") from exc
    return boto3


def _parts(chunks: Iterable[bytes], size: int, sha256: str) -> Iterator[bytes]:
    """``chunks`` regrouped into parts of ``PART`` bytes (the last shorter), the size and hash
    checked as they pass: ``BlobMismatch`` before the last part is given out, if they fail."""
    digest, seen, part = hashlib.sha256(), 0, bytearray()
    for chunk in chunks:
        seen += len(chunk)
        if seen > size:
            raise BlobMismatch(f"more than the {size} bytes declared")
        digest.update(chunk)
        part += chunk
        while len(part) >= PART and seen < size:
            yield bytes(part[:PART])
            del part[:PART]
    if seen != size or digest.hexdigest() != sha256:
        raise BlobMismatch(f"{seen} bytes hashing to {digest.hexdigest()}, not {size} bytes "
                           f"hashing to {sha256}")
    yield bytes(part)


class S3BlobStore:
    """Files in ``bucket``, keys ``prefix + sha256``.

    Args:
        bucket: the bucket (it must exist).
        endpoint_url: the S3-compatible service; empty for AWS.
        prefix: what every key begins with.
        client: a boto3 S3 client to use instead of one made from the environment.
    """

    def __init__(self, bucket: str, endpoint_url: str = "", prefix: str = "blobs/",
                 client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._s3 = client or _boto3().client("s3", endpoint_url=endpoint_url or None)

    def _key(self, sha256: str) -> str:
        return self.prefix + sha256

    def put(self, sha256: str, size: int, chunks: Iterable[bytes]) -> None:
        """See ``BlobStore.put``."""
        parts = _parts(chunks, size, sha256)
        first = next(parts)
        following = next(parts, None)
        if following is None:  # one part: the whole file, checked
            self._s3.put_object(Bucket=self.bucket, Key=self._key(sha256), Body=first)
            return
        upload = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self._key(sha256))
        done: list[dict[str, Any]] = []
        try:
            for number, part in enumerate(_chain(first, following, parts), start=1):
                answer = self._s3.upload_part(Bucket=self.bucket, Key=self._key(sha256),
                                              UploadId=upload["UploadId"], PartNumber=number,
                                              Body=part)
                done.append({"ETag": answer["ETag"], "PartNumber": number})
        except BaseException:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self._key(sha256),
                                            UploadId=upload["UploadId"])
            raise
        self._s3.complete_multipart_upload(Bucket=self.bucket, Key=self._key(sha256),
                                           UploadId=upload["UploadId"],
                                           MultipartUpload={"Parts": done})

    def put_file(self, sha256: str, size: int, path: Path) -> None:
        """See ``BlobStore.put_file``: the file is read and sent (and checked once more)."""
        with path.open("rb") as source:
            self.put(sha256, size, iter(lambda: source.read(CHUNK), b""))

    def get(self, sha256: str, start: int = 0) -> Iterator[bytes]:
        """See ``BlobStore.get``."""
        error = self._s3.exceptions.NoSuchKey
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=self._key(sha256),
                                         **({"Range": f"bytes={start}-"} if start else {}))
        except error:
            raise KeyError(sha256) from None
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise KeyError(sha256) from None
            raise
        return _stream(answer["Body"])

    def _head(self, sha256: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self._s3.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head

    def has(self, sha256: str) -> bool:
        """See ``BlobStore.has``."""
        return self._head(sha256) is not None

    def size(self, sha256: str) -> int | None:
        """See ``BlobStore.size``."""
        head = self._head(sha256)
        return None if head is None else int(head["ContentLength"])


def _chain(first: bytes, second: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield second
    yield from rest


def _stream(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()
