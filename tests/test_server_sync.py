"""Push, pull and the registry copy of a protocol, through the real app over AsyncTestClient."""

from __future__ import annotations

import gzip
import random
import time
import uuid
from dataclasses import dataclass

import msgspec
import pytest
import zstandard
from litestar.testing import AsyncTestClient

from field_sync import DocumentState, Register, pack
from schemas import Op, PulledPage, PullResponse, PushResponse
from schemas.packed import is_packed, unpack_registers
from server import Database, ServerConfig
from server.data.tables import ProtocolRow
from tests.conftest import ADMIN, TEMPLATE, Device, enroll, put_assignment
from tests.inprocess import written

MSGPACK = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}
MINUTE_MS = 60_000


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    # The app does not create its data directory when an admin token is given (a startup bug,
    # pinned by test_server_admin.py); make it here so these tests exercise sync.
    server_config.data_dir.mkdir(parents=True, exist_ok=True)
    return server_config


@dataclass
class Teams:
    """alice and bob are the team of assignment A; carol alone is the team of B."""

    alice: Device
    bob: Device
    carol: Device


@pytest.fixture
async def teams(client: AsyncTestClient) -> Teams:
    alice, bob, carol = [await enroll(client, name) for name in ("alice", "bob", "carol")]
    await put_assignment(client, "A", ["alice", "bob"])
    await put_assignment(client, "B", ["carol"])
    return Teams(alice, bob, carol)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def row_id() -> str:
    return str(uuid.uuid4())


async def push(client: AsyncTestClient, device: Device, ops: list[Op], *,
               msgpack: bool = False) -> PushResponse:
    """Push ``ops`` as ``device``; the response must be 200 and one result per op."""
    if msgpack:
        headers = {**device.headers, **MSGPACK}
        response = await client.post("/v1/push", headers=headers,
                                     content=msgspec.msgpack.encode({"ops": ops}))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/msgpack"
        decoded = msgspec.msgpack.decode(response.content, type=PushResponse)
    else:
        response = await client.post("/v1/push", headers=device.headers,
                                     content=msgspec.json.encode({"ops": ops}))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        decoded = msgspec.json.decode(response.content, type=PushResponse)
    assert [result.seq for result in decoded.results] == [op.seq for op in ops]
    return decoded


def outcomes(response: PushResponse) -> list[tuple[str, str]]:
    """``(status, code)`` of every result, in order."""
    return [(result.status, result.code) for result in response.results]


