"""Hostile input against a real `field-sync serve`: each class of request that once crashed the
registry with a 500 now gets a 4xx problem detail with a stable code, and changes nothing.

The classes: integers past 64 bits, days at the calendar's end, bodies nested a thousand deep
(JSON and MessagePack, plain or compressed), a CSV field past the csv module's limit, keys and
text the database cannot hold (too long, or with a NUL, which PostgreSQL refuses), and an op
kept aside on a signed protocol with a value the registry could not send back.
"""

from __future__ import annotations

import gzip
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest
import zstandard
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib import Tablet
from field_sync import pack
from field_sync.keys import public_key_pem
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment
from server import Database
from tests.live import complete_protocol, fresh_code, team
from tests.unchanged import snapshot

pytestmark = pytest.mark.e2e

TEMPLATE = "metrology_supervision@1"
DEEP = 1000
"""How deep the bodies that once crashed the registry nest."""


@dataclass(frozen=True)
class Callers:
    """Who sends the hostile requests: the administrator, an enrolled device, a supervisor."""

    admin: dict[str, str]
    device: dict[str, str]
    supervisor: dict[str, str]
    device_id: str
    kid: str
    assignment: str


def _json_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
            "Accept": "application/json"}


@pytest.fixture(scope="module")
def callers(server: LocalServer) -> Iterator[Callers]:
    suffix = secrets.token_hex(4)
    inspector, assignment = f"hostile-{suffix}", f"hostile-{suffix}"
    admin = AdminClient(server.url, server.admin_token)
    try:
        admin.create_inspector(inspector, "Hostile Tester")
        admin.put_assignment(Assignment(assignment, "hostile input", (inspector,)))
        code = admin.enrollment_code(inspector)
    finally:
        admin.close()
    key = ec.generate_private_key(ec.SECP256R1())
    enrolled = httpx.post(f"{server.url}/v1/enroll", json={
        "code": code, "public_key": public_key_pem(key)}, headers={"Accept": "application/json"})
    assert enrolled.status_code == 201, enrolled.text
    admin_headers = _json_headers(server.admin_token)
    appointed = httpx.post(f"{server.url}/v1/admin/supervisors/", headers=admin_headers,
                           json={"id": f"sup-{suffix}", "full_name": "Hostile Supervisor"})
    assert appointed.status_code == 201, appointed.text
    yield Callers(admin_headers, _json_headers(enrolled.json()["token"]),
                  _json_headers(appointed.json()["token"]), enrolled.json()["device_id"],
                  enrolled.json()["kid"], assignment)


Send = Callable[[httpx.Client, Callers], httpx.Response]


