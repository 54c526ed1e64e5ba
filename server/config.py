"""Server configuration: argument, then environment variable, then default.

Each field is a setting an operator reaches three ways: a flag of ``field-sync serve``, an
environment variable, and the settings reference (``docs/settings.md``), all derived from the
field by ``server.settings``. To add a setting, add a field with a default and an attribute
docstring; use ``setting()`` only for a name other than the field's, a secret, or a computed
default.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from server.settings import Setting, SettingError, setting, settings_of

__all__ = ["BlobStoreKind", "Confirmation", "ServerConfig", "default_data_dir"]

Confirmation = Literal["any", "totp", "biometric"]
BlobStoreKind = Literal["directory", "s3"]


def default_data_dir() -> Path:
    """Where ``serve`` keeps its SQLite file when told nothing: ``$FIELD_SYNC_DATA_DIR`` or
    ``~/.local/share/field-sync``."""
    configured = os.environ.get("FIELD_SYNC_DATA_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "field-sync"


_MAY_BE_ZERO = frozenset({"max_clock_ahead_ms", "audit_checkpoint_interval_ms"})
"""The integer settings that may be 0; the others are at least 1."""


@dataclass
class ServerConfig:
    """Everything the registry server needs to start."""

    # -- where it keeps things ------------------------------------------------------------------
    data_dir: Path = setting(default_factory=default_data_dir,
                             shown_default="$XDG_DATA_HOME/field-sync or "
                                           "~/.local/share/field-sync")
    """Folder of the embedded SQLite database, the administrator token file and the registry's
    keys (unless their own settings name other files)."""
    db_url: str = setting("", name="db", shown_default="SQLite in the data directory")
    """Database URL (SQLAlchemy form): ``postgresql://user@host/name`` in production; empty
    means the SQLite file ``field-sync.db`` in the data directory."""
    read_replica: str = setting("", shown_default="none: pulls read the database")
    """A PostgreSQL streaming replica of the database (URL as ``--db``) that pull pages read
    from. A page waits up to 50 ms for the replica to reach every change the database had
    committed when the page was asked for (the cursor is the database's own), and is read from
    the database itself when the replica is further behind. Empty: pulls read the database."""
    admin_token: str = setting("", secret=True,
                               shown_default="read or made in DATA_DIR/admin-token")
    """Bearer token of the administrator. Prefer the environment variable to the flag (a
    flag shows in the process list); empty means read, or make once, ``admin-token`` in the data
    directory (mode 0600)."""

    # -- how people and tablets reach it ---------------------------------------------------------
    public_url: str = setting("", shown_default="the address serve listens on")
    """The registry's address as people reach it, ``https://registry.example.uz``: every seal's
    QR code points at ``<public URL>/V/...``, and the trust list names it, signed, so set it
    before the first protocol is signed. Empty: ``serve`` takes ``http://HOST:PORT``, the address
    it listens on, which behind a proxy is rarely the right one (never the address a request
    came to: a trust list fetched with a forged ``Host`` would vouch for that host)."""
    trusted_proxies: tuple[str, ...] = setting((), shown_default="none")
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/24``; comma-separated in the
    environment) of the reverse proxies in front of the registry. Only when a request's direct
    peer is one of them is ``X-Forwarded-For`` read, and the client is its rightmost address
    that is not a trusted proxy: for the rate limit of checks by number, the console's sign-in
    audit and the logs. None: the direct peer is the client, whatever a request claims."""
    webauthn_rp_id: str = "field-sync.local"
    """WebAuthn relying-party id the tablets' biometric authenticators are bound to (a domain
    the agency controls)."""
    webauthn_origins: tuple[str, ...] = ("https://field-sync.local",)
    """Origins a biometric assertion may come from (comma-separated in the environment)."""

    # -- what signing accepts -------------------------------------------------------------------
    confirmation: Confirmation = "any"
    """Which confirmation a signature must carry: ``any``, ``totp`` (one-time code) or
    ``biometric``."""
    max_clock_ahead_ms: int = 5 * 60 * 1000
    """Clock bound: how far (ms) past the registry's clock a tablet's stamp may be before it is
    refused (``clock_ahead``)."""
    totp_max_failures: int = 5
    """Wrong one-time codes in a row before an inspector's codes are locked."""
    totp_lockout_s: int = 15 * 60
    """How long (seconds) a lockout lasts."""
    enrollment_code_ttl_s: int = 24 * 3600
    """How long (seconds) an enrollment code stays valid."""

    # -- limits ---------------------------------------------------------------------------------
    max_body_bytes: int = 8 * 1024 * 1024
    """Largest request body accepted, in bytes (after inflating a compressed one)."""
    max_batch_ops: int = 50_000
    """Most ops in one push."""
    pull_page_protocols: int = 500
    """Most protocols in one pull page."""

    # -- keys -----------------------------------------------------------------------------------
    # Several server processes on one database must share these two files. The keys verifiers
    # pin (the registry's public key, its fingerprint) are settings of this group too.
    registry_key: Path | None = setting(None, shown_default="DATA_DIR/registry-key.pem")
    """PEM file of the registry's P-256 signing key (receipts, trust list); made on first
    start when missing. Its hand-overs and earlier keys are kept beside it
    (``field-sync admin rotate-registry-key``)."""
    secret_key: Path | None = setting(None, shown_default="DATA_DIR/secret-key")
    """File of the key that encrypts inspectors' one-time-code secrets at rest; made on first
    start when missing."""

    # -- the console ----------------------------------------------------------------------------
    console_session_s: int = 8 * 3600
    """How long (seconds) a console session lasts from sign-in (a working day by default)."""
    console_max_failures: int = 5
    """Wrong passwords or one-time codes in a row that lock a console account."""
    console_lockout_s: int = 15 * 60
    """How long (seconds) a console account's lockout lasts."""
    console_invitation_ttl_s: int = 72 * 3600
    """How long (seconds) an invitation to the console (its link sets the account's password
    and one-time-code app) stays good."""

    # -- the public pages -----------------------------------------------------------------------
    agency_name_uz_latn: str = setting("", shown_default="Oʻzbekiston texnik jihatdan tartibga "
                                                         "solish agentligi")
    """The agency's name in Uzbek (Latin script) on the registry's pages."""
    agency_name_uz_cyrl: str = setting("", shown_default="Ўзбекистон техник жиҳатдан тартибга "
                                                         "солиш агентлиги")
    """The agency's name in Uzbek (Cyrillic script) on the registry's pages."""
    agency_name_ru: str = setting("", shown_default="Узбекское агентство по техническому "
                                                    "регулированию")
    """The agency's name in Russian on the registry's pages."""
    agency_name_en: str = setting("", shown_default="Uzbek Agency for Technical Regulation")
    """The agency's name in English on the registry's pages."""
    agency_logo: Path | None = setting(None, shown_default="none")
    """An image file (SVG or PNG) shown beside the agency's name on the registry's pages."""
    check_requests_per_minute: int = 30
    """How many checks by number (``GET /v1/check``, the ``/check`` page) one client may make
    in a minute before it is answered 429 with ``Retry-After``. Each worker process counts
    its own: with ``--workers N`` a client may make up to N times as many."""

    # -- evidence files -------------------------------------------------------------------------
    blob_store: BlobStoreKind = "directory"
    """Where evidence files (photos, scans) are kept: ``directory`` (``blob_dir``) or ``s3`` (an
    S3-compatible bucket, ``s3_bucket``, for registries on several machines; credentials from
    the usual ``AWS_*`` variables; it needs boto3, the package's ``s3`` extra)."""
    blob_dir: Path | None = setting(None, shown_default="DATA_DIR/blobs")
    """Folder of the evidence files, named by their SHA-256, and of uploads under way
    (``incoming/``: with the ``s3`` store too). The server processes of one machine share it."""
    s3_bucket: str = ""
    """The bucket of the ``s3`` blob store (it must exist)."""
    s3_endpoint_url: str = setting("", shown_default="AWS")
    """The address of the S3-compatible service of the ``s3`` blob store."""
    s3_prefix: str = "blobs/"
    """What the key of every file in the ``s3`` blob store begins with."""
    max_blob_bytes: int = 25 * 1024 * 1024
    """Largest evidence file accepted, in bytes (413 past it, before a byte is read). Keep it at
    least the largest ``max_bytes`` of the templates' attachment fields."""
    max_protocol_blob_bytes: int = 250 * 1024 * 1024
    """The most a protocol's evidence files may take together, in bytes (413 past it)."""

    # -- operations -----------------------------------------------------------------------------
    metrics_token: str = setting("", secret=True, shown_default="the administrator token only")
    """Bearer token a Prometheus scraper sends for ``GET /metrics`` (the administrator token
    works too), so a scraper never holds the administrator's."""
    audit_checkpoint_interval_ms: int = 1000
    """The least time (ms) between two checkpoints of the audit log the registry signs: each is
    a write, and entries newer than the newest checkpoint wait for the next one to be anchored.
    0 signs one whenever the log has grown."""

    def __post_init__(self) -> None:
        self._fill_from(os.environ)
        self.data_dir = Path(self.data_dir)
        self._check()

    def _fill_from(self, environ: Mapping[str, str]) -> None:
        """Take each setting left at its default from its environment variable, if set."""
        for option in settings_of(ServerConfig):
            text = environ.get(option.env, "")
            if text and getattr(self, option.field) == option.default:
                setattr(self, option.field, option.parse(text))

    def _check(self) -> None:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise SettingError("--s3-bucket", "the s3 blob store needs its bucket")
        if self.public_url:
            _check_url("--public-url", self.public_url)
            self.public_url = self.public_url.rstrip("/")
        for origin in self.webauthn_origins:
            _check_url("--webauthn-origins", origin)
        for proxy in self.trusted_proxies:
            _check_network("--trusted-proxies", proxy)
        for option in settings_of(ServerConfig):
            value = getattr(self, option.field)
            if option.kind is int and value < (0 if option.field in _MAY_BE_ZERO else 1):
                raise SettingError(option.flag, f"{value} is too small")
            if option.choices and value not in option.choices:
                raise SettingError(option.flag, f"{value!r} is not one of "
                                                f"{', '.join(option.choices)}")

    @staticmethod
    def settings() -> tuple[Setting, ...]:
        """Every setting, in the order of the fields."""
        return settings_of(ServerConfig)

    def environment(self) -> dict[str, str]:
        """The variables that give another process (a worker of ``serve --workers``) this
        configuration."""
        variables = {option.env: option.format(getattr(self, option.field))
                     for option in self.settings() if getattr(self, option.field) is not None}
        variables["FIELD_SYNC_DB"] = self.database_url
        variables["FIELD_SYNC_ADMIN_TOKEN"] = self.ensure_admin_token()
        return variables

    def agency_name(self, lang: str) -> str:
        """The agency's name configured for ``lang`` (``uz-Latn``, ...); empty if none."""
        name: str = getattr(self, "agency_name_" + lang.lower().replace("-", "_"), "")
        return name

    @property
    def blob_folder(self) -> Path:
        """The folder of evidence files."""
        return Path(self.blob_dir) if self.blob_dir else self.data_dir / "blobs"

    @property
    def signing_key_file(self) -> Path:
        """The registry key's file: the ``registry_key`` setting, else in the data directory."""
        return Path(self.registry_key) if self.registry_key else self.data_dir / "registry-key.pem"

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


def _check_url(flag: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError(flag, f"{url!r} is not an http(s) address with a host "
                                 "(https://registry.example.uz)")


def _check_network(flag: str, text: str) -> None:
    try:
        if "/" in text:
            ipaddress.ip_network(text)  # strict: no host bits past the prefix
        else:
            ipaddress.ip_address(text)
    except ValueError:
        raise SettingError(flag, f"{text!r} is not an IP address or network (10.0.0.5, "
                                 "10.0.0.0/24)") from None
