"""The running registry: configuration, database and template catalog, shared by every route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from litestar import Request

from server.authority.keys import RegistryKeys
from server.blobs.blobstore import BlobStore, DirectoryBlobStore
from server.blobs.thumbnails import Thumbnails
from server.blobs.uploads import Staging
from server.config import ServerConfig
from server.data.catalog import TemplateCatalog
from server.data.clock import now_ms
from server.data.database import Database
from server.signing.signatures import Signing
from server.sync.deltas import Deltas

__all__ = ["Registry", "blob_store", "now_ms"]

T = TypeVar("T")


@dataclass
class Registry:
    """What a request handler reaches for."""

    config: ServerConfig
    database: Database
    keys: RegistryKeys
    catalog: TemplateCatalog = field(default_factory=TemplateCatalog)
    deltas: Deltas = field(default_factory=Deltas)
    """What devices that hold a protocol are sent of it, encoded once (``server.sync.deltas``)."""
    blobs: BlobStore = field(init=False)
    """Where evidence files are kept (``blob_store``)."""
    staging: Staging = field(init=False)
    """Uploads under way, on this machine's disk."""
    thumbnails: Thumbnails = field(init=False)
    """Thumbnails of the photos, made once and kept beside the files."""

    def __post_init__(self) -> None:
        self.blobs = blob_store(self.config)
        self.staging = Staging(self.config.blob_folder / "incoming")
        self.thumbnails = Thumbnails(self.blobs, self.config.blob_folder / "thumbnails")

    def public_url(self, request: Request[Any, Any, Any]) -> str:
        """The registry's public address: configured, else the one this request reached."""
        return self.config.public_url or str(request.base_url).rstrip("/")

    @property
    def signing(self) -> Signing:
        """What ingest needs to check signatures."""
        return Signing(self.keys, self.config)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run blocking database work in a worker thread."""
        return await anyio.to_thread.run_sync(work, *args)


def blob_store(config: ServerConfig) -> BlobStore:
    """The blob store the configuration names."""
    if config.blob_store == "s3":
        from server.blobs.blobstore_s3 import S3BlobStore  # noqa: PLC0415  (boto3 only when used)

        return S3BlobStore(config.s3_bucket, config.s3_endpoint_url, config.s3_prefix)
    return DirectoryBlobStore(config.blob_folder)
