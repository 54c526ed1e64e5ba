"""What a tablet app embeds: a local SQLite store, the outbox, the sync client, the key store and
the inspector-facing API (``Tablet``)."""

import logging

from client_lib.attach import Attached
from client_lib.blob_transport import BlobTransport, HttpBlobTransport
from client_lib.blobs import BlobFolder
from client_lib.editor import ProtocolEditor
from client_lib.errors import (
    AttachmentRefused,
    ClientError,
    NotEnrolled,
    Offline,
    ProtocolSigned,
    RegistryRefused,
    SigningRefused,
    SigningTimeRefused,
    UnknownProtocol,
    UnknownTemplate,
)
from client_lib.keystore import KeyStore, SoftwareKeyStore
from client_lib.store import DeviceStore, OutboxEntry
from client_lib.sync import SyncReport
from client_lib.tablet import Tablet
from client_lib.transport import HttpTransport, Transport
from client_lib.uploads import UploadReport

logging.getLogger("field_sync.client").addHandler(logging.NullHandler())

__all__ = [
    "Attached",
    "AttachmentRefused",
    "BlobFolder",
    "BlobTransport",
    "ClientError",
    "DeviceStore",
    "HttpBlobTransport",
    "HttpTransport",
    "KeyStore",
    "NotEnrolled",
    "Offline",
    "OutboxEntry",
    "ProtocolEditor",
    "ProtocolSigned",
    "RegistryRefused",
    "SigningRefused",
    "SigningTimeRefused",
    "SoftwareKeyStore",
    "SyncReport",
    "Tablet",
    "Transport",
    "UnknownProtocol",
    "UnknownTemplate",
    "UploadReport",
]
