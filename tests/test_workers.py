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
from pathlib import Path

import httpx
import msgspec
import pytest

from field_sync import pack
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, Op, PushRequest, PushResponse
from tests.databases import logged
from tests.test_concurrency import enroll_device

TEMPLATE = "metrology_supervision@1"
ATTEMPTS = 8


@pytest.fixture
def two_workers(tmp_path: Path, db_url: str) -> Iterator[LocalServer]:
    with LocalServer(tmp_path / "registry", secrets.token_urlsafe(16), db_url=db_url,
                     workers=2) as server:
        yield server


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
    two_workers: LocalServer, db_url: str
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
    mine = [(op, changed) for op, changed in logged(db_url) if op.actor == device.device_id]
    assert [op.seq for op, _ in mine] == [op.seq for op in ops]
    assert len({changed for _, changed in mine}) == 1  # one push merged them all
