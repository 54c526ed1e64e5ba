"""The registry's tables.

A protocol is one row holding its merged registers (packed: ``schemas.packed``), so that
ingesting a batch reads and writes one row per protocol instead of one per field; the op log
keeps every accepted op for deduplication, audit and rebuilding a signed state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel, col

__all__ = [
    "DRAFT",
    "AccountRow",
    "AnnulmentRow",
    "AssignmentMember",
    "AuditCheckpointRow",
    "AuditEntryRow",
    "AssignmentRow",
    "AwaitedBlobRow",
    "BiometricCredentialRow",
    "BlobRow",
    "ChangeCounter",
    "DeviceKeyRow",
    "DeviceRow",
    "EnrollmentCodeRow",
    "HeldOpRow",
    "InspectorRow",
    "OpLogRow",
    "ProtocolRow",
    "protocol_columns",
    "ReceiptRow",
    "ReferenceRow",
    "StagedImportRow",
    "SupervisorRow",
    "TemplateRow",
    "TotpSecretRow",
    "UsedTotpStep",
    "WebSessionRow",
]

DRAFT = "draft"
"""A protocol's status until it is signed; a draft has no receipt."""


class InspectorRow(SQLModel, table=True):
    __tablename__ = "inspector"

    id: str = Field(primary_key=True, max_length=64)
    full_name: str = Field(max_length=200)
    region: str = Field(default="", max_length=100)
    suspended: bool = False
    attested_until: str = Field(default="", max_length=10)
    created_at: datetime
    position: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    """The inspector's post, as the verification page and the printed protocol name it."""


class EnrollmentCodeRow(SQLModel, table=True):
    __tablename__ = "enrollment_code"

    code_hash: str = Field(primary_key=True, max_length=64)
    inspector_id: str = Field(foreign_key="inspector.id", index=True)
    expires_at: datetime
    used_at: datetime | None = None


class DeviceRow(SQLModel, table=True):
    __tablename__ = "device"

    id: str = Field(primary_key=True, max_length=64)
    inspector_id: str = Field(foreign_key="inspector.id", index=True)
    name: str = Field(default="", max_length=200)
    public_key: str
    token_hash: str = Field(max_length=64)
    enrolled_at: datetime
    revoked_at: datetime | None = None
    last_seen_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False,
                                                          server_default="0"))
    """When the device last reached the registry (kept to the hour: ``server.api.auth``)."""
    latest_hlc: int = Field(default=0, sa_column=Column(BigInteger, nullable=False,
                                                        server_default="0"))
    """The latest stamp among the device's ops the registry holds (merged or kept aside): what
    its signatures may not be dated before (``server.sync.ingest``)."""
    latest_hlc_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False,
                                                            server_default="0"))
    """The seq of the op that carries ``latest_hlc``."""


class AssignmentRow(SQLModel, table=True):
    __tablename__ = "assignment"

    id: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=300)
    starts_on: str = Field(default="", max_length=10)
    ends_on: str = Field(default="", max_length=10)
    site_id: str = Field(default="", max_length=64)
    changed: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class AssignmentMember(SQLModel, table=True):
    __tablename__ = "assignment_member"

    assignment_id: str = Field(foreign_key="assignment.id", primary_key=True)
    inspector_id: str = Field(foreign_key="inspector.id", primary_key=True, index=True)
    added: int = Field(sa_column=Column(BigInteger, nullable=False))
    """The change number that put the inspector on the team: a device whose cursor is older
    receives the assignment's protocols whole on its next pull."""


class TemplateRow(SQLModel, table=True):
    __tablename__ = "template"

    ref: str = Field(primary_key=True, max_length=100)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    changed: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class ProtocolRow(SQLModel, table=True):
    __tablename__ = "protocol"
    # Registry listings page by id within a filter (server.data.queries): with id after the
    # filtered column, a page reads its rows in order and stops, instead of sorting every
    # protocol of a large entity, inspector or site. Status has no (status, id) index: without
    # statistics SQLite would walk it for "an inspector's registered protocols"; a listing that
    # filters on status and something narrower keeps status out of the index's way
    # (server.data.queries).
    # A pull pages through its scope by (assignment, changed, id) from the index alone.
    __table_args__ = (
        Index("ix_protocol_assignment_changed_id", "assignment_id", "changed", "id"),
        Index("ix_protocol_entity_tin_id", "entity_tin", "id"),
        Index("ix_protocol_inspector_id_id", "inspector_id", "id"),
        Index("ix_protocol_site_id_id", "site_id", "id"),
        # The console lists newest signed first, a page after the last (signed_at_ms, id) seen;
        # a supervisor limited to a region, or the quarantine queue, reads its part of the
        # same order.
        Index("ix_protocol_signed_at_ms_id", "signed_at_ms", "id"),
        Index("ix_protocol_region_signed_at_ms_id", "region", "signed_at_ms", "id"),
        Index("ix_protocol_status_signed_at_ms_id", "status", "signed_at_ms", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    template_ref: str = Field(max_length=100)
    assignment_id: str = Field(max_length=64)
    registers: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    changed: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    created_by: str = Field(max_length=64)
    status: str = Field(default=DRAFT, max_length=32)
    """``draft``, ``awaiting_evidence`` (signed; its files have not all arrived),
    ``registered``, ``quarantined``, ``superseded`` or ``annulled``."""
    reasons: str = ""
    """Why a protocol is quarantined: the broken rules, one per line."""
    number: str = Field(default="", max_length=32, index=True)
    entity_tin: str = Field(default="", max_length=16)
    inspector_id: str = Field(default="", max_length=64)
    """The signer once signed; the lead inspector before."""
    site_id: str = Field(default="", max_length=64)
    signed_at_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    registry_number: str = Field(default="", max_length=32, index=True)
    superseded_by: str = Field(default="", max_length=64)
    latest_hlc: int = Field(default=0, sa_column=Column(BigInteger, nullable=False,
                                                        server_default="0"))
    """The latest stamp of the ops merged into it, so never earlier than any of its registers:
    what a device that takes it whole has heard (``PullResponse.heads``); 0 when not known."""
    created: int = Field(default=0, sa_column=Column(BigInteger, nullable=False,
                                                     server_default="0"))
    """The push that created it (0 when not known). Its registers that won in that push are
    stored with ``changed`` 0 (``schemas.packed``); a device whose cursor is older than it
    has never seen the protocol, and is sent it whole, as the registry stores it."""
    region: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})
    """Its site's region (its inspector's without a site): what limits a supervisor's reach."""
    offline_gap_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    """How long after its signing time the signature reached the registry (ms): the time its
    tablet was offline. None until signed."""


