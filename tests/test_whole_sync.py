"""Protocols pushed whole, end to end: which protocols a tablet sends whole, how the registry
answers them over HTTP (MessagePack and JSON), and what happens when a push is refused or its
answer lost. (``test_whole_push.py`` holds the registry's outcome to the op path's.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from client_lib import RegistryRefused, Tablet
from schemas import PushRequest, PushResponse, WholeProtocol
from tests.conftest import Device, enroll, put_assignment
from tests.inprocess import InProcessRegistry, InProcessTransport, Link, LostResponse
from tests.live import PASSPHRASE, TEMPLATE

ASSIGNMENT = "asg-whole"


class _Recording(InProcessTransport):
    """The registry, recording which protocols each push carried whole and which as ops."""

    def __init__(self, registry: InProcessRegistry) -> None:
        super().__init__(registry.database, registry.keys, registry.catalog, registry.config,
                         registry.clock)
        self.whole: list[set[str]] = []
        self.as_ops: list[set[str]] = []

    def push(self, token: str, batch: PushRequest) -> PushResponse:
        self.whole.append({item.doc for item in batch.protocols})
        self.as_ops.append({op.doc for op in batch.ops})
        return super().push(token, batch)


class _BeforeWhole(_Recording):
    """A registry of a release from before protocols pushed whole: it refuses a body that has
    them, as it refuses any unknown field."""

    refused = 0

    def push(self, token: str, batch: PushRequest) -> PushResponse:
        if batch.protocols:
            self.refused += 1
            raise RegistryRefused(400, {"code": "invalid_body", "detail": "the body does not "
                                        "match PushRequest: Object contains unknown field "
                                        "`protocols`"})
        return super().push(token, batch)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[InProcessRegistry]:
    registry = InProcessRegistry(tmp_path / "registry", f"sqlite:///{tmp_path}/registry.db")
    registry.add_inspector("inspector-1")
    registry.put_assignment(ASSIGNMENT, ["inspector-1"])
    yield registry
    registry.close()


def _tablet(registry: InProcessRegistry, transport: Any, folder: Path) -> Tablet:
    tablet = Tablet(folder / "tablet.sqlite", PASSPHRASE, transport=transport)
    tablet.enroll(registry.enrollment_code("inspector-1"), "https://registry.test")
    tablet.pull()  # its assignments
    return tablet


def _filled(tablet: Tablet, number: str) -> str:
    protocol = tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": number})
    with tablet.edit(protocol) as edit:
        scale = edit.add_row("instruments", {"type": "scale", "serial": f"S-{number}"})
        edit.add_row("measurements", {"instrument": scale, "nominal": "20.000",
                                      "indication": "20.030", "mpe": "0.020", "unit": "kg"})
    return protocol


def test_a_tablet_sends_whole_only_the_protocols_the_registry_never_saw(
        registry: InProcessRegistry, tmp_path: Path) -> None:
    """New protocols go whole, edits after their rows included; a protocol the registry has
    goes op by op, as does one whose ops interleave with another's in the push."""
    transport = _Recording(registry)
    tablet = _tablet(registry, transport, tmp_path)
    known = _filled(tablet, "N-1")
    assert tablet.push().ok and transport.whole[-1] == {known}
    with tablet.edit(known) as edit:
        edit.set("findings", "seen again")
    fresh, corrected = _filled(tablet, "N-2"), _filled(tablet, "N-3")
    with tablet.edit(corrected) as edit:
        edit.set("number", "N-3a")
    one = tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "N-4"})
    other = tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "N-5"})
    with tablet.edit(one) as edit:  # after the other was made: their ops interleave
        edit.set("findings", "one")
    report = tablet.push()
    assert report.ok and report.accepted == 1 + 3 + 4 + 2 + 1
    assert transport.whole[-1] == {fresh, corrected, other}
    assert transport.as_ops[-1] == {known, one}
    assert {entry.status for entry in tablet.store.outbox()} == {"accepted"}
    assert tablet.pull().ok
    for protocol in (known, fresh, corrected, one, other):
        assert tablet.protocol(protocol) == registry.protocol(protocol)
    tablet.close()


