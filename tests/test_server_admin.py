"""The registry's administrator API, enrollment, authentication and its problem details.

Everything goes through the real app over ``AsyncTestClient`` on a fresh SQLite registry.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from litestar.testing import AsyncTestClient

from field_sync.keys import public_key_pem
from server import ServerConfig, create_app
from tests.conftest import ADMIN, ADMIN_TOKEN, Device, add_inspector, enroll, put_assignment

JSON_ONLY = {"Content-Type": "application/json", "Accept": "application/json"}


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    # The app does not create its data directory when an admin token is given (see
    # test_app_starts_on_a_fresh_data_dir_with_a_configured_admin_token); make it here so the
    # other tests exercise the API rather than that startup bug.
    server_config.data_dir.mkdir(parents=True, exist_ok=True)
    return server_config


def assert_problem(response, status: int, code: str) -> dict:
    """``response`` is an RFC 9457 problem with ``status`` and the stable ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["type"] == f"urn:field-sync:problem:{code}"
    return body


def encode_ops(ops: list) -> bytes:
    return msgspec.json.encode({"ops": ops})


async def issue_code(client: AsyncTestClient, inspector_id: str) -> str:
    response = await client.post(f"/v1/admin/inspectors/{inspector_id}/enrollment-codes",
                                 headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["code"]


def p256_pem() -> str:
    return public_key_pem(ec.generate_private_key(ec.SECP256R1()))


async def enroll_with(client: AsyncTestClient, code: str, pem: str):
    return await client.post("/v1/enroll", headers=JSON_ONLY,
                             json={"code": code, "public_key": pem, "device_name": "tablet"})


async def assignments_seen(client: AsyncTestClient, device: Device) -> set[str]:
    response = await client.get("/v1/pull", headers=device.headers)
    assert response.status_code == 200, response.text
    return {assignment["id"] for assignment in response.json()["assignments"]}


# --- health ------------------------------------------------------------------------------------


async def test_health_answers_ok_with_the_server_time(client: AsyncTestClient) -> None:
    before = time.time_ns() // 1_000_000
    response = await client.get("/health")
    after = time.time_ns() // 1_000_000
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert before <= body["server_time_ms"] <= after


async def test_app_starts_on_a_fresh_data_dir_with_a_configured_admin_token(
    tmp_path: Path,
) -> None:
    """With an admin token given (argument or $FIELD_SYNC_ADMIN_TOKEN) the data directory is
    still made at start, and the default SQLite file opens in it: ``serve`` needs no setup."""
    config = ServerConfig(data_dir=tmp_path / "not-yet-there", admin_token=ADMIN_TOKEN)
    async with AsyncTestClient(app=create_app(config)) as fresh:
        response = await fresh.get("/health")
        assert response.status_code == 200


# --- inspectors and enrollment codes -----------------------------------------------------------


async def test_create_inspector_then_the_same_id_again_conflicts(client: AsyncTestClient) -> None:
    response = await client.post("/v1/admin/inspectors", headers=ADMIN,
                                 json={"id": "ins-1", "full_name": "Dilnoza K.",
                                       "region": "Toshkent"})
    assert response.status_code == 201, response.text
    assert response.json() == {"id": "ins-1", "full_name": "Dilnoza K.", "region": "Toshkent"}

    again = await client.post("/v1/admin/inspectors", headers=ADMIN,
                              json={"id": "ins-1", "full_name": "Somebody Else"})
    assert_problem(again, 409, "inspector_exists")

    # The first registration stands: a device enrolled for ins-1 is told the original name.
    device_response = await enroll_with(client, await issue_code(client, "ins-1"), p256_pem())
    assert device_response.status_code == 201, device_response.text
    assert device_response.json()["inspector"]["full_name"] == "Dilnoza K."


@pytest.mark.parametrize("body", [
    {"id": "x", "full_name": "   "},
])
async def test_create_inspector_needs_an_id_and_a_name(client: AsyncTestClient, body) -> None:
    assert_problem(await client.post("/v1/admin/inspectors", headers=ADMIN, json=body),
                   400, "invalid_inspector")


@pytest.mark.parametrize("body", [
    {"id": "x"},
    {"id": "", "full_name": "No Id"},
    {"id": "x", "full_name": "X", "role": "admin"},
    {"id": 5, "full_name": "X"},
])
async def test_create_inspector_with_a_body_of_the_wrong_shape(client: AsyncTestClient,
                                                               body) -> None:
    assert_problem(await client.post("/v1/admin/inspectors", headers=ADMIN, json=body),
                   400, "invalid_body")
    # nothing was registered
    assert_problem(await client.post("/v1/admin/inspectors/x/enrollment-codes", headers=ADMIN),
                   404, "unknown_inspector")


async def test_enrollment_code_for_an_unknown_inspector_is_404(client: AsyncTestClient) -> None:
    response = await client.post("/v1/admin/inspectors/nobody/enrollment-codes", headers=ADMIN)
    assert_problem(response, 404, "unknown_inspector")


async def test_enrollment_code_is_short_qr_alphanumeric_and_expires_later(
    client: AsyncTestClient,
) -> None:
    await add_inspector(client, "ins-2")
    response = await client.post("/v1/admin/inspectors/ins-2/enrollment-codes", headers=ADMIN)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["inspector_id"] == "ins-2"
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", body["code"])
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    second = await issue_code(client, "ins-2")
    assert second != body["code"]


# --- assignments -------------------------------------------------------------------------------


async def test_put_assignment_whose_body_id_differs_from_the_url(client: AsyncTestClient) -> None:
    device = await enroll(client, "alice")
    response = await client.put("/v1/admin/assignments/A-1", headers=ADMIN,
                                json={"id": "A-2", "title": "t", "inspectors": ["alice"]})
    assert_problem(response, 400, "id_mismatch")
    assert await assignments_seen(client, device) == set()


async def test_put_assignment_with_an_unknown_team_member(client: AsyncTestClient) -> None:
    device = await enroll(client, "alice")
    response = await client.put("/v1/admin/assignments/A-1", headers=ADMIN,
                                json={"id": "A-1", "title": "t",
                                      "inspectors": ["alice", "ghost"]})
    body = assert_problem(response, 400, "unknown_inspector")
    assert "ghost" in body["detail"]
    assert await assignments_seen(client, device) == set()  # nothing half-written


async def test_put_assignment_with_an_empty_team(client: AsyncTestClient) -> None:
    response = await client.put("/v1/admin/assignments/A-1", headers=ADMIN,
                                json={"id": "A-1", "title": "t", "inspectors": []})
    assert_problem(response, 400, "invalid_assignment")


async def test_put_assignment_echoes_it_and_replaces_the_team(client: AsyncTestClient) -> None:
    alice = await enroll(client, "alice")
    bob = await enroll(client, "bob")
    body = {"id": "A-1", "title": "Bozor tarozilari", "inspectors": ["alice", "bob"],
            "starts_on": "2025-03-01", "ends_on": "2025-03-31"}
    response = await client.put("/v1/admin/assignments/A-1", headers=ADMIN, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == body
    doc, create = alice.create("A-1")
    pushed = await client.post("/v1/push", headers=alice.headers, content=encode_ops([create]))
    assert pushed.json()["results"][0][1] == "accepted"
    assert (await client.get(f"/v1/protocols/{doc}", headers=bob.headers)).status_code == 200

    await put_assignment(client, "A-1", ["alice"])  # bob leaves the team
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=bob.headers),
                   404, "unknown_protocol")
    edit = bob.op(doc, "findings", "late edit")
    pushed = await client.post("/v1/push", headers=bob.headers, content=encode_ops([edit]))
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["results"][0][1:3] == ["rejected", "out_of_scope"]
    assert (await client.get(f"/v1/protocols/{doc}", headers=alice.headers)).status_code == 200


