"""Server configuration: argument, then environment variable, then default."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ServerConfig", "default_data_dir"]


def default_data_dir() -> Path:
    """Where ``serve`` keeps its SQLite file when told nothing: ``$FIELD_SYNC_DATA_DIR`` or
    ``~/.local/share/field-sync``."""
    configured = os.environ.get("FIELD_SYNC_DATA_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "field-sync"


@dataclass
class ServerConfig:
    """Everything the registry server needs to start."""

    data_dir: Path = field(default_factory=default_data_dir)
    """Holds the embedded SQLite database and the administrator token file."""
    db_url: str = ""
    """SQLAlchemy URL; empty means SQLite in ``data_dir`` (``$FIELD_SYNC_DB``)."""
    admin_token: str = field(default="", repr=False)
    """Bearer token of the administrator (``$FIELD_SYNC_ADMIN_TOKEN``); empty means read or make
    ``data_dir/admin-token``."""
    max_body_bytes: int = 8 * 1024 * 1024
    """Largest request body accepted."""
    max_batch_ops: int = 50_000
    """Most ops in one push."""
    max_clock_ahead_ms: int = 5 * 60 * 1000
    """How far in the future an op's stamp may be before it is refused (``clock_ahead``)."""
    pull_page_protocols: int = 500
    """Most protocols in one pull page."""
    enrollment_code_ttl_s: int = 24 * 3600
    """How long an enrollment code stays valid."""
    public_url: str = ""
    """The registry's address as people reach it (``$FIELD_SYNC_PUBLIC_URL``); seals point at
    ``<public_url>/V/...``. Empty: the address ``serve`` listens on."""
    confirmation: str = "any"
    """Which confirmations signing accepts: ``any``, ``totp`` or ``biometric``."""
    webauthn_rp_id: str = "field-sync.local"
    """The WebAuthn relying party id tablets' authenticators are bound to."""
    webauthn_origins: tuple[str, ...] = ("https://field-sync.local",)
    """Origins a biometric assertion may come from."""
    totp_max_failures: int = 5
    """Wrong one-time codes before an inspector is locked out."""
    totp_lockout_s: int = 15 * 60
    """How long a lockout lasts."""

    # -- evidence files ------------------------------------------------------------------------
    blob_store: str = "directory"
    """Where evidence files are kept: ``directory`` (``blob_dir``, beside the database) or
    ``s3`` (an S3-compatible bucket, for several registry machines; ``s3_bucket``)."""
    blob_dir: Path | None = None
    """The folder of evidence files (and of uploads under way, in ``incoming/``); empty:
    ``DATA_DIR/blobs``. Several server processes on one machine share it; with the ``s3``
    store, uploads under way are still kept here."""
    s3_bucket: str = ""
    """The bucket of the ``s3`` store (credentials from the usual ``AWS_*`` variables)."""
    s3_endpoint_url: str = ""
    """The S3-compatible service's address; empty: AWS's own."""
    s3_prefix: str = "blobs/"
    """What every key of the ``s3`` store begins with."""
    max_blob_bytes: int = 25 * 1024 * 1024
    """The largest evidence file accepted (413 past it). Keep it at least the largest
    ``max_bytes`` of the templates' attachment fields."""
    max_protocol_blob_bytes: int = 250 * 1024 * 1024
    """The most a protocol's evidence files may take together (413 past it)."""

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.db_url = self.db_url or os.environ.get("FIELD_SYNC_DB", "")
        self.admin_token = self.admin_token or os.environ.get("FIELD_SYNC_ADMIN_TOKEN", "")
        self.public_url = self.public_url or os.environ.get("FIELD_SYNC_PUBLIC_URL", "")
        self._blob_settings_from(os.environ)

    def _blob_settings_from(self, environ: Mapping[str, str]) -> None:
        """Evidence-file settings left at their defaults, from ``$FIELD_SYNC_<NAME>``."""
        for name in ("blob_store", "s3_bucket", "s3_endpoint_url", "s3_prefix"):
            if getattr(self, name) == ServerConfig.__dataclass_fields__[name].default:
                setattr(self, name, environ.get(f"FIELD_SYNC_{name.upper()}", getattr(self, name)))
        for name in ("max_blob_bytes", "max_protocol_blob_bytes"):
            text = environ.get(f"FIELD_SYNC_{name.upper()}", "")
            if text and getattr(self, name) == ServerConfig.__dataclass_fields__[name].default:
                setattr(self, name, int(text))
        if self.blob_dir is None and environ.get("FIELD_SYNC_BLOB_DIR"):
            self.blob_dir = Path(environ["FIELD_SYNC_BLOB_DIR"])
        if self.blob_store not in ("directory", "s3"):
            raise ValueError(f"blob_store is directory or s3, not {self.blob_store!r}")
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("the s3 blob store needs s3_bucket")

    @property
    def blob_folder(self) -> Path:
        """The folder of evidence files."""
        return Path(self.blob_dir) if self.blob_dir else self.data_dir / "blobs"

    def environment(self) -> dict[str, str]:
        """The variables that give another process this configuration's essentials."""
        return {"FIELD_SYNC_DATA_DIR": str(self.data_dir), "FIELD_SYNC_DB": self.database_url,
                "FIELD_SYNC_ADMIN_TOKEN": self.ensure_admin_token(),
                "FIELD_SYNC_PUBLIC_URL": self.public_url,
                **{f"FIELD_SYNC_{name.upper()}": str(getattr(self, name)) for name in (
                    "blob_store", "s3_bucket", "s3_endpoint_url", "s3_prefix", "max_blob_bytes",
                    "max_protocol_blob_bytes")},
                "FIELD_SYNC_BLOB_DIR": str(self.blob_folder)}

    @property
    def database_url(self) -> str:
        """The database to use, defaulting to the embedded SQLite file."""
        return self.db_url or f"sqlite:///{self.data_dir / 'field-sync.db'}"

    def ensure_admin_token(self) -> str:
        """The administrator token, made once and kept (mode 0600) in the data directory."""
        if self.admin_token:
            return self.admin_token
        path = self.data_dir / "admin-token"
        if path.exists():
            self.admin_token = path.read_text().strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.admin_token = secrets.token_urlsafe(32)
            path.touch(mode=0o600)
            path.write_text(self.admin_token + "\n")
        return self.admin_token
