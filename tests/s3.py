"""An S3-compatible server for tests: moto's (``moto[server]``), a real HTTP server on a
loopback port speaking the S3 REST API (SigV4, multipart uploads, ranged reads), keeping
objects in memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from field_sync_cli.local_server import free_port
from server.blobs.blobstore_s3 import S3BlobStore

__all__ = ["CREDENTIALS", "s3_endpoint", "s3_store"]

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "field-sync-test", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a loopback port, and a bucket in it."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(port)], stdout=log, stderr=log,
                               env={**os.environ, **CREDENTIALS})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "moto is down"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def s3_store(endpoint: str, bucket: str) -> S3BlobStore:
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    store = S3BlobStore(bucket, endpoint, prefix="evidence/")
    store._s3.create_bucket(Bucket=bucket)
    return store