# --- administrator authentication --------------------------------------------------------------


ADMIN_CALLS = [
    ("POST", "/v1/admin/inspectors", {"id": "mallory", "full_name": "Mallory"}),
    ("POST", "/v1/admin/inspectors/alice/enrollment-codes", None),
    ("PUT", "/v1/admin/assignments/A-9", {"id": "A-9", "title": "t", "inspectors": ["alice"]}),
    ("POST", "/v1/admin/devices/some-device/revoke", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
@pytest.mark.parametrize(("authorization", "code"), [
    (None, "missing_credentials"),
    ("Bearer", "missing_credentials"),
    (f"Basic {ADMIN_TOKEN}", "missing_credentials"),
    ("Bearer not-the-admin-token", "not_admin"),
    (f"Bearer {ADMIN_TOKEN}x", "not_admin"),
])
async def test_admin_endpoints_refuse_a_missing_or_wrong_token(
    client: AsyncTestClient, method: str, path: str, body, authorization, code: str,
) -> None:
    device = await enroll(client, "alice")
    headers = dict(JSON_ONLY)
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.request(method, path, headers=headers, json=body)
    assert_problem(response, 401, code)
    # and nothing happened
    assert_problem(await client.post("/v1/admin/inspectors/mallory/enrollment-codes",
                                     headers=ADMIN), 404, "unknown_inspector")
    assert await assignments_seen(client, device) == set()


async def test_a_device_token_is_not_an_admin_token(client: AsyncTestClient) -> None:
    device = await enroll(client, "alice")
    response = await client.post("/v1/admin/inspectors", headers=device.headers,
                                 json={"id": "mallory", "full_name": "Mallory"})
    assert_problem(response, 401, "not_admin")


# --- revocation --------------------------------------------------------------------------------


async def test_a_revoked_device_can_no_longer_push_pull_or_read(client: AsyncTestClient) -> None:
    tablet = await enroll(client, "alice")
    spare = await enroll(client, "alice")  # the same inspector's second tablet
    await put_assignment(client, "A-1", ["alice"])
    doc, create = tablet.create("A-1")
    pushed = await client.post("/v1/push", headers=tablet.headers, content=encode_ops([create]))
    assert pushed.status_code == 200, pushed.text

    response = await client.post(f"/v1/admin/devices/{tablet.id}/revoke", headers=ADMIN)
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert revoked["device_id"] == tablet.id
    assert datetime.fromisoformat(revoked["revoked_at"]) <= datetime.now(UTC)

    late = tablet.op(doc, "findings", "after revocation")
    assert_problem(await client.post("/v1/push", headers=tablet.headers,
                                     content=encode_ops([late])), 401, "device_revoked")
    assert_problem(await client.get("/v1/pull", headers=tablet.headers), 401, "device_revoked")
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=tablet.headers),
                   401, "device_revoked")

    # the refused push left nothing, and the inspector's other tablet still works
    record = (await client.get(f"/v1/protocols/{doc}", headers=spare.headers)).json()
    assert "findings" not in record["protocol"]["fields"]
    assert record["vector"] == {tablet.id: 1}
    assert (await client.get("/v1/pull", headers=spare.headers)).status_code == 200

    again = await client.post(f"/v1/admin/devices/{tablet.id}/revoke", headers=ADMIN)
    assert again.status_code == 200
    assert again.json() == revoked  # revoking twice keeps the first time