class ReferenceRow(SQLModel, table=True):
    """Reference data a device may receive: working standards, entities, sites. ``owner`` is
    what scopes it (the inspector a standard is issued to; empty for shared rows)."""

    __tablename__ = "reference"

    kind: str = Field(primary_key=True, max_length=16)
    key: str = Field(primary_key=True, max_length=64)
    owner: str = Field(default="", max_length=64, index=True)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    changed: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    label: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    """What people search it by: an entity's or a site's name, an instrument's type and
    serial."""


def protocol_columns(names: Iterable[str]) -> list[Any]:
    """The protocol table's columns of these names, for a query that reads some of them as plain
    rows rather than whole protocol rows."""
    return [col(getattr(ProtocolRow, name)) for name in names]


class OpLogRow(SQLModel, table=True):
    """The ops one push merged into one protocol, packed (see ``server.sync.oplog``)."""

    __tablename__ = "op_log"
    __table_args__ = (Index("ix_op_log_actor_max_seq", "actor", "max_seq"),
                      Index("ix_op_log_changed", "changed"))

    doc: str = Field(primary_key=True, max_length=64)
    changed: int = Field(sa_type=BigInteger, primary_key=True,
                         sa_column_kwargs={"autoincrement": False})
    """The push that merged them."""
    actor: str = Field(max_length=64)
    """The device that made them (a push carries one device's ops only)."""
    min_seq: int = Field(sa_type=BigInteger, nullable=False)
    max_seq: int = Field(sa_type=BigInteger, nullable=False)
    ops: bytes = Field(sa_type=LargeBinary, nullable=False)
    """MessagePack ``[[seq, path, value, hlc], ...]``, in the order they were merged."""


class ChangeCounter(SQLModel, table=True):
    """One row: the registry's change number. Taking the next one locks the row until commit,
    so change numbers become visible in order and a pull cursor never skips a late commit."""

    __tablename__ = "change_counter"

    id: int = Field(default=1, primary_key=True)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class CredentialsGeneration(SQLModel, table=True):
    """One row: how many times devices and their keys have changed. Each registry process
    keeps devices' credentials and the trust list in memory while it holds
    (``server.authority.credentials``)."""

    __tablename__ = "credentials_generation"

    id: int = Field(default=1, primary_key=True)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class HeldOpRow(SQLModel, table=True):
    """An op refused because its protocol was signed without it: kept, never merged, shown to
    supervisors in the audit and to the device that made it. One row an op: they are few."""

    __tablename__ = "held_op"
    __table_args__ = (Index("ix_held_op_doc", "doc"),)

    actor: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_type=BigInteger, sa_column_kwargs={"autoincrement": False},
                     primary_key=True)  # seqs go up to the op log's MAX_SEQ, past 32 bits
    doc: str = Field(max_length=64)
    path: str = Field(max_length=200)
    value: bytes = Field(sa_type=LargeBinary, nullable=False)
    hlc: int = Field(sa_type=BigInteger, nullable=False)
    code: str = Field(max_length=64)
    changed: int = Field(sa_type=BigInteger, nullable=False)