def refused(server: LocalServer, database: Database, callers: Callers, send: Send,
            code: str) -> httpx.Response:
    """Send a hostile request: a 4xx problem detail with ``code``, and nothing changed."""
    before = snapshot(database)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        response = send(http, callers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text
    assert snapshot(database) == before
    return response


def _push(body: bytes, content_type: str = "application/json",
          encoding: str = "identity") -> Send:
    def send(http: httpx.Client, callers: Callers) -> httpx.Response:
        return http.post("/v1/push", content=body, headers={
            **callers.device, "Content-Type": content_type, "Content-Encoding": encoding})
    return send


def _deep_json_op(callers: Callers) -> bytes:
    return b'{"ops": [["%s", 1, "%s", "conclusion", %s, 1]]}' % (
        callers.device_id.encode(), str(uuid.uuid4()).encode(), b"[" * DEEP + b"]" * DEEP)


def _deep_msgpack_op(callers: Callers) -> bytes:
    head = msgspec.msgpack.encode({"ops": [[callers.device_id, 1, str(uuid.uuid4()),
                                            "conclusion", None, 1]]})
    # the op's value (nil, 0xc0) becomes a list in a list... a thousand deep
    return head.replace(b"\xc0", b"\x91" * DEEP + b"\xc0")


# -- integers past 64 bits (or past their column) -------------------------------------------

BIG = str(2**70)
INTEGERS: dict[str, tuple[Send, str]] = {
    "audit after": (lambda http, c: http.get("/v1/supervisor/audit", params={"after": BIG},
                                             headers=c.admin), "invalid_parameter"),
    "audit after, past its 32-bit column": (lambda http, c: http.get(
        "/v1/supervisor/audit", params={"after": str(2**31)}, headers=c.supervisor),
        "invalid_parameter"),
    "audit negative limit": (lambda http, c: http.get(
        "/v1/supervisor/audit", params={"limit": "-1"}, headers=c.supervisor),
        "invalid_parameter"),
    "pull cursor": (lambda http, c: http.get("/v1/pull", params={"cursor": f"{BIG}.0.0.{BIG}.."},
                                             headers=c.device), "bad_cursor"),
    "pull cursor at 2**63": (lambda http, c: http.get(
        "/v1/pull", params={"cursor": f"0.0.0.{2**63}.."}, headers=c.device), "bad_cursor"),
    "key revocation time": (lambda http, c: http.post(
        f"/v1/admin/keys/{c.kid}/revoke", content=b'{"after_ms": %d}' % 2**63,
        headers=c.admin), "invalid_body"),
}


@pytest.mark.parametrize("case", INTEGERS)
def test_an_integer_past_64_bits_is_refused(server: LocalServer, database: Database,
                                            callers: Callers, case: str) -> None:
    send, code = INTEGERS[case]
    errors = refused(server, database, callers, send, code).json().get("errors", [])
    assert all(error["source"] in ("query", "path") for error in errors)


# -- days at the end of the calendar ------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/registry/protocols", "/v1/registry/export"])
def test_the_last_day_of_the_calendar_is_a_day_like_any_other(
        server: LocalServer, callers: Callers, path: str) -> None:
    """``signed_to=9999-12-31`` selects what was signed up to the end of the calendar, as no
    upper bound does; a day past the calendar is a bad parameter, and the first day selects
    everything signed."""
    with httpx.Client(base_url=server.url, headers=callers.supervisor, timeout=60) as http:
        unbounded = http.get(path, params={"status": "registered"})
        last_day = http.get(path, params={"status": "registered", "signed_to": "9999-12-31"})
        first_day = http.get(path, params={"status": "registered", "signed_from": "0001-01-01"})
        after_the_end = http.get(path, params={"signed_from": "9999-12-31"})
        past = http.get(path, params={"signed_to": "10000-01-01"})
    assert unbounded.status_code == last_day.status_code == first_day.status_code == 200, \
        last_day.text
    assert last_day.content == unbounded.content == first_day.content
    assert after_the_end.status_code == 200
    assert b"registered" not in after_the_end.content
    assert (past.status_code, past.json()["code"]) == (400, "invalid_parameter")


# -- bodies nested a thousand deep --------------------------------------------------------------

NESTED: dict[str, tuple[Send, str]] = {
    "push, JSON": (lambda http, c: _push(_deep_json_op(c))(http, c), "too_deep"),
    "push, gzipped JSON": (lambda http, c: _push(gzip.compress(_deep_json_op(c)),
                                                 encoding="gzip")(http, c), "too_deep"),
    "push, MessagePack": (lambda http, c: _push(_deep_msgpack_op(c),
                                                "application/msgpack")(http, c), "too_deep"),
    "push, MessagePack in Zstandard": (lambda http, c: _push(
        zstandard.ZstdCompressor().compress(_deep_msgpack_op(c)), "application/msgpack",
        "zstd")(http, c), "too_deep"),
    "reference record": (lambda http, c: http.put(
        "/v1/admin/reference/entity/301245678", headers=c.admin,
        content=b'{"tin": "301245678", "name": %s}' % (b"[" * DEEP + b"]" * DEEP)),
        "invalid_body"),
}


@pytest.mark.parametrize("case", NESTED)
def test_a_body_nested_a_thousand_deep_is_refused(server: LocalServer, database: Database,
                                                  callers: Callers, case: str) -> None:
    send, code = NESTED[case]
    refused(server, database, callers, send, code)


def test_an_imported_line_nested_a_thousand_deep_is_reported_and_not_stored(
        server: LocalServer, database: Database, callers: Callers) -> None:
    """An import reports a bad line and goes on; the deep line is one."""
    lines = b'{"kind": "entity", "tin": "301245679", "name": %s}\n' % (
        b"{\"a\": " * DEEP + b"1" + b"}" * DEEP)
    before = snapshot(database)
    response = httpx.post(f"{server.url}/v1/admin/import", params={"format": "jsonl"},
                          headers=callers.admin, content=lines)
    assert response.status_code == 200, response.text
    assert [(row["line"], row["field"]) for row in response.json()["rejected"]] == [(1, "line")]
    assert response.json()["stored"] == 0
    assert snapshot(database) == before


# -- a CSV field past 128 KB ----------------------------------------------------------------------

def test_a_csv_field_past_the_limit_refuses_the_file(server: LocalServer, database: Database,
                                                     callers: Callers) -> None:
    """The csv module reads no field past 128 KB and cannot go on after one: the file is
    refused whole, and the good line before it is not stored either."""
    body = ("id,full_name\n" + f"hostile-csv-{secrets.token_hex(3)},Good Row\n"
            + "hostile-csv-long," + "x" * (128 * 1024 + 1) + "\n").encode()
    response = refused(server, database, callers, lambda http, c: http.post(
        "/v1/admin/import", params={"kind": "inspector", "format": "csv"}, content=body,
        headers={**c.admin, "Content-Type": "text/csv"}), "malformed_file")
    assert "line 3" in response.json()["detail"]


# -- keys and text the database cannot hold -------------------------------------------------------

LONG_KEY = "k" * 65
UNSTORABLE: dict[str, tuple[Send, str]] = {
    "inspector id past its column": (lambda http, c: http.post(
        "/v1/admin/inspectors", json={"id": LONG_KEY, "full_name": "Long"}, headers=c.admin),
        "invalid_body"),
    "NUL in a name": (lambda http, c: http.post(
        "/v1/admin/inspectors", json={"id": "nul-name", "full_name": "N\u0000L"},
        headers=c.admin), "invalid_body"),
    "supervisor id past its column": (lambda http, c: http.post(
        "/v1/admin/supervisors/", json={"id": LONG_KEY, "full_name": "Long"}, headers=c.admin),
        "invalid_body"),
    "reference key past its column": (lambda http, c: http.put(
        f"/v1/admin/reference/inspector/{LONG_KEY}", json={"id": LONG_KEY, "full_name": "L"},
        headers=c.admin), "invalid_parameter"),
    "NUL in a search": (lambda http, c: http.get(
        "/v1/registry/protocols", params={"number": "TR\u0000"}, headers=c.supervisor),
        "invalid_parameter"),
    "NUL in an assignment's team": (lambda http, c: http.put(
        f"/v1/admin/assignments/{c.assignment}", headers=c.admin, json={
            "id": c.assignment, "title": "t", "inspectors": ["x\u0000"]}), "invalid_body"),
    "NUL in a cursor": (lambda http, c: http.get(
        "/v1/pull", params={"cursor": "0.0.0.0.\u0000."}, headers=c.device), "invalid_parameter"),
    "NUL in a check by number": (lambda http, _c: http.get(
        "/v1/check", params={"number": "TR\u0000", "stir": "301245678"}), "invalid_parameter"),
    "NUL in a registry number searched": (lambda http, c: http.get(
        "/v1/registry/protocols", params={"registry_number": "R\u0000"}, headers=c.supervisor),
        "invalid_parameter"),
    "NUL in an entity's name searched": (lambda http, c: http.get(
        "/v1/registry/export", params={"entity": "Oʻzbek\u0000"}, headers=c.admin),
        "invalid_parameter"),
    "NUL in a region searched": (lambda http, c: http.get(
        "/v1/registry/protocols", params={"region": "Toshkent\u0000"}, headers=c.admin),
        "invalid_parameter"),
    "NUL in a quarantine rule": (lambda http, c: http.get(
        "/v1/supervisor/quarantine", params={"rule": "outside\u0000"}, headers=c.supervisor),
        "invalid_parameter"),
    "NUL in an audit actor": (lambda http, c: http.get(
        "/v1/supervisor/audit", params={"actor": "admin\u0000"}, headers=c.supervisor),
        "invalid_parameter"),
    "a site's region with a line break": (lambda http, c: http.put(
        "/v1/admin/reference/site/hostile-site", headers=c.admin, json={
            "id": "hostile-site", "entity_tin": "301245678", "name": "Ombor", "lat": "41.3",
            "lon": "69.2", "radius_m": "100", "region": "Toshkent\nSamarqand"}), "invalid_record"),
    "an inspector's position past its column": (lambda http, c: http.put(
        "/v1/admin/reference/inspector/hostile-position", headers=c.admin, json={
            "id": "hostile-position", "full_name": "P", "position": "p" * 201}),
        "invalid_record"),
    "NUL in a supervisor's region": (lambda http, c: http.post(
        "/v1/admin/supervisors/", headers=c.admin, json={
            "id": "sup-nul-region", "full_name": "R", "regions": ["Toshkent\u0000"]}),
        "invalid_body"),
    "a supervisor's region past its column": (lambda http, c: http.post(
        "/v1/admin/supervisors/", headers=c.admin, json={
            "id": "sup-long-region", "full_name": "R", "regions": ["r" * 101]}),
        "invalid_body"),
    "NUL in the reason a protocol is cleared": (lambda http, c: http.post(
        f"/v1/supervisor/protocols/{uuid.uuid4()}/clear", headers=c.supervisor,
        json={"reason": "because\u0000"}), "invalid_body"),
}


@pytest.mark.parametrize("case", UNSTORABLE)
def test_a_key_or_text_the_database_cannot_hold_is_refused(
        server: LocalServer, database: Database, callers: Callers, case: str) -> None:
    send, code = UNSTORABLE[case]
    refused(server, database, callers, send, code)


@pytest.mark.parametrize("seal", ["%00", "A%00B", "9" * 20_000, "%F0%9F%A7%AD" * 50,
                                  "HC1:%25%25%25", "..%2F..%2Fadmin"])
def test_the_verification_page_reads_any_seal_without_failing(server: LocalServer,
                                                              seal: str) -> None:
    """The page a QR opens is not in the API's document (it is a page), so the schemathesis
    run does not reach it: whatever a forged QR carries, it answers a page, never a 500."""
    for path in ("v", "V"):
        page = httpx.get(f"{server.url}/{path}/{seal}", timeout=60)
        assert page.status_code < 500, page.text
        assert page.headers["content-type"].startswith(("text/html", "application/problem+json"))


def test_an_op_naming_a_protocol_template_or_correction_with_a_nul_is_refused_alone(
        server: LocalServer, database: Database, callers: Callers) -> None:
    """Names an op carries are looked up in the database, where PostgreSQL can store and
    compare no NUL: each such op is refused with its own code, and nothing changes."""
    stamp = pack(int(time.time() * 1000), 0)
    create = {"_template": TEMPLATE, "_assignment": callers.assignment}
    ops = [[callers.device_id, 1, "\u0000" + str(uuid.uuid4())[1:], "conclusion", "x", stamp],
           [callers.device_id, 2, str(uuid.uuid4()), "", {**create, "_template": "m\u0000"},
            stamp + 1],
           [callers.device_id, 3, str(uuid.uuid4()), "", {**create, "_supersedes": "\u0000"},
            stamp + 2]]
    before = snapshot(database)
    pushed = httpx.post(f"{server.url}/v1/push", headers=callers.device,
                        content=json.dumps({"ops": ops}))
    assert pushed.status_code == 200, pushed.text
    assert [tuple(result[1:3]) for result in pushed.json()["results"]] == [
        ("rejected", "bad_doc"), ("rejected", "unknown_template"),
        ("rejected", "cannot_supersede")]
    assert snapshot(database) == before
    page = httpx.get(f"{server.url}/check", params={"number": "TR\u0000", "stir": "301245678"})
    assert page.status_code == 400  # the form says what is wrong with the number


def test_a_biometric_credential_already_enrolled_is_a_conflict(
        server: LocalServer, database: Database, callers: Callers) -> None:
    """A second tablet cannot enroll a WebAuthn credential another one holds; its code is
    not used up by the refusal."""
    admin = AdminClient(server.url, server.admin_token)
    try:
        inspector = f"hostile-bio-{secrets.token_hex(3)}"
        admin.create_inspector(inspector, "Hostile Biometric")
        first, second = admin.enrollment_code(inspector), admin.enrollment_code(inspector)
    finally:
        admin.close()
    credential = f"cred-{secrets.token_hex(4)}"

    def enroll(code: str, credential_id: str) -> httpx.Response:
        key = ec.generate_private_key(ec.SECP256R1())
        return httpx.post(f"{server.url}/v1/enroll", headers={"Accept": "application/json"},
                          json={"code": code, "public_key": public_key_pem(key),
                                "biometric_credential_id": credential_id,
                                "biometric_public_key": "AAAA"})

    assert enroll(first, credential).status_code == 201
    refused(server, database, callers, lambda _http, _c: enroll(second, credential),
            "credential_in_use")
    assert enroll(second, f"{credential}-2").status_code == 201


def test_a_draft_field_too_long_for_its_search_column_is_kept_unsearchable(
        server: LocalServer, callers: Callers) -> None:
    """A draft may hold any text its form takes; the columns registry queries search by hold
    it only where it fits (PostgreSQL refuses a longer value, and any NUL)."""
    doc = str(uuid.uuid4())
    create = [callers.device_id, 1, doc, "", {
        "_template": TEMPLATE, "_assignment": callers.assignment, "entity_tin": "3" * 20,
        "number": "TR\u0000-1"}, pack(int(time.time() * 1000), 0)]
    pushed = httpx.post(f"{server.url}/v1/push", headers=callers.device,
                        content=json.dumps({"ops": [create]}))
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["results"][0][1] == "accepted"
    record = httpx.get(f"{server.url}/v1/protocols/{doc}", headers=callers.admin).json()
    assert (record["protocol"]["fields"]["entity_tin"], record["protocol"]["fields"]["number"]) \
        == ("3" * 20, "TR\u0000-1")
    listed = httpx.get(f"{server.url}/v1/registry/protocols",
                       params={"inspector": "", "status": "draft"}, headers=callers.supervisor)
    assert listed.status_code == 200
    mine = [entry for entry in listed.json()["protocols"] if entry["id"] == doc]
    assert mine and "entity_tin" not in mine[0] and "number" not in mine[0]


# -- an op kept aside on a signed protocol -------------------------------------------------------

def test_an_op_kept_aside_must_have_a_value_the_registry_can_send_back(
        admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]) -> None:
    """Ops that come after a signature are kept aside as they came and shown with the
    protocol: one whose value has no canonical form (a MessagePack extension, a float) or
    whose path holds a NUL is refused instead, and the protocol still reads."""
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    protocol = complete_protocol(tablet, assignment, f"TR-2026-{secrets.randbelow(10**7):07d}")
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    tablet.sign(protocol, fresh_code(tablet))
    assert tablet.sync().ok
    stamp = pack(int(time.time() * 1000), 0)
    headers = {"Authorization": f"Bearer {tablet.store.get('token')}",
               "Content-Type": "application/msgpack", "Accept": "application/json"}
    ops = [[tablet.device_id, 10_000, protocol, "conclusion", msgspec.msgpack.Ext(1, b"x"),
            stamp], [tablet.device_id, 10_001, protocol, "conclusion", 1.5, stamp + 1],
           [tablet.device_id, 10_002, protocol, "conclu\u0000sion", "x", stamp + 2],
           [tablet.device_id, 10_003, protocol, "conclusion", "compliant", stamp + 3]]
    pushed = httpx.post(f"{server.url}/v1/push", headers=headers,
                        content=msgspec.msgpack.encode({"ops": ops}))
    assert pushed.status_code == 200, pushed.text
    assert [tuple(result[1:3]) for result in pushed.json()["results"]] == [
        ("rejected", "bad_value"), ("rejected", "bad_value"), ("rejected", "bad_path"),
        ("rejected", "protocol_signed")]
    record = httpx.get(f"{server.url}/v1/protocols/{protocol}", headers={
        "Authorization": f"Bearer {server.admin_token}", "Accept": "application/json"})
    assert record.status_code == 200, record.text
    assert [op[1] for op in record.json()["held"]] == [10_003]
