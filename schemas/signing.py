"""What signing a protocol sends: the signed statement, its confirmation, the seal; and the
registry's receipt and trust list."""

from __future__ import annotations

import msgspec

from schemas.operations import VersionVector

__all__ = [
    "AuditCheckpoint",
    "BiometricConfirmation",
    "Confirmation",
    "KeyHandover",
    "LocationFix",
    "Receipt",
    "RegistryKey",
    "RegistryTime",
    "SignedProtocol",
    "SigningStatement",
    "TotpConfirmation",
    "TrustList",
    "TrustedKey",
]


class LocationFix(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Where the tablet was at signing. Decimals as strings, as everywhere in signed data."""

    lat: str
    lon: str
    accuracy_m: str
    """The fix's reported horizontal accuracy, metres."""
    at_ms: int
    """When the fix was taken, ms since the epoch."""
    mock: bool = False
    """The platform flagged the fix as coming from a mock provider."""


class TotpConfirmation(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="totp"):
    """The six digits the inspector typed from the authenticator app. The tablet cannot check
    them (it never holds the secret); the registry does, against the signing time."""

    code: str


class BiometricConfirmation(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                            tag="biometric"):
    """A WebAuthn assertion (base64url parts) whose challenge binds the protocol's content hash
    and the signing time (``field_sync.confirmation.biometric_challenge``)."""

    credential_id: str
    authenticator_data: str
    client_data_json: str
    signature: str


Confirmation = TotpConfirmation | BiometricConfirmation


class RegistryTime(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The registry's clock as it told one device, in an enrollment, push or pull answer. The
    registry's MAC over both makes it a token only the registry can make: a tablet keeps the
    latest it was told and carries it in what it signs, and the registry refuses a signature
    dated before it."""

    device_id: str
    at_ms: int
    """The registry's time, ms since the epoch."""
    mac: str
    """The registry's HMAC-SHA-256 (base64url, first 16 bytes) over device and time."""


class SigningStatement(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                       omit_defaults=True):
    """What the device key signs (canonically encoded): the state, who, when, where, how
    confirmed.

    Fields are only appended, with defaults that are left out of the encoding, so a statement
    signed before a field existed encodes, and verifies, as it did."""

    protocol_id: str
    content_hash: str
    vector: VersionVector
    signer: str
    """The inspector signing; must be the inspector of the signing device."""
    device_id: str
    kid: str
    """Hex id of the device key that signs."""
    signed_at_ms: int
    confirmation: Confirmation
    location: LocationFix | None = None
    registry_time: RegistryTime | None = None
    """The latest registry time the device was told before signing; the signature may not be
    dated before it (the registry refuses a statement without one)."""


class SignedProtocol(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The signature a tablet attaches to a frozen protocol."""

    statement: SigningStatement
    signature: str
    """ES256 (DER, base64url) over the canonical encoding of ``statement``."""
    seal: str
    """The QR seal text."""


class Receipt(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The registry's countersignature on a registered protocol."""

    protocol_id: str
    content_hash: str
    seal_hash: str
    registered_at_ms: int
    registry_number: str
    signature: str
    """ES256 (DER, base64url) of the registry key over the canonical encoding of the fields
    above."""


class TrustedKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A device key as verifiers may trust it."""

    kid: str
    public_key: str
    """PEM."""
    inspector_id: str
    device_id: str
    valid_from_ms: int
    retired_at_ms: int = 0
    """After this, the key signs nothing new; older signatures stay valid (0: current)."""
    revoked_after_ms: int = 0
    """Signatures dated after this are not trusted (0: not revoked)."""


class KeyHandover(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The registry's word, signed by its outgoing key, that it signs with ``next_key`` from
    ``at_ms`` on: how a verifier pinned to one registry key follows the registry to the next."""

    previous_key: str
    """PEM of the outgoing registry key, which signs this statement."""
    next_key: str
    """PEM of the registry key that takes over."""
    at_ms: int
    """When the key was handed over, ms since the epoch."""
    signature: str = ""
    """ES256 (DER, base64url) of ``previous_key`` over the canonical encoding of the statement
    with this field empty."""


class TrustList(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Every device key the registry has known, and the registry's address, signed by the
    registry key; with the hand-overs that lead from earlier registry keys to it."""

    issued_at_ms: int
    registry_key: str
    """PEM of the registry's own public key."""
    keys: list[TrustedKey]
    signature: str = ""
    """ES256 (DER, base64url) over the canonical encoding of the list without this field."""
    public_url: str = ""
    """The registry's public address: a seal whose URL names another is not genuine."""
    handovers: list[KeyHandover] = []
    """The registry key's hand-overs, oldest first (each signed on its own, so not covered by
    ``signature``); left out while the registry has never rotated its key."""


class AuditCheckpoint(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The registry's signed word that its audit log reached entry ``seq`` with ``head_hash``.

    Whoever keeps one (a tablet, a supervisor, an export) can later show that the log held at
    least that much: ``field-sync audit verify --checkpoint``."""

    seq: int
    """The newest entry's number: how long the log was (0 for an empty log)."""
    head_hash: str
    """That entry's hash, which covers every entry before it."""
    at_ms: int
    """When the registry signed it, ms since the epoch."""
    registry_key: str
    """PEM of the registry key that signed it."""
    signature: str = ""
    """ES256 (DER, base64url) over the canonical encoding without this field."""


class RegistryKey(msgspec.Struct, frozen=True):
    """The registry key as operators and verifiers pin it (``GET /v1/registry-key``)."""

    public_key: str
    """PEM."""
    fingerprint: str
    """SHA-256 of the key's DER SubjectPublicKeyInfo, hex."""
    public_url: str
    """The address the registry's trust lists name, and its seals point at."""
    handovers: list[KeyHandover] = []
    """The hand-overs from the registry's first key to this one, oldest first."""
