"""The evidence-file endpoints through the real app over AsyncTestClient: what the registry
lacks, uploads in parts and where they stand, limits and bad input as problem details, media
types checked from the bytes, and who may download."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from schemas import PushResponse
from schemas.attachments import Attachment
from server import ServerConfig, create_app
from tests.conftest import ADMIN, Device, enroll, put_assignment
from tests.photos import jpeg, png
from tests.s3 import s3_endpoint, s3_store

__all__ = ["s3_endpoint"]  # the fixture, used here by name

TEMPLATE = "metrology_supervision@2"
LIMIT = 200_000
"""The registry's per-file limit in these tests; a protocol's files may take five times it."""


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    server_config.data_dir.mkdir(parents=True, exist_ok=True)
    server_config.max_blob_bytes = LIMIT
    server_config.max_protocol_blob_bytes = 5 * LIMIT
    return server_config


def declared(data: bytes, media_type: str = "image/jpeg", size: int | None = None) -> Any:
    return msgspec.to_builtins(Attachment(
        hashlib.sha256(data).hexdigest(), len(data) if size is None else size,
        media_type, "2026-11-20T10:05:00+05:00", "device"))  # type: ignore[arg-type]


async def protocol_with(client: AsyncTestClient, device: Device, assignment: str,
                        *photos: Any) -> str:
    """A protocol naming ``photos``, one a row of instruments."""
    doc, create = device.create(assignment, template=TEMPLATE)
    ops = [create] + [device.op(doc, f"instruments/{uuid.uuid4()}",
                                {"type": "scale", "label_photo": value}) for value in photos]
    response = await client.post("/v1/push", headers=device.headers,
                                 content=msgspec.json.encode({"ops": ops}))
    assert response.status_code == 200, response.text
    answer = msgspec.json.decode(response.content, type=PushResponse)
    assert {result.status for result in answer.results} == {"accepted"}, response.text
    return doc


def blob_url(doc: str, data: bytes | str) -> str:
    sha256 = data if isinstance(data, str) else hashlib.sha256(data).hexdigest()
    return f"/v1/protocols/{doc}/blobs/{sha256}"


@pytest.fixture
async def alice(client: AsyncTestClient) -> Device:
    device = await enroll(client, "alice")
    await put_assignment(client, "A", ["alice"])
    return device


def problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


async def test_an_upload_in_parts_goes_on_from_where_the_registry_stands(
    client: AsyncTestClient, alice: Device
) -> None:
    data = jpeg(1, 200, 150)
    doc = await protocol_with(client, alice, "A", declared(data))
    sha256, half, size = hashlib.sha256(data).hexdigest(), len(data) // 2, len(data)
    missing = await client.post("/v1/blobs/missing", headers=alice.headers,
                                json={"hashes": [sha256, "0" * 64, sha256]})
    assert missing.json() == {"missing": {sha256: 0, "0" * 64: 0}}

    first = await client.put(blob_url(doc, data), headers={
        **alice.headers, "Content-Range": f"bytes 0-{half - 1}/{size}"}, content=data[:half])
    assert first.status_code == 200 and first.headers["upload-offset"] == str(half)
    missing = await client.post("/v1/blobs/missing", headers=alice.headers,
                                json={"hashes": [sha256]})
    assert missing.json() == {"missing": {sha256: half}}

    again = await client.put(blob_url(doc, data), headers=alice.headers, content=data)
    problem(again, 409, "upload_offset")
    assert again.headers["upload-offset"] == str(half) and again.json()["offset"] == half

    rest = await client.put(blob_url(doc, data), headers={
        **alice.headers, "Content-Range": f"bytes {half}-{size - 1}/{size}"},
        content=data[half:])
    assert rest.status_code == 201 and rest.headers["upload-offset"] == str(size)
    missing = await client.post("/v1/blobs/missing", headers=alice.headers,
                                json={"hashes": [sha256]})
    assert missing.json() == {"missing": {}}

    whole = await client.get(blob_url(doc, data), headers=alice.headers)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "image/jpeg"
    assert whole.headers["content-security-policy"] == "sandbox"
    tail = await client.get(blob_url(doc, data), headers={**alice.headers,
                                                          "Range": f"bytes={half}-"})
    assert tail.status_code == 206 and tail.content == data[half:]
    assert tail.headers["content-range"] == f"bytes {half}-{size - 1}/{size}"
    once_more = await client.put(blob_url(doc, data), headers=alice.headers, content=data)
    assert once_more.status_code == 200  # held already: nothing read, nothing replaced


async def test_files_past_the_limits_are_refused_before_a_byte_is_read(
    client: AsyncTestClient, alice: Device
) -> None:
    big = jpeg(2, 10, 10)
    doc = await protocol_with(client, alice, "A", declared(big, size=LIMIT + 1))
    problem(await client.put(blob_url(doc, big), headers=alice.headers, content=big), 413,
            "blob_too_large")
    photos = [jpeg(3 + index, 20, 20) for index in range(6)]
    crowded = await protocol_with(client, alice, "A",
                                  *[declared(data, size=LIMIT) for data in photos])
    problem(await client.put(blob_url(crowded, photos[0]), headers=alice.headers,
                             content=photos[0]), 413, "protocol_evidence_too_large")
    small = jpeg(9, 30, 30)
    fine = await protocol_with(client, alice, "A", declared(small))
    problem(await client.put(blob_url(fine, small), headers={
        **alice.headers, "Content-Length": str(LIMIT * 1000)}, content=small + b"\0" * 10),
        413, "blob_too_large")


@pytest.mark.parametrize(("headers", "code"), [
    ({"Content-Range": "bytes=0-9/10"}, "bad_range"),
    ({"Content-Range": "bytes 0-9/10"}, "bad_range"),  # the file is not 10 bytes
    ({"Content-Range": "bytes 9-3/{size}"}, "bad_range"),
])
async def test_a_bad_range_is_refused(client: AsyncTestClient, alice: Device,
                                      headers: dict[str, str], code: str) -> None:
    data = jpeg(4, 40, 30)
    doc = await protocol_with(client, alice, "A", declared(data))
    given = {name: value.format(size=len(data)) for name, value in headers.items()}
    problem(await client.put(blob_url(doc, data), headers={**alice.headers, **given},
                             content=data[:10]), 400, code)


async def test_a_file_is_checked_for_what_its_bytes_are(
    client: AsyncTestClient, alice: Device
) -> None:
    photo, picture, junk = jpeg(5, 40, 30), png(6), b"GIF89a" + bytes(100)
    doc = await protocol_with(client, alice, "A", declared(photo, "image/png"),
                              declared(junk), declared(picture, "image/png"))
    problem(await client.put(blob_url(doc, photo), headers=alice.headers, content=photo), 422,
            "media_type_mismatch")
    problem(await client.put(blob_url(doc, junk), headers=alice.headers, content=junk), 422,
            "unknown_media_type")
    missing = await client.post("/v1/blobs/missing", headers=alice.headers, json={
        "hashes": [hashlib.sha256(photo).hexdigest(), hashlib.sha256(junk).hexdigest()]})
    assert set(missing.json()["missing"].values()) == {0}  # refused files are dropped whole
    assert (await client.put(blob_url(doc, picture), headers=alice.headers,
                             content=picture)).status_code == 201


async def test_who_may_send_and_fetch_a_file(client: AsyncTestClient, alice: Device) -> None:
    carol = await enroll(client, "carol")
    await put_assignment(client, "B", ["carol"])
    data = jpeg(7, 40, 30)
    doc = await protocol_with(client, alice, "A", declared(data))
    problem(await client.put(blob_url(doc, data), headers=carol.headers, content=data), 404,
            "unknown_protocol")
    problem(await client.put(blob_url(doc, "1" * 64), headers=alice.headers, content=data),
            404, "unknown_attachment")
    problem(await client.put(blob_url(doc, "NOT-A-HASH"), headers=alice.headers,
                             content=data), 400, "bad_hash")
    problem(await client.get(blob_url(doc, data), headers=alice.headers), 404, "file_not_arrived")
    assert (await client.put(blob_url(doc, data), headers=alice.headers,
                             content=data)).status_code == 201

    problem(await client.get(blob_url(doc, data), headers=carol.headers), 404,
            "unknown_protocol")
    problem(await client.get(blob_url(doc, data)), 401, "missing_credentials")
    assert (await client.get(blob_url(doc, data), headers=ADMIN)).content == data
    appointed = await client.post("/v1/admin/supervisors/", headers=ADMIN,
                                  json={"id": "sup-1", "full_name": "Supervisor"})
    supervisor = {"Authorization": f"Bearer {appointed.json()['token']}"}
    assert (await client.get(blob_url(doc, data), headers=supervisor)).content == data


async def test_a_supervisor_limited_to_regions_fetches_only_their_protocols_files(
    client: AsyncTestClient, alice: Device
) -> None:
    """A file of a protocol outside a supervisor's regions answers as a protocol they cannot
    see: 404, the same for the file and its thumbnail."""
    placed = await client.put("/v1/admin/reference/inspector/alice", headers=ADMIN, json={
        "id": "alice", "full_name": "Inspector alice", "region": "Toshkent"})
    assert placed.status_code == 200, placed.text
    data = jpeg(8, 40, 30)
    doc = await protocol_with(client, alice, "A", declared(data))
    assert (await client.put(blob_url(doc, data), headers=alice.headers,
                             content=data)).status_code == 201

    async def token(regions: list[str]) -> dict[str, str]:
        appointed = await client.post("/v1/admin/supervisors/", headers=ADMIN, json={
            "id": f"sup-{uuid.uuid4().hex[:8]}", "full_name": "Supervisor", "regions": regions})
        assert appointed.status_code == 201, appointed.text
        return {"Authorization": f"Bearer {appointed.json()['token']}"}

    elsewhere, here = await token(["Samarqand"]), await token(["Toshkent", "Samarqand"])
    for url in (blob_url(doc, data), blob_url(doc, data) + "/thumbnail"):
        problem(await client.get(url, headers=elsewhere), 404, "unknown_protocol")
        assert (await client.get(url, headers=here)).status_code == 200
    problem(await client.get(blob_url(doc, "1" * 64), headers=elsewhere), 404,
            "unknown_protocol")  # whether the protocol names a file is not to be probed either


@pytest.mark.parametrize("hashes", [["0" * 64] * 1001, ["not a hash"], "0" * 64])
async def test_a_bad_question_is_refused(client: AsyncTestClient, alice: Device,
                                         hashes: Any) -> None:
    problem(await client.post("/v1/blobs/missing", headers=alice.headers,
                              json={"hashes": hashes}), 400, "invalid_body")


async def test_a_registry_on_an_s3_bucket_keeps_files_there(
    server_config: ServerConfig, s3_endpoint: str
) -> None:
    bucket = s3_store(s3_endpoint, "registry-evidence")
    server_config.blob_store, server_config.s3_bucket = "s3", "registry-evidence"
    server_config.s3_endpoint_url, server_config.s3_prefix = s3_endpoint, "evidence/"
    data = jpeg(8, 120, 90)
    async with AsyncTestClient(app=create_app(server_config)) as client:
        device = await enroll(client, "dilnoza")
        await put_assignment(client, "S", ["dilnoza"])
        doc = await protocol_with(client, device, "S", declared(data))
        assert (await client.put(blob_url(doc, data), headers=device.headers,
                                 content=data)).status_code == 201
        assert (await client.get(blob_url(doc, data), headers=device.headers)).content == data
    assert b"".join(bucket.get(hashlib.sha256(data).hexdigest())) == data
    assert not (server_config.data_dir / "blobs" / hashlib.sha256(data).hexdigest()[:2]).exists()


async def test_forms_with_attachments_go_to_devices_that_read_them(
    client: AsyncTestClient, alice: Device
) -> None:
    """A tablet older than attachment fields would fail to read a form that has them: only a
    device that says it reads them (``attachments=true``, as client_lib does) is sent them."""
    old = await client.get("/v1/pull", headers=alice.headers)
    new = await client.get("/v1/pull", headers=alice.headers, params={"attachments": "true"})
    assert {t["id"] + "@" + str(t["version"]) for t in old.json()["templates"]} == {
        "metrology_supervision@1", "sampling_act@1"}
    assert {t["id"] + "@" + str(t["version"]) for t in new.json()["templates"]} == {
        "metrology_supervision@1", "metrology_supervision@2", "sampling_act@1", "sampling_act@2"}