async def pull(client: AsyncTestClient, device: Device, cursor: str = "", *,
               msgpack: bool = False, states: bool = False) -> PullResponse:
    params = {"cursor": cursor} if cursor else {}
    if states:
        params["states"] = "true"
    if msgpack:
        headers = {"Authorization": device.headers["Authorization"],
                   "Accept": "application/msgpack"}
        response = await client.get("/v1/pull", headers=headers, params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/msgpack"
        return msgspec.msgpack.decode(response.content, type=PullResponse)
    response = await client.get("/v1/pull", headers=device.headers, params=params)
    assert response.status_code == 200, response.text
    return msgspec.json.decode(response.content, type=PullResponse)


async def pull_all(client: AsyncTestClient, device: Device,
                   cursor: str = "") -> tuple[list[PullResponse], str]:
    """Every page of a pull run, and the cursor the last page handed back."""
    pages = [await pull(client, device, cursor)]
    while pages[-1].more:
        assert len(pages) < 50, "a pull run that never ends"
        pages.append(await pull(client, device, pages[-1].cursor))
    return pages, pages[-1].cursor


async def record(client: AsyncTestClient, doc: str, headers: dict[str, str] = ADMIN) -> dict:
    """The registry's copy of ``doc``."""
    response = await client.get(f"/v1/protocols/{doc}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def create_protocol(client: AsyncTestClient, device: Device, assignment: str = "A",
                          **fields: str) -> str:
    doc, create = device.create(assignment)
    ops = [create, *(device.op(doc, name, value) for name, value in fields.items())]
    assert {status for status, _ in outcomes(await push(client, device, ops))} == {"accepted"}
    return doc


def assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["title"] and body["detail"] and body["type"].endswith(code)


# --- push: results ----------------------------------------------------------------------------


async def test_push_answers_every_op_in_order(client: AsyncTestClient, teams: Teams) -> None:
    alice = teams.alice
    doc, create = alice.create("A")
    instrument = row_id()
    ops = [
        create,
        alice.op(doc, "conclusion", "compliant"),
        alice.op(doc, "conclusion", "perhaps"),
        alice.op(doc, f"instruments/{instrument}", {"type": "Tarozi", "serial": "T-1"}),
        alice.op(doc, "no_such_field", "x"),
        alice.op(doc, "findings", "seal intact"),
    ]
    before = now_ms()
    response = await push(client, alice, ops)
    assert outcomes(response) == [
        ("accepted", ""), ("accepted", ""), ("rejected", "bad_value"), ("accepted", ""),
        ("rejected", "unknown_field"), ("accepted", ""),
    ]
    assert all(result.reason for result in response.results if result.status == "rejected")
    assert before <= response.server_time_ms <= now_ms()

    copy = (await record(client, doc))["protocol"]
    assert copy["template"] == TEMPLATE and copy["assignment"] == "A"
    assert copy["fields"] == {"conclusion": "compliant", "findings": "seal intact"}
    assert copy["collections"] == {"instruments": {instrument: {"type": "Tarozi",
                                                                "serial": "T-1"}}}

    # one more push mixes a duplicate with a new op
    edit = alice.op(doc, "prescription", "recalibrate")
    assert outcomes(await push(client, alice, [ops[1], edit])) == [
        ("duplicate", ""), ("accepted", "")]


async def test_the_same_batch_twice_is_all_duplicates_and_changes_nothing(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice = teams.alice
    doc, create = alice.create("A")
    row = row_id()
    batch = [create, alice.op(doc, "entity_tin", "123456789"),
             alice.op(doc, f"instruments/{row}", {"type": "Manometr", "serial": "M-7"}),
             alice.op(doc, f"instruments/{row}/seal_intact", True)]
    assert {status for status, _ in outcomes(await push(client, alice, batch))} == {"accepted"}
    first = await record(client, doc)
    _pages, cursor = await pull_all(client, teams.bob)

    assert outcomes(await push(client, alice, batch)) == [("duplicate", "")] * len(batch)
    assert outcomes(await push(client, alice, batch, msgpack=True)) == [("duplicate", "")] * 4
    assert await record(client, doc) == first
    assert first["vector"] == {alice.id: 4}
    assert (await pull(client, teams.bob, cursor)).changes == []


async def test_a_duplicate_is_recognised_by_its_id_even_in_the_same_batch(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice = teams.alice
    doc, create = alice.create("A")
    edit = alice.op(doc, "findings", "once")
    assert outcomes(await push(client, alice, [create, edit, edit])) == [
        ("accepted", ""), ("accepted", ""), ("duplicate", "")]


# --- push: one bad op never fails the batch ----------------------------------------------------


def bad_ops(device: Device, doc: str, measurement: str) -> list[tuple[Op, str]]:
    """Ops no replica may apply, each with the code it must be refused with."""
    return [
        (device.op(doc, "no_such_field", "x"), "unknown_field"),
        (device.op(doc, "no_such_collection/" + row_id() + "/x", "x"), "unknown_field"),
        (device.op(doc, f"measurements/{measurement}/nominal", 10), "bad_value"),
        (device.op(doc, f"measurements/{measurement}/nominal", "10,5"), "bad_value"),
        (device.op(doc, "started_at", "yesterday"), "bad_value"),
        (device.op(doc, f"instruments/{row_id()}/seal_intact", "yes"), "bad_value"),
        (device.op(doc, f"measurements/{measurement}/error", "0.1"), "computed_field"),
        (device.op(doc, f"measurements/{measurement}/pass", True), "computed_field"),
        (device.op(doc, "conclusion", "mostly_fine"), "bad_value"),
        (device.op(doc, "conclusion", {"value": "compliant"}), "bad_value"),
        (device.op(doc, "entity_name", "x" * 201), "bad_value"),
        (device.op(doc, "_template", "sampling_act@1"), "meta_immutable"),
        (device.op(doc, "_supersedes", row_id()), "meta_immutable"),
        (device.op(doc, "", {"_supersedes": row_id()}), "meta_immutable"),
        (device.op(doc, f"instruments/{row_id()}/_deleted", "yes"), "bad_value"),
        (device.op(doc, "instruments/NOT-A-UUID/serial", "x"), "bad_path"),
        (device.op(doc, "", {"conclusion": "mostly_fine"}), "bad_value"),
        (device.op(doc, "", {"findings": {"nested": "x"}}), "bad_value"),
        (device.op(doc, "", {"_freeze": {"vector": {}, "content_hash": ""}}), "bad_value"),
    ]


async def test_bad_ops_are_refused_one_by_one_and_leave_nothing(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice = teams.alice
    doc, create = alice.create("A")
    measurement = row_id()
    setup = [create, alice.op(doc, f"measurements/{measurement}",
                              {"nominal": "10.0", "indication": "10.02", "mpe": "0.05",
                               "unit": "kg"})]
    assert outcomes(await push(client, alice, setup)) == [("accepted", "")] * 2
    before = await record(client, doc)
    assert before["protocol"]["collections"]["measurements"][measurement]["error"] == "0.02"

    bad = bad_ops(alice, doc, measurement)
    response = await push(client, alice, [op for op, _ in bad])
    assert outcomes(response) == [("rejected", code) for _, code in bad]

    after = await record(client, doc)
    assert after == before  # same content, same hash, same version vector


async def test_a_bad_op_does_not_stop_the_good_ones_around_it(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice = teams.alice
    doc, create = alice.create("A")
    measurement = row_id()
    ops = [
        create,
        alice.op(doc, "no_such_field", "x"),
        alice.op(doc, "number", "MN-2025-0042"),
        alice.op(doc, f"measurements/{measurement}/error", "0.1"),
        alice.op(doc, f"measurements/{measurement}/nominal", "5.000"),
        alice.op(doc, "conclusion", "mostly_fine"),
        alice.op(doc, "conclusion", "non_compliant"),
    ]
    assert outcomes(await push(client, alice, ops)) == [
        ("accepted", ""), ("rejected", "unknown_field"), ("accepted", ""),
        ("rejected", "computed_field"), ("accepted", ""), ("rejected", "bad_value"),
        ("accepted", ""),
    ]
    copy = await record(client, doc)
    assert copy["protocol"]["fields"] == {"number": "MN-2025-0042",
                                          "conclusion": "non_compliant"}
    assert copy["protocol"]["collections"] == {"measurements": {measurement:
                                                                {"nominal": "5.000"}}}

    # a refused op leaves its seq free: the device's corrected op with that seq is accepted
    fixed = Op(alice.id, ops[1].seq, doc, "findings", "x", pack(now_ms(), 0))
    assert outcomes(await push(client, alice, [fixed])) == [("accepted", "")]
    assert (await record(client, doc))["protocol"]["fields"]["findings"] == "x"


async def test_a_refused_creating_op_creates_nothing(client: AsyncTestClient,
                                                     teams: Teams) -> None:
    alice = teams.alice
    doc = str(uuid.uuid4())
    bad_create = alice.op(doc, "", {"_template": TEMPLATE, "_assignment": "A",
                                    "conclusion": "mostly_fine"})
    follow = alice.op(doc, "findings", "x")
    assert outcomes(await push(client, alice, [bad_create, follow])) == [
        ("rejected", "bad_value"), ("rejected", "unknown_protocol")]
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=ADMIN),
                   404, "unknown_protocol")
    pages, _ = await pull_all(client, alice)
    assert [op for page in pages for op in page.changes] == []


# --- push: rejections by rule ------------------------------------------------------------------


async def test_ops_of_another_actor_are_refused(client: AsyncTestClient, teams: Teams) -> None:
    alice, bob = teams.alice, teams.bob
    doc = await create_protocol(client, alice, conclusion="compliant")
    before = await record(client, doc)
    forged = bob.op(doc, "conclusion", "non_compliant")
    forged_create = bob.create("A")[1]
    response = await push(client, alice, [forged, forged_create])
    assert outcomes(response) == [("rejected", "foreign_actor")] * 2
    assert await record(client, doc) == before
    # the forged op took nothing from bob: his own push of that op is new, not a duplicate
    assert outcomes(await push(client, bob, [forged])) == [("accepted", "")]


async def test_ops_stamped_too_far_in_the_future_are_refused(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice = teams.alice
    doc = await create_protocol(client, alice)
    before = await record(client, doc)
    ahead = alice.op(doc, "findings", "from the future", hlc=pack(now_ms() + 6 * MINUTE_MS, 0))
    far = alice.op(doc, "number", "N-1", hlc=pack(now_ms() + 365 * 24 * 60 * MINUTE_MS, 0))
    response = await push(client, alice, [ahead, far])
    assert outcomes(response) == [("rejected", "clock_ahead")] * 2
    assert await record(client, doc) == before

    # a slightly fast clock is tolerated, and the refused ops can be re-stamped and re-sent
    slightly = alice.op(doc, "prescription", "ok", hlc=pack(now_ms() + 2 * MINUTE_MS, 0))
    restamped = [msgspec.structs.replace(op, hlc=pack(now_ms(), i)) for i, op in
                 enumerate([ahead, far], start=1)]
    assert outcomes(await push(client, alice, [slightly, *restamped])) == [("accepted", "")] * 3
    fields = (await record(client, doc))["protocol"]["fields"]
    assert fields == {"prescription": "ok", "findings": "from the future", "number": "N-1"}


async def test_an_op_for_an_unknown_protocol_without_its_creating_op(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice = teams.alice
    doc = str(uuid.uuid4())
    response = await push(client, alice, [alice.op(doc, "conclusion", "compliant")])
    assert outcomes(response) == [("rejected", "unknown_protocol")]
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=ADMIN),
                   404, "unknown_protocol")


@pytest.mark.parametrize("template", ["no_such_template@1", "metrology_supervision@99", "", 7])
async def test_a_creating_op_with_an_unknown_template(client: AsyncTestClient, teams: Teams,
                                                      template) -> None:
    alice = teams.alice
    doc = str(uuid.uuid4())
    create = alice.op(doc, "", {"_template": template, "_assignment": "A"})
    response = await push(client, alice, [create, alice.op(doc, "conclusion", "compliant")])
    assert outcomes(response) == [("rejected", "unknown_template"),
                                  ("rejected", "unknown_protocol")]
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=ADMIN),
                   404, "unknown_protocol")


async def test_the_second_built_in_template_can_be_used(client: AsyncTestClient,
                                                        teams: Teams) -> None:
    alice = teams.alice
    doc, create = alice.create("A", template="sampling_act@1")
    edit = alice.op(doc, "product_name", "Un")
    assert outcomes(await push(client, alice, [create, edit])) == [("accepted", "")] * 2
    assert (await record(client, doc))["protocol"]["template"] == "sampling_act@1"


async def test_creating_a_protocol_in_another_teams_assignment_is_out_of_scope(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice = teams.alice
    doc, create = alice.create("B")
    _, nowhere = alice.create("no-such-assignment")
    response = await push(client, alice, [create, alice.op(doc, "findings", "x"), nowhere])
    assert outcomes(response) == [("rejected", "out_of_scope"), ("rejected", "unknown_protocol"),
                                  ("rejected", "out_of_scope")]
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=ADMIN),
                   404, "unknown_protocol")


