"""Evidence photos end to end: tablets over real HTTP against a real registry process, real
files on both sides.

A photo is attached and the protocol signed offline; its upload survives the registry killed
twice and the tablet's own transfer cut once, and completes with the same bytes at the registry,
where the protocol waited (``awaiting_evidence``) until they arrived. What the seal covers
cannot change after signing, a required photo cannot be left out on either side, forged bytes
are refused, and a gigabyte pushed at the registry does not make it grow.
"""

from __future__ import annotations

import hashlib
import io
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from PIL import Image

import client_lib.tablet
from client_lib import HttpBlobTransport, SigningRefused, Tablet
from client_lib.errors import Offline
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer, MemoryWatch
from schemas.attachments import Attachment
from tests.evidence import SITE, Unreachable, here, inspection, photo, reopened
from tests.live import administrator, fresh_code, registry_process, team
from tests.photos import PDF, jpeg
from tests.test_document import pdftotext

pytestmark = pytest.mark.e2e

def registry_status(server: LocalServer, number: str) -> str:
    answer = httpx.get(f"{server.url}/v1/registry/protocols", params={"number": number},
                       headers={"Authorization": f"Bearer {server.admin_token}",
                                "Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    (found,) = answer.json()["protocols"]
    return str(found["status"])


def verdict(server: LocalServer, seal: str) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/v1/verify/{seal.rsplit('/', 1)[-1]}",
                       headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def device(tablet: Tablet) -> dict[str, str]:
    return {"Authorization": f"Bearer {tablet.store.get('token')}"}


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A registry of this module's own, which its tests may kill and restart."""
    with registry_process(tmp_path_factory.mktemp("evidence-registry")) as running:
        yield running


@pytest.fixture
def own_admin(own_server: LocalServer) -> Iterator[AdminClient]:
    with administrator(own_server) as client:
        yield client


class Cuts(HttpBlobTransport):
    """The HTTP blob transport with its uploads cut: at each fraction of a file, the action
    given (kill the registry, or nothing: the tablet's own transfer drops); it records where
    each upload began."""

    def __init__(self, base_url: str, cuts: list[tuple[float, Callable[[], None]]]) -> None:
        super().__init__(base_url)
        self.cuts = cuts
        self.starts: list[int] = []

    def upload(self, token: str, protocol_id: str, sha256: str, offset: int, size: int,
               chunks: Iterable[bytes]) -> int:
        self.starts.append(offset)
        cut = self.cuts.pop(0) if self.cuts else None

        def watched() -> Iterator[bytes]:
            sent = offset
            for chunk in chunks:
                yield chunk
                sent += len(chunk)
                if cut is not None and sent >= cut[0] * size:
                    time.sleep(0.2)  # let the registry write what it received
                    cut[1]()
                    raise Offline("the connection was cut")

        return super().upload(token, protocol_id, sha256, offset, size, watched())


def test_a_photo_signed_offline_reaches_the_registry_through_three_cuts(
    own_admin: AdminClient, own_server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    server = own_server
    assignment, (tablet,) = team(own_admin, server, tmp_path, 1, opened, site=SITE)
    protocol, row = inspection(tablet, assignment)
    data = photo(1, 1600, 1200)  # some 2.5 MB: ten chunks of 256 KB
    with tablet.edit(protocol) as edit:
        attached = edit.attach(data, f"instruments/{row}/label_photo")
    assert attached.attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert attached.attachment.location is not None
    assert attached.attachment.location.source == "photo" and attached.warnings == ()
    seal = tablet.sign(protocol, fresh_code(tablet), here()).signed.seal  # type: ignore[union-attr]
    number = tablet.protocol(protocol).fields["number"]

    def kill() -> None:
        server.stop(signal.SIGKILL)

    cuts = Cuts(server.url, [(0.25, kill), (0.5, lambda: None), (0.75, kill)])
    tablet = reopened(tablet, opened, blob_transport=cuts)

    first = tablet.sync()  # the ops and the signature go; the photo is cut at a quarter
    assert first.offline and first.accepted > 0 and first.uploads.uploaded == 0
    assert tablet.status(protocol)[0] == "awaiting_evidence"
    server.start()
    assert registry_status(server, number) == "awaiting_evidence"
    said = verdict(server, seal)
    assert said["verdict"] == "not_registered" and "evidence" in said["reason"]

    second = tablet.sync()  # resumed, then the tablet's own transfer drops at half
    assert second.offline and second.uploads.resumed == 1
    third = tablet.sync()  # resumed, then the registry is killed at three quarters
    assert third.offline and third.uploads.resumed == 1
    server.start()
    last = tablet.sync()
    assert last.ok and last.uploads.uploaded == 1 and last.uploads.resumed == 1, last
    assert cuts.starts[0] == 0 and len(cuts.starts) >= 4
    assert cuts.starts == sorted(cuts.starts) and cuts.starts[-1] >= 0.5 * len(data)

    # The registry holds the same bytes, registered the protocol, and the seal verifies.
    sha256 = attached.attachment.sha256
    kept = httpx.get(f"{server.url}/v1/protocols/{protocol}/blobs/{sha256}",
                     headers=device(tablet))
    assert kept.status_code == 200 and hashlib.sha256(kept.content).hexdigest() == sha256
    stored = server.data_dir / "blobs" / sha256[:2] / sha256
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha256
    assert not list((server.data_dir / "blobs" / "incoming").iterdir())
    assert tablet.status(protocol) == ("registered", [])
    assert registry_status(server, number) == "registered"
    assert verdict(server, seal)["verdict"] == "genuine"
    assert tablet.verify(seal).genuine


def test_an_attachment_cannot_change_after_signing(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """A teammate who has not heard of the signature replaces the photo: the registry keeps
    the change aside (``protocol_signed``) and the signed photo stays."""
    assignment, (signer, teammate) = team(admin, server, tmp_path, 2, opened, site=SITE)
    protocol, row = inspection(signer, assignment)
    path = f"instruments/{row}/label_photo"
    with signer.edit(protocol) as edit:
        signed_photo = edit.attach(photo(2), path).attachment
    assert signer.sync().ok and teammate.sync().ok
    signer.sign(protocol, fresh_code(signer), here())
    with pytest.raises(client_lib.ProtocolSigned):
        signer.edit(protocol)
    assert signer.sync().ok
    assert signer.status(protocol) == ("registered", [])

    with teammate.edit(protocol) as edit:  # offline, the old state
        edit.attach(photo(3), path)
    report = teammate.sync()
    assert report.rejected == 1 and report.uploads.waiting == 1
    (refused,) = teammate.rejections()
    assert (refused.op.path, refused.code) == (path, "protocol_signed")
    record = admin.protocol(protocol)
    assert [op.path for op in record.held] == [path]
    kept = record.protocol.collections["instruments"][row]["label_photo"]
    assert msgspec.convert(kept, Attachment) == signed_photo
    assert teammate.protocol(protocol).collections["instruments"][row]["label_photo"] == kept


def test_a_required_photo_missing_is_refused_on_both_sides(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened, site=SITE)
    protocol, row = inspection(tablet, assignment)
    with pytest.raises(SigningRefused) as refused:
        tablet.sign(protocol, fresh_code(tablet), here())
    assert [(b.rule, b.code) for b in refused.value.breaches] == [(7, "attachment_missing")]
    assert tablet.status(protocol) == ("draft", [])

    # A tablet that skips its own rules signs anyway: the registry quarantines the protocol.
    monkeypatch.setattr(client_lib.tablet, "check_rules", lambda _context: [])
    tablet.sign(protocol, fresh_code(tablet), here())
    assert tablet.sync().ok
    status, reasons = tablet.status(protocol)
    assert status == "quarantined"
    assert reasons == [f"rule 7 attachment_missing: instruments/{row}/label_photo: a required "
                       "attachment is missing"]


def test_a_forged_file_is_refused_and_the_right_one_taken(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """The protocol names a photo by its hash; bytes of the same length but other content,
    sent under that hash, are refused whole and dropped; the photo itself is then taken."""
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened, site=SITE)
    protocol, row = inspection(tablet, assignment)
    tablet = reopened(tablet, opened, blob_transport=Unreachable())
    real = photo(4)
    with tablet.edit(protocol) as edit:
        edit.attach(real, f"instruments/{row}/label_photo")
    assert tablet.sync().offline  # the op went; the file did not
    sha256 = hashlib.sha256(real).hexdigest()
    url = f"{server.url}/v1/protocols/{protocol}/blobs/{sha256}"
    forged = jpeg(5, 640, 480)[:len(real)].ljust(len(real), b"\0")

    answer = httpx.put(url, content=forged, headers=device(tablet))
    assert answer.status_code == 422 and answer.json()["code"] == "blob_mismatch"
    assert httpx.get(url, headers=device(tablet)).json()["code"] == "file_not_arrived"
    missing = httpx.post(f"{server.url}/v1/blobs/missing", json={"hashes": [sha256]},
                         headers={**device(tablet), "Accept": "application/json"})
    assert missing.json() == {"missing": {sha256: 0}}

    tablet = reopened(tablet, opened)
    assert tablet.sync().uploads.uploaded == 1
    assert httpx.get(url, headers=device(tablet)).content == real


def test_a_gigabyte_upload_is_refused_without_the_registry_growing(
    own_admin: AdminClient, own_server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """A protocol names a 20 MB photo (its field's limit); a device sends a gigabyte under its
    hash, in one chunked body, and then announces one. The registry reads no further than the
    20 MB, refuses with 413, keeps nothing, and its resident memory stays where it was."""
    server = own_server
    assignment, (tablet,) = team(own_admin, server, tmp_path, 1, opened, site=SITE)
    protocol, _ = inspection(tablet, assignment)
    sha256 = hashlib.sha256(b"never sent").hexdigest()
    declared = msgspec.to_builtins(Attachment(sha256, 20 * 1024 * 1024, "image/jpeg",
                                              "2026-11-20T10:05:00+05:00", "device"))
    with tablet.edit(protocol) as edit:
        edit.set("premises_photo", declared)
    assert tablet.sync().ok
    url = f"{server.url}/v1/protocols/{protocol}/blobs/{sha256}"
    megabyte = b"\0" * (1 << 20)

    def gigabyte() -> Iterator[bytes]:
        for _ in range(1024):
            yield megabyte

    assert server.process is not None
    with MemoryWatch(server.process.pid) as watch:
        try:
            answer = httpx.put(url, content=gigabyte(), headers=device(tablet), timeout=120)
            assert answer.status_code == 413 and answer.json()["code"] == "blob_too_large"
        except httpx.TransportError:
            pass  # the registry answered and closed while the body was still coming
        announced = httpx.put(url, content=gigabyte(), timeout=120, headers={
            **device(tablet), "Content-Length": str(1 << 30)})
        assert announced.status_code == 413, announced.text
    assert watch.growth < 16 * 1024 * 1024, (watch.start, watch.peak)
    assert not (server.data_dir / "blobs" / "incoming" / f"{sha256}.part").exists()
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_the_printed_protocol_shows_the_photos_the_same_on_both_sides(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    """The tablet, offline right after signing, and the registry print the same bytes, with
    each photo's thumbnail, when and how far from the site it was taken; the verification
    page shows none of it; the console's thumbnail is made once and kept."""
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened, site=SITE)
    protocol, row = inspection(tablet, assignment)
    with tablet.edit(protocol) as edit:
        label = edit.attach(photo(30, metres=40), f"instruments/{row}/label_photo").attachment
        edit.attach(photo(31, 480, 640), "premises_photo")
        edit.attach(PDF, "order_scan", location=here())
    seal = tablet.sign(protocol, fresh_code(tablet), here()).signed.seal  # type: ignore[union-attr]
    assert tablet.sync().ok and tablet.status(protocol)[0] == "registered"

    for lang in ("en", "ru"):
        printed = tablet.render_pdf(protocol, lang)
        served = httpx.get(f"{server.url}/v1/protocols/{protocol}/document.pdf",
                           params={"lang": lang}, headers=device(tablet))
        assert served.status_code == 200 and served.content == printed
    text = pdftotext(tablet.render_pdf(protocol, "en"), tmp_path)
    (Path(tmp_path) / "printed.pdf").write_bytes(tablet.render_pdf(protocol, "en"))
    assert "Evidence" in text and "Photo 1. Photo of the premises" in text
    assert "Document 2. Inspection order (scan)" in text and "PDF document, 1 KB" in text
    assert "Photo 3. Photo of the verification label" in text and "scale SN-1" in text
    assert "40 m from the site (the photo's GPS)" in " ".join(text.split())
    assert "Taken" in text and "(camera's clock)" in text
    listed = subprocess.run(["pdfimages", "-list", "-"], input=tablet.render_pdf(protocol, "en"),
                            capture_output=True, check=True).stdout.decode()
    assert len([line for line in listed.splitlines()[2:] if " image " in line]) == 2

    page = httpx.get(f"{server.url}/v/{seal.rsplit('/', 1)[-1]}")
    assert page.status_code == 200 and "/blobs/" not in page.text
    assert label.sha256 not in page.text

    thumbnail = f"{server.url}/v1/protocols/{protocol}/blobs/{label.sha256}/thumbnail"
    answer = httpx.get(thumbnail, headers={"Authorization": f"Bearer {server.admin_token}"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(answer.content)) as made:
        assert max(made.size) == 480
    assert (server.data_dir / "blobs" / "thumbnails" / f"{label.sha256}.jpg").read_bytes() == \
        answer.content
