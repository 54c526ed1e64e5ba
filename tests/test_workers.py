"""``serve --workers 2``: two server processes on one port and one database.

Idempotency must hold when the same batch reaches both processes at once (a tablet retrying a
push whose answer it lost, while the first attempt is still being ingested elsewhere): each op is
accepted once, logged once, and every other attempt answers it ``duplicate``. The cursor across
workers is checked by ``test_concurrency`` with two workers.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import msgspec
import pytest

from field_sync import pack
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, Op, PushRequest, PushResponse
from tests.databases import dispose_database, fresh_database, logged
from tests.test_concurrency import enroll_device

TEMPLATE = "metrology_supervision@1"
ATTEMPTS = 8


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    folder = tmp_path_factory.mktemp("workers")
    url = fresh_database(folder / "registry")
    with LocalServer(folder / "registry", secrets.token_urlsafe(16), db_url=url,
                     workers=2) as server:
        yield server
    dispose_database(url)


def _connections_on_each_worker(url: str, headers: dict[str, str],
                                each: int) -> list[httpx.Client]:
    """``each`` kept-alive connections to each of the two workers: the kernel hands a new
    connection to whichever worker accepts first, so connect until both have their share."""
    kept: dict[int, list[httpx.Client]] = {}
    for _ in range(400):
        connection = httpx.Client(base_url=url, headers=headers, timeout=60)
        worker = connection.get("/health").json()["worker"]
        if len(kept.setdefault(worker, [])) < each:
            kept[worker].append(connection)
        else:
            connection.close()
        if len(kept) == 2 and all(len(share) == each for share in kept.values()):
            return [connection for share in kept.values() for connection in share]
    for share in kept.values():
        for connection in share:
            connection.close()
    raise AssertionError(f"the connections reached {len(kept)} worker(s), not two")


def test_a_batch_sent_to_both_workers_at_once_is_accepted_once(
    two_workers: LocalServer,
) -> None:
    admin = AdminClient(two_workers.url, two_workers.admin_token)
    admin.create_inspector("insp-workers", "Inspector Workers")
    admin.put_assignment(Assignment("assignment-workers", "scales", ("insp-workers",)))
    device = enroll_device(admin, two_workers.url, "insp-workers")
    admin.close()

    doc, row = str(uuid.uuid4()), str(uuid.uuid4())
    now = time.time_ns() // 1_000_000
    values: list[tuple[str, object]] = [
        ("", {"_template": TEMPLATE, "_assignment": "assignment-workers"}),
        ("number", "TR-WORKERS"), ("entity_tin", "301245678"),
        (f"instruments/{row}", {"type": "scale", "serial": "SN-1"}),
        ("findings", "seal intact"), ("conclusion", "compliant")]
    ops = [Op(device.device_id, seq, doc, path, value, pack(now, seq))
           for seq, (path, value) in enumerate(values, start=1)]
    body = msgspec.json.encode(PushRequest(ops))
    headers = {"Authorization": f"Bearer {device.token}", "Content-Type": "application/json"}
    connections = _connections_on_each_worker(two_workers.url, headers, ATTEMPTS // 2)
    start = threading.Barrier(ATTEMPTS)

    def attempt(connection: httpx.Client) -> PushResponse:
        start.wait()
        answer = connection.post("/v1/push", content=body)
        answer.raise_for_status()
        return msgspec.json.decode(answer.content, type=PushResponse)

    try:
        with ThreadPoolExecutor(ATTEMPTS) as pool:
            answers = list(pool.map(attempt, connections))
    finally:
        for connection in connections:
            connection.close()

    outcomes = Counter((result.seq, result.status)
                       for response in answers for result in response.results)
    for op in ops:
        assert outcomes[(op.seq, "accepted")] == 1, outcomes
        assert outcomes[(op.seq, "duplicate")] == ATTEMPTS - 1, outcomes
    mine = [(op, changed) for op, changed in logged(two_workers.db_url)
            if op.actor == device.device_id]
    assert [op.seq for op, _ in mine] == [op.seq for op in ops]
    assert len({changed for _, changed in mine}) == 1  # one push merged them all


def test_a_revoked_device_is_refused_by_every_worker_at_once(two_workers: LocalServer) -> None:
    """Each worker keeps devices and the trust list in memory once asked; a device enrolled or
    revoked through either reaches both before its answer: a revoked device is refused at its
    next request wherever it lands, and a trust list named by its tag is sent again, with the
    new key or the key revoked."""
    admin = AdminClient(two_workers.url, two_workers.admin_token)
    admin.create_inspector("insp-revoked", "Inspector Revoked")
    device = enroll_device(admin, two_workers.url, "insp-revoked")
    headers = {"Authorization": f"Bearer {device.token}", "Accept": "application/json"}
    connections = _connections_on_each_worker(two_workers.url, headers, 2)
    try:
        tags = {connection.get("/v1/trust-list").headers["etag"] for connection in connections}
        assert len(tags) == 1
        tag, = tags
        for connection in connections:  # each worker keeps the device and the list
            assert connection.get("/v1/pull").status_code == 200
            assert connection.get("/v1/trust-list", headers={
                "If-None-Match": tag}).status_code == 304
        later = enroll_device(admin, two_workers.url, "insp-revoked")  # a key added: sent
        assert {later.device_id in connection.get("/v1/trust-list", headers={
            "If-None-Match": tag}).text for connection in connections} == {True}
        tag = connections[0].get("/v1/trust-list").headers["etag"]
        admin.revoke_device(device.device_id)
        refused = [connection.get("/v1/pull") for connection in connections]
        assert [(answer.status_code, answer.json()["code"]) for answer in refused] == [
            (401, "device_revoked")] * len(connections)
        lists = [connection.get("/v1/trust-list", headers={"If-None-Match": tag})
                 for connection in connections]
        assert {answer.status_code for answer in lists} == {200}
        assert len({answer.headers["etag"] for answer in lists} | {tag}) == 2
        for answer in lists:
            key, = (key for key in answer.json()["keys"] if key["device_id"] == device.device_id)
            assert key["revoked_after_ms"] > 0
    finally:
        for connection in connections:
            connection.close()
        admin.close()