async def test_editing_another_teams_protocol_is_out_of_scope(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice, carol = teams.alice, teams.carol
    doc = await create_protocol(client, carol, "B", conclusion="compliant")
    before = await record(client, doc)
    attempts = [
        alice.op(doc, "conclusion", "non_compliant"),
        alice.op(doc, f"instruments/{row_id()}", {"type": "x", "serial": "y"}),
        alice.op(doc, "", {"_template": TEMPLATE, "_assignment": "A"}),  # re-create as ours
    ]
    assert outcomes(await push(client, alice, attempts)) == [("rejected", "out_of_scope")] * 3
    assert await record(client, doc) == before


async def test_a_protocol_cannot_be_moved_to_another_assignment(
    client: AsyncTestClient, teams: Teams,
) -> None:
    """A protocol's assignment is fixed when it is created: moving it would leave its content
    and the registry's scope checks disagreeing about whose it is."""
    alice, carol = teams.alice, teams.carol
    doc = await create_protocol(client, alice, conclusion="compliant")
    before = await record(client, doc)

    response = await push(client, alice, [alice.op(doc, "_assignment", "B")])
    assert outcomes(response) == [("rejected", "meta_immutable")]
    assert await record(client, doc) == before
    # alice's team still owns and edits it; carol's team does not
    assert outcomes(await push(client, alice, [alice.op(doc, "findings", "ok")])) == [
        ("accepted", "")]
    assert outcomes(await push(client, carol, [carol.op(doc, "findings", "mine")])) == [
        ("rejected", "out_of_scope")]


async def test_who_may_read_a_protocol_follows_its_assignment(client: AsyncTestClient,
                                                              teams: Teams) -> None:
    """Even between two of the device's own assignments a protocol cannot be re-filed: who may
    read it is decided by the assignment it was created in."""
    alice, bob = teams.alice, teams.bob
    dave = await enroll(client, "dave")
    await put_assignment(client, "C", ["alice", "dave"])
    doc = await create_protocol(client, alice, conclusion="compliant")

    response = await push(client, alice, [alice.op(doc, "_assignment", "C")])
    assert outcomes(response) == [("rejected", "meta_immutable")]
    assert (await record(client, doc))["protocol"]["assignment"] == "A"
    assert (await client.get(f"/v1/protocols/{doc}", headers=bob.headers)).status_code == 200
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=dave.headers),
                   404, "unknown_protocol")


@pytest.mark.parametrize("assignment", [["A"], {"id": "A"}, 5, None, ""])
async def test_a_creating_op_whose_assignment_is_not_a_name_is_refused(
    client: AsyncTestClient, teams: Teams, assignment,
) -> None:
    """An assignment that is not a name (a list, a map, a number, null, empty) refuses that one
    op; the ops beside it go through."""
    alice = teams.alice
    doc = str(uuid.uuid4())
    good_doc, good_create = alice.create("A")
    create = alice.op(doc, "", {"_template": TEMPLATE, "_assignment": assignment})
    response = await push(client, alice, [good_create, create])
    assert outcomes(response)[0] == ("accepted", "")
    assert response.results[1].status == "rejected"
    assert (await record(client, good_doc))["protocol"]["assignment"] == "A"


async def test_an_op_with_a_seq_beyond_64_bits_is_refused_cleanly(
    client: AsyncTestClient, teams: Teams,
) -> None:
    """A seq past the 64-bit column (2**63) is refused per op, not a server error."""
    alice = teams.alice
    doc = await create_protocol(client, alice)
    huge = Op(alice.id, 2**63, doc, "findings", "x", pack(now_ms(), 0))
    response = await client.post("/v1/push", headers=alice.headers,
                                 content=msgspec.json.encode({"ops": [huge]}))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["results"][0][1] == "rejected"
    assert "findings" not in (await record(client, doc))["protocol"]["fields"]


