"""Zstandard for responses, for clients that accept it (``client_lib`` does; gzip otherwise).

A pull page is some 4 MB of MessagePack. Zstandard at level 1 makes it about a fifth smaller
than gzip at level 1, four times faster, and unpacks it on the tablet three times faster: the
registry and the tablet work on each page one after the other, so this is time off every pull.
"""

from __future__ import annotations

from io import BytesIO
from typing import ClassVar

import zstandard
from litestar.config.compression import CompressionConfig

__all__ = ["ZSTD", "ZstdCompression"]

ZSTD = "zstd"
_LEVEL = 1


class ZstdCompression:
    """Litestar's compression facade for Zstandard: each ``write`` ends a block, so a streamed
    response (an export) goes out chunk by chunk."""

    __slots__ = ("buffer", "compressor")

    encoding: ClassVar[str] = ZSTD

    def __init__(self, buffer: BytesIO, compression_encoding: str,
                 config: CompressionConfig) -> None:
        self.buffer = buffer
        self.compressor = zstandard.ZstdCompressor(level=_LEVEL).compressobj()

    def write(self, body: bytes) -> None:
        self.buffer.write(self.compressor.compress(body))
        self.buffer.write(self.compressor.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))

    def close(self) -> None:
        self.buffer.write(self.compressor.flush())
