"""Exceptions of client_lib.

    ClientError
    ├── NotEnrolled         the tablet has no credentials yet
    ├── UnknownProtocol     no such protocol on this tablet
    ├── UnknownTemplate     no such template on this tablet
    ├── ProtocolSigned      the protocol is signed and can no longer change
    ├── SigningRefused      a registry rule is broken: signing is refused, with the reasons
    │   └── SigningTimeRefused  the signing time would break a bound (``code``, ``reason``)
    ├── AttachmentRefused   a file that cannot be evidence (its type, size, bytes, or place)
    ├── Offline             the registry could not be reached (nothing is lost; sync again later)
    └── RegistryRefused     the registry answered with a problem detail (status, code, detail)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AttachmentRefused",
    "ClientError",
    "NotEnrolled",
    "Offline",
    "ProtocolSigned",
    "SigningRefused",
    "SigningTimeRefused",
    "RegistryRefused",
    "UnknownProtocol",
    "UnknownTemplate",
]


class ClientError(Exception):
    """Root of every error client_lib raises."""


class NotEnrolled(ClientError):
    """The tablet must enroll before it can sync."""


class UnknownProtocol(ClientError, KeyError):
    """No protocol by that id on this tablet."""


class UnknownTemplate(ClientError, KeyError):
    """No template by that reference on this tablet."""


class ProtocolSigned(ClientError):
    """A signed protocol cannot change; a correction is a new protocol that supersedes it."""


class SigningRefused(ClientError):
    """Signing is refused, offline, because registry rules are broken (``breaches``)."""

    def __init__(self, breaches: list[Any]) -> None:
        self.breaches = breaches
        super().__init__("signing refused: " + "; ".join(
            f"rule {breach.rule} {breach.code}: {breach.message}" for breach in breaches))


class SigningTimeRefused(SigningRefused):
    """Signing is refused, offline, because its time would break a bound the registry holds
    it to (``field_sync.signing_time``); ``code`` is the registry's code for it."""

    def __init__(self, code: str, reason: str) -> None:
        self.breaches = []
        self.code = code
        self.reason = reason
        ClientError.__init__(self, f"signing refused: {code}: {reason}")


class AttachmentRefused(ClientError, ValueError):
    """A file refused as evidence, with a stable ``code``: ``unknown_media_type``,
    ``media_type_mismatch``, ``undecodable``, ``unaccepted_media_type``,
    ``attachment_too_large``, ``not_an_attachment`` or ``taken_elsewhere``."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


class Offline(ClientError, ConnectionError):
    """The registry could not be reached."""


class RegistryRefused(ClientError):
    """The registry refused a request; ``code`` is its stable reason."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.code = str(problem.get("code", "http_error"))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.code}: {self.detail}")
