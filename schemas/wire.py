"""Messages of the sync protocol (``/v1``), MessagePack by default and JSON for people.

Fields are only ever appended, with defaults, so that an old tablet and a new registry (or the
other way round) still understand each other.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.bounds import Key, Name, Region, Text
from schemas.documents import Protocol
from schemas.operations import Op, Register, VersionVector
from schemas.packed import register_count
from schemas.reference import Assignment, Entity, Inspector, ReferenceInstrument, Site
from schemas.signing import Receipt, RegistryTime
from schemas.templates import Template

__all__ = [
    "EnrollRequest",
    "EnrollResponse",
    "EnrollmentCode",
    "InspectorCreate",
    "OpResult",
    "OpStatus",
    "Problem",
    "ProtocolHead",
    "ProtocolPage",
    "ProtocolRecord",
    "ProtocolSummary",
    "PullResponse",
    "PulledPage",
    "PushRequest",
    "PushResponse",
    "TeamMember",
]

OpStatus = Literal["accepted", "duplicate", "rejected"]


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem detail; ``code`` is the stable machine-readable reason."""

    status: int
    title: str
    code: str
    detail: str = ""
    type: str = "about:blank"
    errors: list[dict[str, str]] = msgspec.field(default_factory=list)


class PushRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A batch of the device's own ops, in seq order. Sending it twice changes nothing."""

    ops: list[Op]


class OpResult(msgspec.Struct, array_like=True, omit_defaults=True):
    """What became of one pushed op. ``code`` and ``reason`` explain a rejection."""

    seq: int
    status: OpStatus
    code: str = ""
    reason: str = ""


class PushResponse(msgspec.Struct):
    """One result per pushed op, in the order sent, and the server's clock."""

    results: list[OpResult]
    server_time_ms: int
    registry_time: RegistryTime | None = None
    """``server_time_ms`` as a token for the device to sign with (``SigningStatement``)."""


class PullResponse(msgspec.Struct):
    """Changes in the device's scope since ``cursor``.

    ``changes`` are the current winning value of every register that changed, each carried as
    the op that wrote it: a device that merges them holds the registry's state, not its history.
    ``more`` says another pull with the returned ``cursor`` would bring more.
    """

    cursor: str
    changes: list[Op]
    more: bool
    server_time_ms: int
    inspector: Inspector | None = None
    templates: list[Template] = msgspec.field(default_factory=list)
    assignments: list[Assignment] = msgspec.field(default_factory=list)
    vectors: dict[str, VersionVector] = msgspec.field(default_factory=dict)
    """The version vector of every protocol in ``changes`` or ``states``."""
    instruments: list[ReferenceInstrument] = msgspec.field(default_factory=list)
    """Working standards issued to the device's inspector (or shared), changed since the
    cursor."""
    sites: list[Site] = msgspec.field(default_factory=list)
    """Sites of the device's assignments."""
    entities: list[Entity] = msgspec.field(default_factory=list)
    """Entities of those sites."""
    receipts: list[Receipt] = msgspec.field(default_factory=list)
    """The registry's receipts for protocols in ``changes`` or ``states`` registered since the
    cursor."""
    quarantined: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Signed protocols in ``changes`` or ``states`` the registry quarantined, with the broken
    rules."""
    replaced: list[str] = msgspec.field(default_factory=list)
    """Protocols sent whole, to replace what the device holds: protocols new to the device
    (without the rows removed before) and signed ones (exactly the signed state)."""
    states: dict[str, dict[str, Register]] = msgspec.field(default_factory=dict)
    """Protocols sent whole as their registers by path, for a device that asks for them so
    (``GET /v1/pull?states=true``; with ``packed=true`` too, a MessagePack page may carry them
    packed, as ``schemas.packed`` describes); they are in ``replaced`` and ``vectors`` too, and
    their registers are not repeated in ``changes``. Far less to make and to merge than an op a
    register, for a new tablet that takes a team's thousands of protocols."""

    heads: dict[str, ProtocolHead] = msgspec.field(default_factory=dict)
    """What each protocol in ``states`` is filed under, so that a device may keep its
    registers as the bytes that came, unread (``PulledPage``)."""
    team: list[TeamMember] = msgspec.field(default_factory=list)
    """The inspectors of the assignments in ``assignments``, by name and position: the
    printed protocol names its team, lead inspector and signer with them, offline."""
    registry_time: RegistryTime | None = None
    """``server_time_ms`` as a token for the device to sign with (``SigningStatement``)."""

    @property
    def registers(self) -> int:
        """How many registers the page carries: one an op in ``changes``, and every register
        of the protocols in ``states``."""
        return len(self.changes) + sum(map(len, self.states.values()))