async def test_revoking_an_unknown_device_is_404(client: AsyncTestClient) -> None:
    assert_problem(await client.post("/v1/admin/devices/nope/revoke", headers=ADMIN),
                   404, "unknown_device")


@pytest.mark.parametrize("token", ["", "garbage", "no-dot-here", ".secret", "device."])
async def test_unknown_device_credentials_are_refused(client: AsyncTestClient, token: str) -> None:
    headers = {**JSON_ONLY, "Authorization": f"Bearer {token}"}
    response = await client.get("/v1/pull", headers=headers)
    assert_problem(response, 401, "missing_credentials" if not token else "unknown_device")


async def test_a_device_token_with_a_wrong_secret_is_refused(client: AsyncTestClient) -> None:
    device = await enroll(client, "alice")
    forged = Device(device.id, f"{device.id}.{'A' * 43}", "alice")
    assert_problem(await client.get("/v1/pull", headers=forged.headers), 401, "unknown_device")
    op = forged.op("00000000-0000-4000-8000-000000000000", "findings", "x")
    assert_problem(await client.post("/v1/push", headers=forged.headers,
                                     content=encode_ops([op])), 401, "unknown_device")


# --- enrollment --------------------------------------------------------------------------------


async def test_enrolling_with_a_good_code(client: AsyncTestClient) -> None:
    await add_inspector(client, "alice")
    before = time.time_ns() // 1_000_000
    response = await enroll_with(client, await issue_code(client, "alice"), p256_pem())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["inspector"] == {"id": "alice", "full_name": "Inspector alice"}
    assert body["token"].startswith(body["device_id"] + ".")
    assert body["server_time_ms"] >= before
    device = Device(body["device_id"], body["token"], "alice")
    pulled = await client.get("/v1/pull", headers=device.headers)
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["inspector"]["id"] == "alice"