@pytest.mark.parametrize(("doc", "seq", "code"), [
    ("not-a-uuid", 1, "bad_doc"),
    ("6F9619FF-8B86-D011-B42D-00C04FC964FF", 1, "bad_doc"),
    (None, 0, "bad_seq"),
    (None, -3, "bad_seq"),
])
async def test_ops_with_a_bad_id_are_refused(client: AsyncTestClient, teams: Teams,
                                             doc, seq: int, code: str) -> None:
    alice = teams.alice
    doc = doc or str(uuid.uuid4())
    op = Op(alice.id, seq, doc, "", {"_template": TEMPLATE, "_assignment": "A"},
            pack(now_ms(), 0))
    assert outcomes(await push(client, alice, [op])) == [("rejected", code)]


# --- push: the request as a whole --------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{", b'{"ops": [', b"not json", b""])
async def test_a_malformed_body_is_400(client: AsyncTestClient, teams: Teams,
                                       body: bytes) -> None:
    response = await client.post("/v1/push", headers=teams.alice.headers, content=body)
    assert_problem(response, 400, "malformed_body")


@pytest.mark.parametrize("body", [
    {"ops": "x"},
    {"ops": [["actor", 1, "doc", "path", "value"]]},
    {"ops": [{"actor": "a", "seq": 1}]},
    {"ops": [], "extra": True},
    {},
    [],
])
async def test_a_body_of_the_wrong_shape_is_400(client: AsyncTestClient, teams: Teams,
                                                body) -> None:
    response = await client.post("/v1/push", headers=teams.alice.headers,
                                 content=msgspec.json.encode(body))
    assert_problem(response, 400, "invalid_body")


async def test_a_malformed_messagepack_body_is_400(client: AsyncTestClient,
                                                   teams: Teams) -> None:
    headers = {**teams.alice.headers, **MSGPACK}
    response = await client.post("/v1/push", headers=headers, content=b"\xc1")
    assert_problem(response, 400, "malformed_body")
    response = await client.post("/v1/push", headers=headers,
                                 content=msgspec.msgpack.encode({"ops": 5}))
    assert_problem(response, 400, "invalid_body")


async def test_a_batch_over_the_limit_is_413_and_changes_nothing(
    server_config: ServerConfig, client: AsyncTestClient, teams: Teams,
) -> None:
    server_config.max_batch_ops = 3
    alice = teams.alice
    doc, create = alice.create("A")
    ops = [create, *(alice.op(doc, "findings", f"v{i}") for i in range(3))]
    response = await client.post("/v1/push", headers=alice.headers,
                                 content=msgspec.json.encode({"ops": ops}))
    assert_problem(response, 413, "batch_too_large")
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=ADMIN),
                   404, "unknown_protocol")
    # at the limit it goes through, and nothing of the refused batch was logged
    assert outcomes(await push(client, alice, ops[:3])) == [("accepted", "")] * 3


