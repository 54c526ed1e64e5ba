"""Evidence on the tablet: files attached offline, kept once under their hash, refused when
they cannot be evidence; teammates' files fetched when opened, within a budget."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import msgspec
import pytest

from client_lib import AttachmentRefused, Tablet
from client_lib.errors import Offline
from field_sync import InvalidOperation
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas.attachments import Attachment
from tests.evidence import SITE, TASHKENT, Unreachable, here, inspection, near_site, photo, reopened
from tests.live import team
from tests.photos import PDF, jpeg, png, with_gps

pytestmark = pytest.mark.e2e


def kept_files(tablet: Tablet) -> set[str]:
    """The hashes of the files in the tablet's folder."""
    return {path.name for path in tablet.blobs.root.glob("??/*")}


def test_a_photo_is_kept_once_under_its_hash(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened, site=SITE)
    first, row = inspection(tablet, assignment)
    second, _ = inspection(tablet, assignment)
    data = photo(10)
    with tablet.edit(first) as edit:
        one = edit.attach(data, f"instruments/{row}/label_photo").attachment
    scan = tmp_path / "order.pdf"
    scan.write_bytes(PDF)
    with tablet.edit(second) as edit, scan.open("rb") as opened_scan:
        two = edit.attach(data, "premises_photo").attachment
        order = edit.attach(opened_scan, "order_scan", location=here()).attachment
    sha256 = hashlib.sha256(data).hexdigest()
    assert one == two and one.sha256 == sha256 and one.size == len(data)
    assert kept_files(tablet) == {sha256, order.sha256}
    assert (tablet.blobs.root / sha256[:2] / sha256).read_bytes() == data
    assert not list((tablet.blobs.root / ".incoming").iterdir())
    assert order.media_type == "application/pdf" and order.time_source == "device"
    assert order.location is not None and order.location.source == "device"
    assert msgspec.convert(tablet.protocol(second).fields["premises_photo"], Attachment) == one
    (unsent,) = [blob for blob in tablet.blobs.unconfirmed() if blob.sha256 == sha256]
    assert sorted(unsent.docs) == sorted([first, second])


@pytest.mark.parametrize(("data", "field", "code"), [
    (b"GIF89a" + bytes(200), "premises_photo", "unknown_media_type"),
    (jpeg(1, 640, 480)[:5000], "premises_photo", "undecodable"),
    (PDF, "premises_photo", "unaccepted_media_type"),
    (jpeg(2, exif=with_gps(*near_site(900), 5.0)), "premises_photo", "taken_elsewhere"),
])
def test_a_file_that_cannot_be_evidence_is_refused_and_not_kept(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet],
    data: bytes, field: str, code: str,
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened, site=SITE)
    protocol, _ = inspection(tablet, assignment)
    with tablet.edit(protocol) as edit:
        with pytest.raises(AttachmentRefused) as refused:
            edit.attach(data, field)
        assert refused.value.code == code and edit.staged == 0
        with pytest.raises(InvalidOperation):
            edit.attach(png(), "findings")
    assert kept_files(tablet) == set()
    assert "premises_photo" not in tablet.protocol(protocol).fields


def test_a_photo_that_says_it_is_old_is_kept_with_a_warning(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened, site=SITE)
    protocol, _ = inspection(tablet, assignment)
    taken = dt.datetime.now(TASHKENT).replace(microsecond=0) - dt.timedelta(days=3)
    with tablet.edit(protocol) as edit:
        attached = edit.attach(jpeg(3, exif=with_gps(*near_site(), 5.0, taken)), "premises_photo")
    assert attached.attachment.taken_at == taken.isoformat()
    assert attached.attachment.time_source == "photo"
    assert attached.warnings and "more than a day ago" in attached.warnings[0]


def test_a_teammates_photo_is_fetched_when_opened_and_kept_within_the_budget(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (author, reader) = team(admin, server, tmp_path, 2, opened, site=SITE)
    protocol, row = inspection(author, assignment)
    photos = {"premises_photo": photo(20), f"instruments/{row}/label_photo": photo(21)}
    with author.edit(protocol) as edit:
        for path, data in photos.items():
            edit.attach(data, path)
    assert author.sync().uploads.uploaded == 2
    largest = max(len(data) for data in photos.values())
    reader = reopened(reader, opened, pulled_blob_budget=largest)
    assert reader.sync().ok
    with reader.edit(protocol) as edit:  # a photo of the reader's own stays whatever the budget
        own = edit.attach(photo(22), "order_scan").attachment
    assert reader.sync().ok
    assert kept_files(reader) == {own.sha256}  # pulled on demand, not eagerly

    fetched = {path: reader.attachment(protocol, path) for path in photos}
    first, second = photos
    assert fetched[second].read_bytes() == photos[second]
    hashes = {path: hashlib.sha256(data).hexdigest() for path, data in photos.items()}
    assert kept_files(reader) == {own.sha256, hashes[second]}  # the first was evicted
    assert reader.blobs.pulled_bytes() == len(photos[second])

    reader = reopened(reader, opened, blob_transport=Unreachable())
    assert reader.attachment(protocol, second).read_bytes() == photos[second]  # kept: offline
    with pytest.raises(Offline):
        reader.attachment(protocol, first)