def test_a_registry_from_before_whole_protocols_is_sent_ops(
        registry: InProcessRegistry, tmp_path: Path) -> None:
    """It refuses the first push whole; the tablet sends the same batch op by op at once, and
    ops only from then on: nothing is refused, nothing lost."""
    transport = _BeforeWhole(registry)
    tablet = _tablet(registry, transport, tmp_path)
    first, second = _filled(tablet, "N-1"), _filled(tablet, "N-2")
    report = tablet.push()
    assert report.ok and (report.accepted, report.rejected) == (6, 0)
    assert transport.refused == 1 and transport.as_ops == [{first, second}]
    third = _filled(tablet, "N-3")
    assert tablet.push().ok and transport.as_ops[-1] == {third}
    assert transport.refused == 1  # never whole again
    assert tablet.pull().ok
    assert tablet.protocol(first) == registry.protocol(first)
    tablet.close()


def test_a_protocol_whose_whole_answer_was_lost_is_answered_duplicate(
        registry: InProcessRegistry, tmp_path: Path) -> None:
    """The registry took it and the answer never came: the tablet keeps its ops pending and
    sends them whole again; the registry, which has the protocol, answers them all
    ``duplicate``, and logs each op once."""
    link = Link(registry.transport)
    tablet = _tablet(registry, link, tmp_path)
    protocol = _filled(tablet, "N-1")
    with link.fault(LostResponse):
        assert tablet.push().offline
    assert tablet.pending() == 3
    report = tablet.push()
    assert report.ok and (report.accepted, report.duplicates) == (0, 3)
    assert tablet.pending() == 0
    logged = [op for op in registry.op_log() if op.doc == protocol]
    assert len(logged) == len({op.seq for op in logged}) == 3
    tablet.close()


def test_a_protocol_pushed_whole_with_a_stamp_too_far_ahead_is_answered_op_by_op(
        registry: InProcessRegistry, tmp_path: Path) -> None:
    """A tablet whose clock runs an hour fast: the registry refuses its ops ``clock_ahead``
    (the protocol's answers go op by op); the tablet re-stamps them from the clock it learned
    and pushes again, and the registry holds the protocol."""
    skew = {"ms": 0}
    tablet = Tablet(tmp_path / "tablet.sqlite", PASSPHRASE, transport=registry.transport,
                    wall_ms=lambda: registry.clock() + skew["ms"])
    tablet.enroll(registry.enrollment_code("inspector-1"), "https://registry.test")
    tablet.pull()
    skew["ms"] = 3_600_000
    protocol = _filled(tablet, "N-1")
    report = tablet.push()
    assert report.ok and report.restamped >= 1 and tablet.pending() == 0
    assert tablet.pull().ok and tablet.protocol(protocol) == registry.protocol(protocol)
    tablet.close()


# -- over HTTP ---------------------------------------------------------------------------------

def _whole(device: Device, assignment: str) -> WholeProtocol:
    doc = str(uuid.uuid4())
    ops = [device.op(doc, "", {"_template": TEMPLATE, "_assignment": assignment,
                               "number": "N-1"}),
           device.op(doc, f"instruments/{uuid.uuid4()}", {"type": "scale", "serial": "S-1"})]
    return WholeProtocol(doc, [(op.seq, op.path, msgspec.Raw(msgspec.msgpack.encode(op.value)),
                                op.hlc) for op in ops])