async def test_a_code_is_accepted_as_typed_by_hand(client: AsyncTestClient) -> None:
    await add_inspector(client, "alice")
    code = await issue_code(client, "alice")
    typed = code.replace("-", " ").lower()
    response = await enroll_with(client, typed, p256_pem())
    assert response.status_code == 201, response.text


async def test_the_same_code_twice_conflicts(client: AsyncTestClient) -> None:
    await add_inspector(client, "alice")
    code = await issue_code(client, "alice")
    first = await enroll_with(client, code, p256_pem())
    assert first.status_code == 201, first.text
    assert_problem(await enroll_with(client, code, p256_pem()), 409, "code_used")


async def test_an_unknown_code_is_unauthorized(client: AsyncTestClient) -> None:
    await add_inspector(client, "alice")
    await issue_code(client, "alice")
    assert_problem(await enroll_with(client, "ABCD-EFGH-JKLM", p256_pem()), 401, "unknown_code")


async def test_an_expired_code_is_unauthorized(client: AsyncTestClient,
                                               server_config: ServerConfig) -> None:
    await add_inspector(client, "alice")
    server_config.enrollment_code_ttl_s = -1
    code = await issue_code(client, "alice")
    assert_problem(await enroll_with(client, code, p256_pem()), 401, "code_expired")


def _pem(key) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa_pem() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def p384_pem() -> str:
    return _pem(ec.generate_private_key(ec.SECP384R1()))


def ed25519_pem() -> str:
    return _pem(ed25519.Ed25519PrivateKey.generate())


def private_p256_pem() -> str:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


def truncated_p256_pem() -> str:
    lines = p256_pem().splitlines()
    return "\n".join([*lines[:2], lines[-1]])


@pytest.mark.parametrize("make_pem", [
    rsa_pem, p384_pem, ed25519_pem, private_p256_pem, truncated_p256_pem,
    lambda: "not a key at all",
    lambda: "",
    lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
], ids=["rsa", "p384", "ed25519", "private-p256", "truncated", "text", "empty", "garbage-pem"])
async def test_a_key_that_is_not_a_p256_public_key_is_refused_and_the_code_kept(
    client: AsyncTestClient, make_pem,
) -> None:
    await add_inspector(client, "alice")
    code = await issue_code(client, "alice")
    assert_problem(await enroll_with(client, code, make_pem()), 400, "invalid_key")
    retry = await enroll_with(client, code, p256_pem())
    assert retry.status_code == 201, retry.text


@pytest.mark.parametrize("body", [
    b'{"code": "ABCD-EFGH-JKLM"}',
    b'{"code": "ABCD-EFGH-JKLM", "public_key": "x", "extra": 1}',
    b"[]",
])
async def test_enroll_with_a_body_of_the_wrong_shape(client: AsyncTestClient, body: bytes) -> None:
    response = await client.post("/v1/enroll", headers=JSON_ONLY, content=body)
    assert_problem(response, 400, "invalid_body")


async def test_enroll_with_a_malformed_body(client: AsyncTestClient) -> None:
    response = await client.post("/v1/enroll", headers=JSON_ONLY, content=b'{"code": ')
    assert_problem(response, 400, "malformed_body")


async def test_enroll_over_messagepack(client: AsyncTestClient) -> None:
    await add_inspector(client, "alice")
    code = await issue_code(client, "alice")
    response = await client.post(
        "/v1/enroll", headers={"Content-Type": "application/msgpack"},
        content=msgspec.msgpack.encode({"code": code, "public_key": p256_pem()}))
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/msgpack"
    body = msgspec.msgpack.decode(response.content)
    device = Device(body["device_id"], body["token"], "alice")
    await put_assignment(client, "A-1", ["alice"])
    _doc, create = device.create("A-1")
    pushed = await client.post("/v1/push", headers=device.headers, content=encode_ops([create]))
    assert pushed.json()["results"] == [[1, "accepted", "", ""]]
