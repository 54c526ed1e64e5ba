"""The blob store's interface, on both backends: the directory beside the database, and an
S3-compatible bucket served over loopback HTTP by moto's server (``moto[server]``: the S3 REST
API with SigV4, multipart uploads and ranged reads, kept in memory), driven by boto3 as it
would drive AWS or MinIO."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.blobs.blobstore import BlobMismatch, BlobStore, DirectoryBlobStore
from server.blobs.blobstore_s3 import PART
from tests.s3 import s3_endpoint, s3_store

pytestmark = pytest.mark.database_free
__all__ = ["s3_endpoint"]  # the fixture, used here by name

@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "directory":
        return DirectoryBlobStore(tmp_path / "blobs")
    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_store(endpoint, f"bucket-{tmp_path.name.lower().replace('_', '-')[-40:]}")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunks(data: bytes, size: int = 100_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_file_is_kept_under_its_hash_and_read_back(store: BlobStore) -> None:
    data = os.urandom(300_000)
    assert not store.has(sha(data)) and store.size(sha(data)) is None
    store.put(sha(data), len(data), chunks(data))
    store.put(sha(data), len(data), chunks(data))  # the same file again: kept once
    assert store.has(sha(data)) and store.size(sha(data)) == len(data)
    assert b"".join(store.get(sha(data))) == data
    assert b"".join(store.get(sha(data), 123_456)) == data[123_456:]
    with pytest.raises(KeyError):
        store.get(sha(b"nothing"))


@pytest.mark.parametrize("wrong", ["other bytes", "shorter", "longer"])
def test_bytes_that_are_not_the_file_are_not_kept(store: BlobStore, wrong: str) -> None:
    data = os.urandom(50_000)
    given = {"other bytes": os.urandom(50_000), "shorter": data[:-1],
             "longer": data + b"\0"}[wrong]
    with pytest.raises(BlobMismatch):
        store.put(sha(data), len(data), chunks(given))
    assert not store.has(sha(data))


def test_a_file_larger_than_a_part_goes_in_parts(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(2 * PART + 12_345)
    staged = tmp_path / "staged"
    staged.write_bytes(data)
    store.put_file(sha(data), len(data), staged)
    assert store.size(sha(data)) == len(data)
    assert hashlib.sha256(b"".join(store.get(sha(data)))).hexdigest() == sha(data)
    forged = os.urandom(2 * PART + 12_345)
    with pytest.raises(BlobMismatch):  # found out after two parts went: the upload is aborted
        store.put(sha(forged[:-1] + b"x"), len(forged), chunks(forged, 1 << 20))
    assert not store.has(sha(forged[:-1] + b"x"))


def test_the_directory_store_writes_atomically_and_names_files_by_hash(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    data = os.urandom(1000)
    staged = tmp_path / "blobs" / "incoming.part"
    staged.write_bytes(data)
    store.put_file(sha(data), len(data), staged)  # one rename: the staged file is gone
    assert not staged.exists()
    assert (tmp_path / "blobs" / sha(data)[:2] / sha(data)).read_bytes() == data
    assert list((tmp_path / "blobs" / ".tmp").iterdir()) == []
    with pytest.raises(KeyError):
        store.get("../../etc/passwd")