@pytest.mark.parametrize("body", ["msgpack", "json"])
async def test_the_registry_answers_a_protocol_pushed_whole_in_one_result(
        client: AsyncTestClient, body: str) -> None:  # type: ignore[type-arg]
    """In MessagePack, or in JSON (each value then JSON): one answer for the protocol, its
    state as its ops make it, and ``duplicate`` for the same body again."""
    alice = await enroll(client, "alice")
    await put_assignment(client, "A", ["alice"])
    item = _whole(alice, "A")
    if body == "json":
        item = WholeProtocol(item.doc, [
            (seq, path, msgspec.Raw(msgspec.json.encode(msgspec.msgpack.decode(value))), hlc)
            for seq, path, value, hlc in item.ops])
        content = msgspec.json.encode({"ops": [], "protocols": [item]})
        headers = alice.headers
    else:
        content = msgspec.msgpack.encode(PushRequest([], [item]))
        headers = {**alice.headers, "Content-Type": "application/msgpack"}
    for status in ("accepted", "duplicate"):
        response = await client.post("/v1/push", headers=headers, content=content)
        assert response.status_code == 200, response.text
        answer = msgspec.json.decode(response.content, type=PushResponse)
        assert (answer.results, [(p.doc, p.status) for p in answer.protocols]) == (
            [], [(item.doc, status)])
    record = (await client.get(f"/v1/protocols/{item.doc}", headers=alice.headers)).json()
    assert record["protocol"]["fields"]["number"] == "N-1"
    assert [row["serial"] for row in record["protocol"]["collections"]["instruments"]
            .values()] == ["S-1"]


async def test_a_body_whose_protocols_are_not_ops_is_refused_whole(
        client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    alice = await enroll(client, "alice")
    for protocols in ([{"doc": "x"}], [["x", [[1, "", 5]]]], [["x", "ops"]]):
        response = await client.post("/v1/push", headers=alice.headers,
                                     content=msgspec.json.encode({"ops": [],
                                                                  "protocols": protocols}))
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_body"


async def test_names_and_text_the_database_cannot_hold_fare_whole_as_they_do_op_by_op(
        client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    """A template named with a NUL is refused ``unknown_template`` (PostgreSQL could not look
    it up), a number with a NUL or a taxpayer number too long for its search column is kept but
    not searchable, and a path longer than an op's is a refused body."""
    alice = await enroll(client, "alice")
    await put_assignment(client, "A", ["alice"])

    def pushed_whole(root: dict[str, Any]) -> WholeProtocol:
        doc = str(uuid.uuid4())
        op = alice.op(doc, "", {"_template": TEMPLATE, "_assignment": "A", **root})
        return WholeProtocol(doc, [(op.seq, op.path, msgspec.Raw(msgspec.json.encode(op.value)),
                                    op.hlc)])

    unnamed = pushed_whole({"_template": "m\u0000"})
    kept = pushed_whole({"number": "TR\u0000-1", "entity_tin": "3" * 20})
    response = await client.post("/v1/push", headers=alice.headers, content=msgspec.json.encode(
        {"ops": [], "protocols": [unnamed, kept]}))
    assert response.status_code == 200, response.text
    answer = msgspec.json.decode(response.content, type=PushResponse)
    assert [(result.status, result.code) for result in answer.results] == [
        ("rejected", "unknown_template")]
    assert [(p.doc, p.status) for p in answer.protocols] == [(kept.doc, "accepted")]
    record = (await client.get(f"/v1/protocols/{kept.doc}", headers=alice.headers)).json()
    assert record["protocol"]["fields"]["number"] == "TR\u0000-1"
    listed = (await client.get("/v1/registry/protocols", headers=alice.headers,
                               params={"status": "draft"}))
    assert all("number" not in entry for entry in listed.json().get("protocols", [])
               if entry["id"] == kept.doc)
    far = pushed_whole({})
    far = WholeProtocol(far.doc, [(1, "x" * 201, far.ops[0][2], far.ops[0][3])])
    response = await client.post("/v1/push", headers=alice.headers, content=msgspec.json.encode(
        {"ops": [], "protocols": [far]}))
    assert response.status_code == 400 and response.json()["code"] == "invalid_body"