class DeviceKeyRow(SQLModel, table=True):
    """A device signing key. Retired keys stay, so their old signatures still verify."""

    __tablename__ = "device_key"

    kid: str = Field(primary_key=True, max_length=16)
    device_id: str = Field(foreign_key="device.id", index=True)
    inspector_id: str = Field(foreign_key="inspector.id", index=True)
    public_key: str
    valid_from_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    retired_at_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    revoked_after_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class TotpSecretRow(SQLModel, table=True):
    """An inspector's TOTP secret, encrypted with the registry's secret key; failure count and
    lockout for the code checks."""

    __tablename__ = "totp_secret"

    inspector_id: str = Field(foreign_key="inspector.id", primary_key=True)
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    failures: int = 0
    locked_until_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class UsedTotpStep(SQLModel, table=True):
    """A time step already used by an inspector: a set, since protocols arrive out of order."""

    __tablename__ = "used_totp_step"

    inspector_id: str = Field(foreign_key="inspector.id", primary_key=True)
    step: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    """The signing time over the step's 30 seconds: 64 bits, as any signing time on the wire
    (a 32-bit step overflows past the year 4010)."""


class BiometricCredentialRow(SQLModel, table=True):
    """A WebAuthn credential a device registered for its inspector."""

    __tablename__ = "biometric_credential"

    credential_id: str = Field(primary_key=True, max_length=200)
    device_id: str = Field(foreign_key="device.id", index=True)
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """COSE_Key."""
    sign_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class ReceiptRow(SQLModel, table=True):
    """The registry's countersigned registration of a signed protocol."""

    __tablename__ = "receipt"

    protocol_id: str = Field(primary_key=True, max_length=64)
    registry_number: str = Field(unique=True, max_length=32)
    content_hash: str = Field(max_length=64)
    seal_hash: str = Field(index=True, max_length=64)
    seal: str
    kid: str = Field(max_length=16)
    registered_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    signature: str
    changed: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class AuditEntryRow(SQLModel, table=True):
    """One state change of the registry, chained to the one before by its hash."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_actor_seq", "actor", "seq"),)  # the console's filter

    seq: int = Field(sa_column_kwargs={"autoincrement": False}, primary_key=True)
    at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    actor: str = Field(max_length=100)
    """Who: ``device:<id>``, ``admin``, ``supervisor:<id>``."""
    action: str = Field(max_length=32, index=True)
    subject: str = Field(max_length=100, index=True)
    detail: str
    """Canonical JSON of what changed."""
    changed: int = Field(sa_column=Column(BigInteger, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditCheckpointRow(SQLModel, table=True):
    """A checkpoint of the audit log the registry signed and handed out
    (``schemas.signing.AuditCheckpoint``): the log must always reach the newest one."""

    __tablename__ = "audit_checkpoint"

    seq: int = Field(sa_column_kwargs={"autoincrement": False}, primary_key=True)
    head_hash: str = Field(max_length=64)
    at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    registry_key: str
    signature: str


class SupervisorRow(SQLModel, table=True):
    """A supervisor: reviews quarantine and the audit log, annuls protocols."""

    __tablename__ = "supervisor"

    id: str = Field(primary_key=True, max_length=64)
    full_name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None
    regions: str = Field(default="", sa_column_kwargs={"server_default": ""})
    """The regions whose protocols the token reaches, one a line; empty: every region."""


class AnnulmentRow(SQLModel, table=True):
    """A supervisor's annulment of a protocol, countersigned by the registry key."""

    __tablename__ = "annulment"

    protocol_id: str = Field(primary_key=True, max_length=64)
    supervisor_id: str = Field(max_length=64)
    reason: str
    at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    signature: str


class AccountRow(SQLModel, table=True):
    """A person who signs in to the console: a supervisor or an administrator. A password
    (argon2) and a one-time code (TOTP) sign them in; until they accept their invitation they
    have neither."""

    __tablename__ = "account"

    id: str = Field(primary_key=True, max_length=64)
    full_name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    """``supervisor`` or ``administrator``."""
    regions: str = ""
    """The regions a supervisor reaches, one a line; empty: every region."""
    password_hash: str = ""
    totp_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    """Encrypted with the registry's secret key."""
    last_totp_step: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    """The last time step a code signed in with: a code is taken once."""
    failures: int = 0
    locked_until_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    invitation_hash: str = Field(default="", max_length=64, index=True)
    invitation_expires_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime
    disabled_at: datetime | None = None


class WebSessionRow(SQLModel, table=True):
    """A console session, kept by the registry (the browser holds its id only)."""

    __tablename__ = "web_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the session id: a copy of the table opens no session."""
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class StagedImportRow(SQLModel, table=True):
    """A reference file an administrator uploaded and has seen the report of, not committed
    yet."""

    __tablename__ = "staged_import"

    id: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    format: str = Field(max_length=8)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class BlobRow(SQLModel, table=True):
    """An evidence file the registry holds (its bytes are in the blob store, under its hash),
    checked: its size and SHA-256, its media type sniffed, an image decoded."""

    __tablename__ = "blob"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    media_type: str = Field(max_length=32)
    received_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    device_id: str = Field(max_length=64)
    """The device whose upload completed it."""


class AwaitedBlobRow(SQLModel, table=True):
    """A file a signed protocol names that has not arrived: the protocol is registered when
    the last of its rows goes."""

    __tablename__ = "awaited_blob"
    __table_args__ = (Index("ix_awaited_blob_sha256", "sha256"),)

    protocol_id: str = Field(primary_key=True, max_length=64)
    sha256: str = Field(primary_key=True, max_length=64)