class TeamMember(msgspec.Struct, frozen=True, omit_defaults=True):
    """An inspector on one of the device's assignments, as a printed protocol names them."""

    id: str
    full_name: str
    position: str = ""


class ProtocolHead(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A protocol sent whole, as a device files it: its template, its assignment, and a stamp
    no earlier than any of its registers' (which the device's clock must then run past)."""

    template: str
    assignment: str
    latest_hlc: int


class PulledPage(PullResponse):
    """A MessagePack pull page as a device reads it: each protocol in ``states`` stays the
    MessagePack bytes of its registers, as the registry stores them (packed, for a device that
    asks ``packed=true``: ``schemas.packed``), for the device to store as they are; it reads
    them only when it must (no ``heads`` from an older registry, or a signed protocol)."""

    states: dict[str, msgspec.Raw] = msgspec.field(  # type: ignore[assignment]
        default_factory=dict)

    @property
    def registers(self) -> int:
        """As ``PullResponse.registers``, each protocol's count read off its bytes' head."""
        return len(self.changes) + sum(map(register_count, self.states.values()))


class InspectorCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An administrator registers an inspector."""

    id: Key
    full_name: Name
    region: Region = ""


class EnrollmentCode(msgspec.Struct):
    """A one-time enrollment code for ``inspector_id``'s tablet, shown as a QR."""

    code: str
    inspector_id: str
    expires_at: str
    totp_uri: str = ""
    """``otpauth://`` URI of the inspector's one-time-code secret, to show as a QR to the
    inspector's own authenticator app (never to the tablet). Set when the secret is made."""
    code_qr_svg: str = ""
    """The enrollment code as a QR (SVG), for the tablet's camera."""
    totp_qr_svg: str = ""
    """``totp_uri`` as a QR (SVG), for the authenticator app."""
    enrollment_uri: str = ""
    """What ``code_qr_svg`` carries: the registry's address and the code
    (``fieldsync://enroll?registry=…&code=…``, read with ``field_sync.enrollment``)."""


class EnrollRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A tablet enrolls with a one-time code and the public half of the key it just made."""

    code: Name
    public_key: Text
    """The device's P-256 public key, PEM (SubjectPublicKeyInfo)."""
    device_name: Text = ""
    biometric_credential_id: Name = ""
    """A WebAuthn credential the tablet's authenticator made for the inspector (base64url)."""
    biometric_public_key: Text = ""
    """Its COSE public key (base64url)."""


class EnrollResponse(msgspec.Struct):
    """The device's identity and the bearer token it sends from now on."""

    device_id: str
    token: str
    inspector: Inspector
    server_time_ms: int
    kid: str = ""
    """Hex id of the enrolled signing key."""
    public_url: str = ""
    """The registry's public address, which seals point at."""
    registry_key: str = ""
    """PEM of the registry key: the tablet pins it, and trusts only the trust lists and audit
    checkpoints it signed."""
    registry_time: RegistryTime | None = None
    """``server_time_ms`` as a token for the device to sign with (``SigningStatement``)."""


class ProtocolRecord(msgspec.Struct):
    """The registry's current copy of a protocol."""

    protocol: Protocol
    content_hash: str
    """SHA-256 of the canonical encoding of ``protocol``."""
    vector: VersionVector
    """The ops merged into it: ``{device id: highest seq}``."""
    held: list[Op] = msgspec.field(default_factory=list)
    """Ops refused because the protocol was signed without them: kept, never merged."""


class ProtocolSummary(msgspec.Struct, omit_defaults=True):
    """One protocol as registry queries list it."""

    id: str
    template: str
    status: str
    """``draft``, ``registered``, ``quarantined``, ``superseded`` or ``annulled``."""
    number: str = ""
    entity_tin: str = ""
    inspector_id: str = ""
    site_id: str = ""
    assignment_id: str = ""
    signed_at_ms: int = 0
    registry_number: str = ""
    superseded_by: str = ""
    reasons: list[str] = msgspec.field(default_factory=list)
    """Why it is quarantined."""
    region: str = ""
    """Its site's region."""
    offline_gap_ms: int | None = None
    """How long after its signing time the signature reached the registry (ms; the time the
    tablet was offline, give or take its clock); none for a draft."""


class ProtocolPage(msgspec.Struct):
    """A page of a registry query; ``next`` continues it (empty at the end)."""

    protocols: list[ProtocolSummary]
    next: str
