"""What an enrollment QR carries: the registry's address and the one-time code, in one
``fieldsync://enroll`` URI, so a tablet scans once and needs nothing typed.

    fieldsync://enroll?registry=https%3A%2F%2Fregistry.example&code=ABCD-EFGH-JKLM
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from field_sync.errors import FieldSyncError

__all__ = ["ENROLLMENT_SCHEME", "NotAnEnrollment", "enrollment_uri", "parse_enrollment"]

ENROLLMENT_SCHEME = "fieldsync"


class NotAnEnrollment(FieldSyncError, ValueError):
    """Scanned text that is not an enrollment QR."""

    code = "not_an_enrollment"


def enrollment_uri(registry_url: str, code: str) -> str:
    """The URI an enrollment QR carries."""
    return f"{ENROLLMENT_SCHEME}://enroll?{urlencode({'registry': registry_url, 'code': code})}"


def parse_enrollment(text: str) -> tuple[str, str]:
    """The registry address and the code an enrollment QR carries; ``NotAnEnrollment`` for
    anything else."""
    parts = urlsplit(text.strip())
    values = parse_qs(parts.query)
    registry, code = values.get("registry", [""])[0], values.get("code", [""])[0]
    target = urlsplit(registry)
    if parts.scheme.lower() != ENROLLMENT_SCHEME or parts.netloc.lower() != "enroll" or \
            target.scheme not in ("http", "https") or not target.netloc or not code:
        raise NotAnEnrollment("this QR code is not a field-sync enrollment")
    return registry, code