def _zstd(body: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(body)


def _zstd_unsized(body: bytes) -> bytes:
    """As a streaming compressor writes it: the frame does not state its size."""
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    return compressor.compress(body) + compressor.flush()


_COMPRESS = {"gzip": gzip.compress, "zstd": _zstd, "zstd unsized": _zstd_unsized}


@pytest.mark.parametrize("encoding", list(_COMPRESS))
async def test_a_compressed_push_is_taken_and_a_pull_comes_back_gzipped(
    client: AsyncTestClient, teams: Teams, encoding: str,
) -> None:
    alice = teams.alice
    doc, create = alice.create("A")
    ops = [create, *(alice.op(doc, "findings", f"finding {i}") for i in range(40))]
    compress = _COMPRESS[encoding]
    body = compress(msgspec.json.encode({"ops": ops}))
    response = await client.post("/v1/push", content=body, headers={
        **alice.headers, "Content-Encoding": encoding.split()[0]})
    assert response.status_code == 200, response.text
    answer = msgspec.json.decode(response.content, type=PushResponse)
    assert outcomes(answer) == [("accepted", "")] * len(ops)
    page = await client.get("/v1/pull", headers={**alice.headers, "Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"  # the test client has inflated it
    assert doc in {op.doc for op in msgspec.json.decode(page.content, type=PullResponse).changes}


async def test_a_client_that_takes_zstandard_gets_it_page_and_stream_alike(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice = teams.alice
    creates = [alice.create("A")[1] for _ in range(250)]  # two chunks of an export stream
    creates = [msgspec.structs.replace(op, value={**op.value, "number": f"Z-{op.seq}"})
               for op in creates]
    assert {status for status, _ in outcomes(await push(client, alice, creates))} == {"accepted"}
    pages = {}
    for encoding in ("zstd", "gzip"):
        page = await client.get("/v1/pull", params={"states": "true"},
                                headers={**alice.headers, "Accept-Encoding": encoding})
        assert page.headers["content-encoding"] == encoding  # the test client decoded it
        pages[encoding] = msgspec.structs.replace(
            msgspec.json.decode(page.content, type=PullResponse), server_time_ms=0,
            registry_time=None)
    assert pages["zstd"] == pages["gzip"] and len(pages["zstd"].states) == len(creates)

    export = await client.get("/v1/registry/export", params={"format": "jsonl"},
                              headers={**ADMIN, "Accept-Encoding": "zstd"})
    assert export.status_code == 200 and export.headers["content-encoding"] == "zstd"
    numbers = {msgspec.json.decode(line)["summary"]["number"]
               for line in export.content.splitlines()}
    assert numbers == {f"Z-{op.seq}" for op in creates}


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
async def test_a_bad_body_encoding_is_refused_and_changes_nothing(
    server_config: ServerConfig, client: AsyncTestClient, teams: Teams, encoding: str,
) -> None:
    alice = teams.alice
    doc, create = alice.create("A")
    plain = msgspec.json.encode({"ops": [create, *(alice.op(doc, "findings", f"finding {i}")
                                                   for i in range(40))]})
    compress = _COMPRESS[encoding]
    headers = {**alice.headers, "Content-Encoding": encoding}
    # Cut where what came through is whole JSON (white space that packs into several blocks
    # follows it): only the compressed form says that it is short.
    spaces = random.Random(7)
    padded = plain + bytes(spaces.choice(b" \t\r\n") for _ in range(300_000))
    cut_unsized = _zstd_unsized(padded) if encoding == "zstd" else compress(padded)
    malformed_bodies = [plain, b"", compress(plain)[:4], compress(plain)[:-12],
                        compress(padded)[:-12], cut_unsized[:-12],
                        compress(plain) + compress(plain)]  # two pieces
    if encoding == "zstd":  # a frame that asks for a 128 MB window to inflate it in
        wide = zstandard.ZstdCompressionParameters.from_level(1, window_log=27)
        packer = zstandard.ZstdCompressor(compression_params=wide).compressobj()
        malformed_bodies.append(packer.compress(plain) + packer.flush())
    for malformed in malformed_bodies:
        assert_problem(await client.post("/v1/push", headers=headers, content=malformed),
                       400, "malformed_body")
    assert_problem(await client.post("/v1/push", content=plain,
                                     headers={**alice.headers, "Content-Encoding": "br"}),
                   415, "unsupported_encoding")
    # a small body that inflates past the body limit is refused as a large one would be
    padding = " " * (server_config.max_body_bytes + 1)
    for pack_bomb in (compress, _zstd_unsized) if encoding == "zstd" else (compress,):
        bomb = pack_bomb(msgspec.json.encode({"ops": [create], "pad": padding}))
        assert len(bomb) < server_config.max_body_bytes // 100
        assert_problem(await client.post("/v1/push", headers=headers, content=bomb),
                       413, "body_too_large")
    assert_problem(await client.get(f"/v1/protocols/{doc}", headers=ADMIN),
                   404, "unknown_protocol")
    assert outcomes(await push(client, alice, [create])) == [("accepted", "")]


async def test_push_and_pull_need_a_device(client: AsyncTestClient, teams: Teams) -> None:
    op = teams.alice.create("A")[1]
    no_auth = {"Content-Type": "application/json"}
    assert_problem(await client.post("/v1/push", headers=no_auth,
                                     content=msgspec.json.encode({"ops": [op]})),
                   401, "missing_credentials")
    assert_problem(await client.get("/v1/pull"), 401, "missing_credentials")
    # the administrator is not a device either
    assert_problem(await client.post("/v1/push", headers=ADMIN,
                                     content=msgspec.json.encode({"ops": [op]})),
                   401, "unknown_device")


async def test_messagepack_gives_the_same_results_as_json(client: AsyncTestClient,
                                                          teams: Teams) -> None:
    def batch(device: Device, other: Device) -> list[Op]:
        doc, create = device.create("A")
        measurement = row_id()
        return [
            create,
            device.op(doc, "conclusion", "compliant"),
            device.op(doc, f"measurements/{measurement}",
                      {"nominal": "1.0", "indication": "1.2", "mpe": "0.1", "unit": "V"}),
            device.op(doc, f"measurements/{measurement}/error", "0.2"),
            device.op(doc, "conclusion", "unsure"),
            device.op(doc, "no_such_field", 1),
            other.op(doc, "findings", "forged"),
            device.op(doc, "findings", "late", hlc=pack(now_ms() + 10 * MINUTE_MS, 0)),
            device.op(str(uuid.uuid4()), "findings", "orphan"),
        ]

    alice, bob, carol = teams.alice, teams.bob, teams.carol
    as_json = batch(alice, carol)
    as_msgpack = batch(bob, carol)
    json_results = outcomes(await push(client, alice, as_json))
    msgpack_results = outcomes(await push(client, bob, as_msgpack, msgpack=True))
    assert json_results == msgpack_results == [
        ("accepted", ""), ("accepted", ""), ("accepted", ""), ("rejected", "computed_field"),
        ("rejected", "bad_value"), ("rejected", "unknown_field"), ("rejected", "foreign_actor"),
        ("rejected", "clock_ahead"), ("rejected", "unknown_protocol"),
    ]
    via_json, via_msgpack = (await record(client, as_json[0].doc),
                             await record(client, as_msgpack[0].doc))
    assert via_json["protocol"]["fields"] == via_msgpack["protocol"]["fields"]
    rows = [next(iter(copy["protocol"]["collections"]["measurements"].values()))
            for copy in (via_json, via_msgpack)]
    assert rows[0] == rows[1] == {"nominal": "1.0", "indication": "1.2", "mpe": "0.1",
                                  "unit": "V", "error": "0.2", "pass": False}

    # a pull reads the same in either encoding
    carols = [await pull(client, carol, msgpack=True), await pull(client, carol)]
    assert msgspec.structs.replace(carols[0], server_time_ms=0, registry_time=None) == \
        msgspec.structs.replace(carols[1], server_time_ms=0, registry_time=None)
    json_page, msgpack_page = await pull(client, alice), await pull(client, alice, msgpack=True)
    assert msgpack_page.changes == json_page.changes
    assert msgpack_page.cursor == json_page.cursor


async def test_the_reply_follows_accept_then_content_type(client: AsyncTestClient,
                                                          teams: Teams) -> None:
    alice = teams.alice
    body = msgspec.msgpack.encode({"ops": [alice.create("A")[1]]})
    auth = {"Authorization": alice.headers["Authorization"]}
    answer = await client.post("/v1/push", content=body,
                               headers={**auth, "Content-Type": "application/msgpack",
                                        "Accept": "application/json"})
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["results"] == [[1, "accepted", "", ""]]
    answer = await client.post("/v1/push", content=body,
                               headers={**auth, "Content-Type": "application/msgpack"})
    assert answer.headers["content-type"] == "application/msgpack"
    assert msgspec.msgpack.decode(answer.content)["results"] == [[1, "duplicate", "", ""]]


# --- pull --------------------------------------------------------------------------------------


async def test_first_pull_brings_templates_assignments_and_the_teams_protocols(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice, bob, carol = teams.alice, teams.bob, teams.carol
    ours = await create_protocol(client, alice, conclusion="compliant")
    theirs = await create_protocol(client, carol, "B", conclusion="non_compliant")

    page = await pull(client, bob)
    assert not page.more
    assert {template.ref for template in page.templates} == {"metrology_supervision@1",
                                                             "sampling_act@1"}
    assert [(a.id, a.inspectors) for a in page.assignments] == [("A", ("alice", "bob"))]
    assert page.inspector is not None and page.inspector.id == "bob"
    assert {op.doc for op in page.changes} == {ours}
    assert {op.path: op.value for op in page.changes} == {
        "_template": TEMPLATE, "_assignment": "A", "conclusion": "compliant"}
    assert {op.actor for op in page.changes} == {alice.id}

    carols = await pull(client, carol)
    assert {op.doc for op in carols.changes} == {theirs}
    assert [a.id for a in carols.assignments] == ["B"]


async def test_a_device_never_sees_another_teams_protocols(client: AsyncTestClient,
                                                           teams: Teams) -> None:
    alice, carol = teams.alice, teams.carol
    _, cursor = await pull_all(client, alice)
    hidden = await create_protocol(client, carol, "B", findings="secret")
    edit = carol.op(hidden, "conclusion", "compliant")
    assert outcomes(await push(client, carol, [edit])) == [("accepted", "")]
    visible = await create_protocol(client, alice)
    for start in ("", cursor):
        pages, _ = await pull_all(client, alice, start)
        docs = {op.doc for page in pages for op in page.changes}
        assert hidden not in docs
        assert visible in docs
        assert all(a.id == "A" for page in pages for a in page.assignments)


async def test_the_cursor_advances_and_a_second_pull_brings_nothing_new(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice, bob = teams.alice, teams.bob
    doc = await create_protocol(client, alice, conclusion="compliant")
    first = await pull(client, bob)
    assert first.changes and first.cursor

    second = await pull(client, bob, first.cursor)
    assert (second.changes, second.templates, second.assignments, second.more) == (
        [], [], [], False)
    assert second.cursor == first.cursor

    # a new edit moves the cursor on and arrives alone
    edit = alice.op(doc, "findings", "new")
    assert outcomes(await push(client, alice, [edit])) == [("accepted", "")]
    third = await pull(client, bob, second.cursor)
    assert third.changes == [edit]
    assert third.cursor != second.cursor
    assert (await pull(client, bob, third.cursor)).changes == []


async def test_paging_sends_every_protocol_exactly_once(
    server_config: ServerConfig, client: AsyncTestClient, teams: Teams,
) -> None:
    server_config.pull_page_protocols = 2
    alice, bob = teams.alice, teams.bob
    docs = []
    together = [alice.create("A") for _ in range(3)]  # three in one push: one change number
    assert outcomes(await push(client, alice, [op for _, op in together])) == [
        ("accepted", "")] * 3
    docs += [doc for doc, _ in together]
    docs += [await create_protocol(client, alice, number=f"N-{i}") for i in range(2)]

    pages, cursor = await pull_all(client, bob)
    assert len(pages) == 3
    assert [page.more for page in pages] == [True, True, False]
    per_page = [{op.doc for op in page.changes} for page in pages]
    assert [len(docs_on_page) for docs_on_page in per_page] == [2, 2, 1]
    assert set().union(*per_page) == set(docs)
    # Reference data comes once per run, on its last page (whose cursor covers it).
    assert pages[-1].templates and pages[-1].assignments
    assert not any(page.templates or page.assignments for page in pages[:-1])
    assert (await pull(client, bob, cursor)).changes == []

    # a limit below the page size is honoured, above it is refused, and one that is no
    # number of protocols is not a limit at all
    response = await client.get("/v1/pull", headers=bob.headers, params={"limit": 1})
    assert response.status_code == 200 and response.json()["more"] is True
    assert_problem(await client.get("/v1/pull", headers=bob.headers, params={"limit": 3}),
                   400, "bad_limit")
    for limit in (0, -1, 2**64):
        assert_problem(await client.get("/v1/pull", headers=bob.headers,
                                        params={"limit": limit}), 400, "invalid_parameter")


@pytest.mark.parametrize("cursor", ["x", "1.2", "a.b.c", "5.3.", "-1.0.", "1.x.doc", "..."])
async def test_a_bad_cursor_is_400(client: AsyncTestClient, teams: Teams, cursor: str) -> None:
    response = await client.get("/v1/pull", headers=teams.alice.headers,
                                params={"cursor": cursor})
    assert_problem(response, 400, "bad_cursor")


async def test_team_members_see_each_others_edits_and_both_keep_their_change(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice, bob = teams.alice, teams.bob
    doc, create = alice.create("A")
    instrument = row_id()
    add_row = alice.op(doc, f"instruments/{instrument}",
                       {"type": "Tarozi", "serial": "T-100"})
    assert outcomes(await push(client, alice, [create, add_row])) == [("accepted", "")] * 2
    bob_page = await pull(client, bob)
    assert {op.path: op.value for op in bob_page.changes if op.doc == doc} == {
        "_template": TEMPLATE, "_assignment": "A",
        f"instruments/{instrument}/type": "Tarozi", f"instruments/{instrument}/serial": "T-100"}
    _, alice_cursor = await pull_all(client, alice)

    # both edit different fields of the same row offline; bob's stamp is the later one
    alices = alice.op(doc, f"instruments/{instrument}/serial", "T-101")
    bobs = bob.op(doc, f"instruments/{instrument}/manufacturer", "Vesy LLC",
                  hlc=alices.hlc + 5)
    assert outcomes(await push(client, bob, [bobs])) == [("accepted", "")]
    assert outcomes(await push(client, alice, [alices])) == [("accepted", "")]

    copy = await record(client, doc)
    assert copy["protocol"]["collections"]["instruments"][instrument] == {
        "type": "Tarozi", "serial": "T-101", "manufacturer": "Vesy LLC"}
    assert copy["vector"] == {alice.id: 3, bob.id: 1}

    assert bobs in (await pull(client, alice, alice_cursor)).changes
    assert alices in (await pull(client, bob, bob_page.cursor)).changes


async def test_the_later_write_wins_a_field_whatever_the_arrival_order(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice, bob = teams.alice, teams.bob
    doc = await create_protocol(client, alice)
    stamp = pack(now_ms(), 0)
    later = bob.op(doc, "conclusion", "non_compliant", hlc=stamp + 10)
    earlier = alice.op(doc, "conclusion", "compliant", hlc=stamp)
    assert outcomes(await push(client, bob, [later])) == [("accepted", "")]
    assert outcomes(await push(client, alice, [earlier])) == [("accepted", "")]
    copy = await record(client, doc)
    assert copy["protocol"]["fields"]["conclusion"] == "non_compliant"
    assert copy["vector"] == {alice.id: 2, bob.id: 1}  # merged, though it lost
    page = await pull(client, alice)
    assert [op for op in page.changes if op.path == "conclusion"] == [later]


async def test_new_assignment_brings_its_existing_protocols_in_full(
    client: AsyncTestClient, teams: Teams,
) -> None:
    """When the scope grows (docs/protocol/pull.md), the newly visible rows arrive in full on the
    next pull, not only their later changes (carol's protocol predates alice joining B)."""
    alice, carol = teams.alice, teams.carol
    old = await create_protocol(client, carol, "B", conclusion="compliant", findings="f")
    _, cursor = await pull_all(client, alice)

    await put_assignment(client, "B", ["alice", "carol"])
    pages, _ = await pull_all(client, alice, cursor)
    assert "B" in {a.id for page in pages for a in page.assignments}
    got = {op.path: op.value for page in pages for op in page.changes if op.doc == old}
    assert got == {"_template": TEMPLATE, "_assignment": "B", "conclusion": "compliant",
                   "findings": "f"}


def stamped(registers: dict[str, Register]) -> dict[str, tuple[int, str, int, object]]:
    """Registers without the registry's change numbers (a device's own are 0)."""
    return {path: (r.hlc, r.actor, r.seq, r.value) for path, r in registers.items()}


async def test_a_row_restored_after_a_device_took_its_removal_reaches_it_whole(
    client: AsyncTestClient, teams: Teams,
) -> None:
    """bob took the protocol after alice had removed two rows (a removed row is not sent, its
    tombstone neither). Then alice edits one of them again, later than the removal, which
    brings it back with every field; and an edit of the other made before its removal
    arrives late, which leaves it removed. bob's next pull brings the restored row whole,
    not only its edited field, and the late edit with the removal, not as a row of its own:
    his copy is the registry's."""
    alice, bob = teams.alice, teams.bob
    doc, create = alice.create("A")
    restored, stays = row_id(), row_id()
    before_removal = pack(now_ms(), 0)
    await push(client, alice, [
        create, alice.op(doc, f"instruments/{restored}", {"type": "scale", "serial": "S-1"}),
        alice.op(doc, f"instruments/{stays}", {"type": "meter", "serial": "M-1"})])
    removals = [alice.op(doc, f"instruments/{row}/_deleted", True) for row in (restored, stays)]
    assert outcomes(await push(client, alice, removals)) == [("accepted", "")] * 2
    pages, cursor = await pull_all(client, bob)
    copy = DocumentState(doc)
    for op in (op for page in pages for op in page.changes if op.doc == doc):
        copy.take(op)
    assert copy.materialize().collections == {}

    late = bob.op(doc, f"instruments/{stays}/manufacturer", "Tokheim", hlc=before_removal + 1)
    again = alice.op(doc, f"instruments/{restored}/manufacturer", "Mettler")
    assert outcomes(await push(client, bob, [late])) == [("accepted", "")]
    assert outcomes(await push(client, alice, [again])) == [("accepted", "")]
    pages, _ = await pull_all(client, bob, cursor)
    for op in (op for page in pages for op in page.changes if op.doc == doc):
        copy.take(op)
    registry = (await record(client, doc))["protocol"]
    assert registry["collections"] == {"instruments": {restored: {
        "type": "scale", "serial": "S-1", "manufacturer": "Mettler"}}}
    assert copy.materialize().collections == registry["collections"]


async def test_protocols_sent_whole_come_as_their_registers_when_asked(
    client: AsyncTestClient, teams: Teams,
) -> None:
    """``states=true``: a protocol sent whole comes as its registers, the state its ops would
    build, a removed row left out (in MessagePack, one with no removed row goes as the registry
    stores it); changes after the cursor still come as ops."""
    alice, bob = teams.alice, teams.bob
    doc, create = alice.create("A")
    plain, create_plain = alice.create("A")
    kept, removed = row_id(), row_id()
    ops = [create, alice.op(doc, "conclusion", "compliant"),
           alice.op(doc, f"instruments/{kept}", {"type": "scale", "serial": "S-1"}),
           alice.op(doc, f"instruments/{removed}", {"type": "scale", "serial": "S-2"}),
           alice.op(doc, f"instruments/{removed}/_deleted", True),
           create_plain, alice.op(plain, f"instruments/{row_id()}", {"serial": "S-3"})]
    assert {status for status, _ in outcomes(await push(client, alice, ops))} == {"accepted"}

    for msgpack in (False, True):
        as_ops = await pull(client, bob, msgpack=msgpack)
        as_states = await pull(client, bob, msgpack=msgpack, states=True)
        assert as_states.changes == [] and as_states.replaced == as_ops.replaced
        assert set(as_states.replaced) == {doc, plain}
        assert (as_states.vectors, as_states.cursor) == (as_ops.vectors, as_ops.cursor)
        from_ops = {protocol: DocumentState(protocol) for protocol in (doc, plain)}
        for op in as_ops.changes:
            from_ops[op.doc].take(op)
        assert {protocol: stamped(registers) for protocol, registers in as_states.states.items()
                } == {protocol: stamped(state.registers) for protocol, state in from_ops.items()}
        assert f"instruments/{kept}/serial" in as_states.states[doc]
        assert not any(removed in path for path in as_states.states[doc])

    edit = alice.op(doc, "findings", "seal replaced")
    await push(client, alice, [edit])
    later = await pull(client, bob, as_states.cursor, states=True)
    assert (later.changes, later.states, later.replaced) == ([edit], {}, [])


async def test_a_device_that_reads_packed_registers_gets_them_as_stored(
    server_config: ServerConfig, client: AsyncTestClient, teams: Teams,
) -> None:
    """``packed=true`` too: in MessagePack, a protocol with no removed row goes as the
    registry stores it, packed, or flat where migration 0008 has not packed it yet; one with a
    removed row goes flat, without it; each holds the registers a device of an earlier
    release gets flat, and a JSON reply is flat whatever is asked."""
    alice, bob = teams.alice, teams.bob
    doc, create = alice.create("A")
    plain, create_plain = alice.create("A")
    unpacked, create_unpacked = alice.create("A")
    removed = row_id()
    ops = [create, alice.op(doc, f"instruments/{removed}", {"serial": "S-2"}),
           alice.op(doc, f"instruments/{removed}/_deleted", True), create_plain,
           alice.op(plain, f"instruments/{row_id()}", {"type": "scale", "serial": "S-3"}),
           create_unpacked]
    assert {status for status, _ in outcomes(await push(client, alice, ops))} == {"accepted"}
    database = Database(server_config.database_url)
    with database.write() as session:
        row = session.get(ProtocolRow, unpacked)
        assert row is not None and is_packed(row.registers)
        row.registers = msgspec.msgpack.encode(unpack_registers(row.registers, row.created))
        session.add(row)
    database.dispose()
    flat = await pull(client, bob, msgpack=True, states=True)

    params = {"states": "true", "packed": "true"}
    answer = await client.get("/v1/pull", params=params, headers={
        "Authorization": bob.headers["Authorization"], "Accept": "application/msgpack"})
    page = msgspec.msgpack.decode(answer.content, type=PulledPage)
    assert [is_packed(page.states[protocol]) for protocol in (plain, unpacked, doc)] == [
        True, False, False]
    # The same writes; the registry's change numbers are the registry's alone (a packed
    # protocol keeps 0 for those of the push that created it).
    assert {protocol: written(unpack_registers(raw)) for protocol, raw in page.states.items()} \
        == {protocol: written(registers) for protocol, registers in flat.states.items()}
    assert page.registers == flat.registers == sum(map(len, flat.states.values()))
    in_json = await client.get("/v1/pull", params=params, headers=bob.headers)
    assert msgspec.json.decode(in_json.content, type=PullResponse).states == flat.states


async def test_joining_a_busy_assignment_pages_its_protocols_once_each(
    server_config: ServerConfig, client: AsyncTestClient, teams: Teams,
) -> None:
    server_config.pull_page_protocols = 2
    alice, carol = teams.alice, teams.carol
    await create_protocol(client, alice)
    theirs = {await create_protocol(client, carol, "B", number=f"B-{i}"): f"B-{i}"
              for i in range(3)}
    _, cursor = await pull_all(client, alice)

    await put_assignment(client, "B", ["alice", "carol"])
    pages, cursor = await pull_all(client, alice, cursor)
    assert [page.more for page in pages][-1] is False
    per_page = [{op.doc for op in page.changes} for page in pages]
    assert sorted(doc for docs in per_page for doc in docs) == sorted(theirs)
    for doc, number in theirs.items():
        got = {op.path: op.value for page in pages for op in page.changes if op.doc == doc}
        assert got == {"_template": TEMPLATE, "_assignment": "B", "number": number}
    assert [a.id for a in pages[-1].assignments] == ["B"]
    assert not any(page.templates or page.assignments for page in pages[:-1])
    assert (await pull(client, alice, cursor)).changes == []


async def test_an_assignment_given_during_a_paged_pull_is_not_lost(
    server_config: ServerConfig, client: AsyncTestClient, teams: Teams,
) -> None:
    """An assignment given between the first and the last page of a run arrives: reference data
    comes on the run's last page, whose cursor is the one that covers it."""
    server_config.pull_page_protocols = 1
    alice = teams.alice
    for _ in range(2):
        await create_protocol(client, alice)
    first = await pull(client, alice)
    assert first.more

    await put_assignment(client, "C", ["alice"])
    rest, cursor = await pull_all(client, alice, first.cursor)
    later, _ = await pull_all(client, alice, cursor)
    seen = {a.id for page in [first, *rest, *later] for a in page.assignments}
    assert seen == {"A", "C"}


# --- GET /v1/protocols/{id} --------------------------------------------------------------------


async def test_the_registry_copy_for_admin_and_team_but_not_other_teams(
    client: AsyncTestClient, teams: Teams,
) -> None:
    alice, bob, carol = teams.alice, teams.bob, teams.carol
    measurement = row_id()
    doc, create = alice.create("A")
    ops = [create, alice.op(doc, "conclusion", "compliant"),
           alice.op(doc, f"measurements/{measurement}",
                    {"nominal": "100", "indication": "100.3", "mpe": "0.2", "unit": "g"})]
    assert outcomes(await push(client, alice, ops)) == [("accepted", "")] * 3

    as_admin = await record(client, doc)
    assert as_admin["protocol"] == {
        "id": doc, "template": TEMPLATE, "assignment": "A",
        "fields": {"conclusion": "compliant"},
        "collections": {"measurements": {measurement: {
            "nominal": "100", "indication": "100.3", "mpe": "0.2", "unit": "g",
            "error": "0.3", "pass": False}}},
    }
    assert len(as_admin["content_hash"]) == 64
    assert as_admin["vector"] == {alice.id: 3}
    assert await record(client, doc, alice.headers) == as_admin
    assert await record(client, doc, bob.headers) == as_admin

    hidden = await client.get(f"/v1/protocols/{doc}", headers=carol.headers)
    unknown = await client.get(f"/v1/protocols/{uuid.uuid4()}", headers=carol.headers)
    assert_problem(hidden, 404, "unknown_protocol")
    assert_problem(unknown, 404, "unknown_protocol")
    assert hidden.json().keys() == unknown.json().keys()
    assert_problem(await client.get(f"/v1/protocols/{uuid.uuid4()}", headers=ADMIN),
                   404, "unknown_protocol")
    assert_problem(await client.get(f"/v1/protocols/{doc}"), 401, "missing_credentials")
    assert_problem(await client.get(f"/v1/protocols/{doc}",
                                    headers={"Authorization": "Bearer nope"}),
                   401, "unknown_device")


async def test_the_content_hash_follows_the_content(client: AsyncTestClient,
                                                    teams: Teams) -> None:
    alice = teams.alice
    doc = await create_protocol(client, alice, conclusion="compliant")
    first = (await record(client, doc))["content_hash"]
    assert (await record(client, doc))["content_hash"] == first
    edit = alice.op(doc, "conclusion", "non_compliant")
    assert outcomes(await push(client, alice, [edit])) == [("accepted", "")]
    second = (await record(client, doc))["content_hash"]
    assert second != first
    assert outcomes(await push(client, alice, [alice.op(doc, "conclusion", "compliant")])) == [
        ("accepted", "")]
    assert (await record(client, doc))["content_hash"] == first  # same content, same hash


async def test_a_json_protocol_pushed_whole_with_a_value_past_64_bits_is_a_clear_400(
        client: AsyncTestClient, teams: Teams) -> None:
    """Its value has no MessagePack form to be stored in: the push is refused whole, and the
    protocol is not stored (never a 500)."""
    doc = str(uuid.uuid4())
    op = teams.alice.op(doc, "", {"_template": TEMPLATE, "_assignment": "A", "findings": 2**70})
    body = {"ops": [], "protocols": [[doc, [[op.seq, op.path, op.value, op.hlc]]]]}
    response = await client.post("/v1/push", content=msgspec.json.encode(body),
                                 headers={**teams.alice.headers,
                                          "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_value"
    unknown = await client.get(f"/v1/protocols/{doc}", headers=ADMIN)
    assert unknown.status_code == 404
