"""Attaching a file as evidence, offline: what ``ProtocolEditor.attach`` does with the bytes.

The file is copied into the tablet's folder under its SHA-256 (``client_lib.blobs``), its media
type sniffed from its bytes, and refused unless it decodes as that type and the field takes it.
A photo's EXIF data gives when and where it was taken; the tablet's corrected clock and the fix
the app passes stand in for what the photo does not say. Then the photo's place is checked
against the site's geofence as rule 7 will check it at signing, on both sides:

- taken away from the site (outside the geofence by more than its accuracy): **refused**
  (``taken_elsewhere``), since the protocol could not be signed with it;
- a capture time far from now (more than a day before, or in the future): **a warning**, kept
  beside the attachment (``Attached.warnings``), not a refusal, because camera clocks are often
  wrong; the time is printed on the protocol and shown to supervisors, with its source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from client_lib.blobs import BlobFolder, Incoming, Source
from client_lib.errors import AttachmentRefused
from field_sync.evidence import outside_site
from field_sync.media import MediaRefused, PhotoFacts, check_decodes, photo_facts, sniff
from field_sync.values import MAX_ATTACHMENT_BYTES
from schemas.attachments import Attachment, CaptureFix, MediaType
from schemas.reference import Site
from schemas.signing import LocationFix
from schemas.templates import Field

__all__ = ["Attached", "Capture", "attach_file"]

_FAR_BEFORE = dt.timedelta(days=1)
_FAR_AFTER = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Attached:
    """What ``ProtocolEditor.attach`` staged, and what the inspector should be told."""

    attachment: Attachment
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capture:
    """The place and time an attachment is checked against: the site of the protocol's
    assignment (None: no geofence), the tablet's corrected clock, and the fix the app took."""

    site: Site | None
    now_ms: int
    fix: LocationFix | None = None


def _media_type(incoming: Incoming, field: Field) -> MediaType:
    try:
        media_type = sniff(incoming.head)
        check_decodes(incoming.path, media_type)
    except MediaRefused as refused:
        raise AttachmentRefused(refused.code, refused.reason) from refused
    if field.media_types and media_type not in field.media_types:
        raise AttachmentRefused("unaccepted_media_type", f"{field.name} takes "
                                f"{', '.join(field.media_types)}, not {media_type}")
    limit = field.max_bytes or MAX_ATTACHMENT_BYTES
    if incoming.size > limit:
        raise AttachmentRefused("attachment_too_large",
                                f"{field.name} takes files of at most {limit} bytes, not "
                                f"{incoming.size}")
    return media_type


def _when(facts: PhotoFacts, capture: Capture, zone: ZoneInfo) -> tuple[dt.datetime, bool]:
    """The capture time (aware), and whether the photo itself gave it."""
    if facts.taken_at is None:
        return dt.datetime.fromtimestamp(capture.now_ms / 1000, zone), False
    taken = facts.taken_at
    return (taken if taken.tzinfo is not None else taken.replace(tzinfo=zone)), True


def _where(facts: PhotoFacts, capture: Capture) -> CaptureFix | None:
    if facts.lat is not None and facts.lon is not None:
        accuracy = None if facts.accuracy_m is None else str(facts.accuracy_m)
        return CaptureFix(str(facts.lat), str(facts.lon), accuracy, "photo")
    fix = capture.fix
    if fix is None or fix.mock:
        return None
    return CaptureFix(fix.lat, fix.lon, fix.accuracy_m, "device")


def _warnings(taken: dt.datetime, from_photo: bool, capture: Capture) -> tuple[str, ...]:
    if not from_photo:
        return ()
    now = dt.datetime.fromtimestamp(capture.now_ms / 1000, dt.UTC)
    if taken < now - _FAR_BEFORE:
        return (f"the photo says it was taken at {taken.isoformat()}, more than a day ago",)
    if taken > now + _FAR_AFTER:
        return (f"the photo says it was taken at {taken.isoformat()}, in the future: the "
                "camera's clock may be wrong",)
    return ()


def attach_file(folder: BlobFolder, source: Source, field: Field, doc: str,
                capture: Capture) -> Attached:
    """Keep ``source`` as evidence for ``field`` of protocol ``doc``; ``AttachmentRefused``
    (and nothing kept) when it cannot be."""
    zone = ZoneInfo(capture.site.time_zone if capture.site else "Asia/Tashkent")
    with folder.receive(source) as incoming:
        media_type = _media_type(incoming, field)
        facts = photo_facts(incoming.path) if media_type != "application/pdf" else \
            PhotoFacts(None, None, None, None)
        taken, from_photo = _when(facts, capture, zone)
        attachment = Attachment(incoming.sha256, incoming.size, media_type,
                                taken.isoformat(timespec="seconds"),
                                "photo" if from_photo else "device", _where(facts, capture))
        away = outside_site(attachment, capture.site)
        if away is not None:
            raise AttachmentRefused("taken_elsewhere", f"taken {away.distance_m:.0f} m from "
                                    f"the site; its geofence allows {away.allowed_m} m")
        folder.keep(incoming, media_type, "own", doc)
    return Attached(attachment, _warnings(taken, from_photo, capture))
