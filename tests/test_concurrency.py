"""Many devices pushing and pulling at once against a real `field-sync serve` process.

A pull cursor must never skip a change, not even one committed late under a
smaller change number. Twenty pushers (each its own enrolled device) create and edit protocols
of one shared assignment, all at once, while pullers pull with their cursors, some a page of one
to seven protocols at a time, and one puller joins the team half way. When every pusher is done,
the registry's database is read and checked three ways:

- the op log holds every op a pusher had accepted exactly once, and nothing else;
- each protocol's merged state is the merge of every accepted op (nothing lost on the way);
- every pull run is checked against the registry *as it stood at the change number that run's
  cursor claims*, rebuilt from the op log: the puller must then hold exactly that state, every
  winning register of it. So a skipped change is caught even when a later write would have
  covered it up in the final state. After a last pull to the end, each puller holds every
  winning register of the registry's final state, and the same content hash.

Rows removed before a puller first saw them are left out of its fresh pull by design (commit
fbbdbe7), so the comparisons leave out removed rows on both sides, and equal content proves the
puller holds them as removed or not at all. The pullers that pull a server page at a time start
fresh while the pushers push; the paged ones make their fresh pull first (see the last test).

The last tests pin, deterministically, bugs this checker led to: pull runs that lose the
protocols of a team joined, or a row removed, while the run is between pages, and a removed row
brought back on a new tablet by an old edit.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib import HttpTransport, Tablet
from field_sync import DocumentState, HybridLogicalClock, content_hash
from field_sync.keys import public_key_pem
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, EnrollRequest, Op, PullResponse, PushRequest, builtin_templates
from schemas.packed import unpack_registers
from server.data.tables import ProtocolRow
from server.sync.changes import Cursor
from server.sync.documents import decode_state
from tests.databases import logged as logged_with_pushes
from tests.databases import query
from tests.live import PASSPHRASE, TEMPLATE, team

pytestmark = pytest.mark.e2e

PUSHERS = 20
ROUNDS = 15  # batches per pusher
CREATE_ROUNDS = frozenset({0, 4, 8, 12})  # every pusher starts a protocol in these rounds
RESEND_ROUND = 7  # every pusher sends this batch twice, as if the first answer was lost
PAGE_LIMITS: tuple[int | None, ...] = (None, None, 1, 2, 3, 7)  # None: the server's own page
LATE_PAGE_LIMIT = 2  # the puller that joins the team half way
FORM = {template.ref: template for template in builtin_templates()}[TEMPLATE]

Stamp = tuple[int, str, int, Any]


# --- devices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    device_id: str
    token: str


def enroll_device(admin: AdminClient, url: str, inspector: str) -> Credentials:
    """A fresh P-256 key enrolled for ``inspector`` through the public endpoint."""
    transport = HttpTransport(url)
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        answer = transport.enroll(EnrollRequest(admin.enrollment_code(inspector),
                                                public_key_pem(key), inspector))
    finally:
        transport.close()
    return Credentials(answer.device_id, answer.token)


class Board:
    """What the pushers know has landed: protocols, and the instrument rows anyone may edit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.docs: list[str] = []
        self.rows: list[tuple[str, str]] = []

    def publish(self, docs: Iterable[str], rows: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            self.docs += docs
            self.rows += rows

    def sample(self, rng: random.Random, docs: int,
               rows: int) -> tuple[list[str], list[tuple[str, str]]]:
        with self._lock:
            return (rng.sample(self.docs, min(docs, len(self.docs))),
                    rng.sample(self.rows, min(rows, len(self.rows))))

    def count(self) -> int:
        with self._lock:
            return len(self.docs)


@dataclass
class Pusher:
    """A device that creates protocols and edits everyone's, a batch per round.

    Every op carries its own ``(actor, seq)`` and a stamp from the device's hybrid clock. The
    reference-instrument rows a pusher adds are its own: only it removes them and brings them
    back (by a later edit, or ``_deleted`` false), so removal and revival race with pulls.
    """

    name: str
    device: Credentials
    url: str
    assignment: str
    board: Board
    rng: random.Random
    clock: HybridLogicalClock = field(default_factory=HybridLogicalClock)
    seq: int = 0
    accepted: list[Op] = field(default_factory=list)
    pushes: int = 0
    own_rows: dict[tuple[str, str], bool] = field(default_factory=dict)  # -> alive

    def op(self, doc: str, path: str, value: Any) -> Op:
        self.seq += 1
        return Op(self.device.device_id, self.seq, doc, path, value, self.clock.now())

    def batch(self, round_: int) -> tuple[list[Op], list[str], list[tuple[str, str]]]:
        ops: list[Op] = []
        docs: list[str] = []
        rows: list[tuple[str, str]] = []
        tag = f"{self.name}/{round_}"
        if round_ in CREATE_ROUNDS:
            doc, row, own = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
            ops += [
                self.op(doc, "", {"_template": TEMPLATE, "_assignment": self.assignment}),
                self.op(doc, "number", tag),
                self.op(doc, f"instruments/{row}", {"type": "scale", "serial": tag}),
                self.op(doc, f"reference_instruments/{own}",
                        {"instrument_id": tag, "type": "weights", "serial": tag,
                         "verified_until": "2027-01-31"}),
            ]
            docs.append(doc)
            rows.append((doc, row))
            self.own_rows[(doc, own)] = True
        edit_docs, edit_rows = self.board.sample(self.rng, 3, 2)
        for doc in edit_docs:
            ops.append(self.op(doc, "findings", f"findings by {tag}"))
            ops.append(self.op(doc, "conclusion", self.rng.choice(["compliant", "non_compliant"])))
        for doc, row in edit_rows:
            ops.append(self.op(doc, f"instruments/{row}/serial", tag))
        if edit_docs and self.rng.random() < 0.3:
            row = str(uuid.uuid4())
            ops.append(self.op(edit_docs[0], f"instruments/{row}",
                               {"type": "meter", "serial": tag}))
            rows.append((edit_docs[0], row))
        if self.own_rows and round_ not in CREATE_ROUNDS:
            (doc, own), alive = self.rng.choice(sorted(self.own_rows.items()))
            path = f"reference_instruments/{own}"
            if alive and self.rng.random() < 0.6:
                ops.append(self.op(doc, f"{path}/_deleted", True))
                self.own_rows[(doc, own)] = False
            elif alive or self.rng.random() < 0.5:  # an edit later than a removal revives
                ops.append(self.op(doc, f"{path}/serial", tag))
                self.own_rows[(doc, own)] = True
            else:
                ops.append(self.op(doc, f"{path}/_deleted", False))
                self.own_rows[(doc, own)] = True
        return ops, docs, rows

    def run(self, start: threading.Barrier) -> None:
        transport = HttpTransport(self.url)
        try:
            start.wait()
            for round_ in range(ROUNDS):
                ops, docs, rows = self.batch(round_)
                self._push(transport, ops, "accepted")
                self.accepted += ops
                self.board.publish(docs, rows)
                if round_ == RESEND_ROUND:
                    self._push(transport, ops, "duplicate")
        finally:
            transport.close()

    def _push(self, transport: HttpTransport, ops: list[Op], expected: str) -> None:
        response = transport.push(self.device.token, PushRequest(ops))
        self.pushes += 1
        results = [(result.seq, result.status, result.code) for result in response.results]
        assert results == [(op.seq, expected, "") for op in ops], f"{self.name}: {results}"


@dataclass(frozen=True)
class Replaced:
    """A page's word that the protocol it sends whole replaces the copy the puller holds."""

    doc: str


@dataclass
class Run:
    """One pull run, first page to ``more == False``."""

    reached: int  # the change number its cursor claims the device now holds
    received: int  # how many ops the puller had received by its end
    pages: int = 1


@dataclass
class Puller:
    """A device that pulls with its cursor and keeps every change it receives."""

    name: str
    inspector: str
    device: Credentials
    url: str
    limit: int | None  # protocols per page; None: the server's own page, through HttpTransport
    rng: random.Random
    cursor: str = ""
    pages: int = 0
    received: list[Op | Replaced] = field(default_factory=list)
    """What the pages brought, in order: ops, and a page's word that a protocol it sends whole
    replaces the copy held, before that protocol's registers."""
    vectors: dict[str, dict[str, int]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    run_pages: int = 0

    def __post_init__(self) -> None:
        self._transport = HttpTransport(self.url)
        self._http = httpx.Client(base_url=self.url, timeout=30.0, headers={
            "Accept": "application/msgpack", "Authorization": f"Bearer {self.device.token}"})

    def close(self) -> None:
        self._transport.close()
        self._http.close()

    def _fetch(self) -> PullResponse:
        if self.limit is None:  # the tablet's transport, which leaves whole protocols unread
            pulled = self._transport.pull(self.device.token, self.cursor)
            response = msgspec.msgpack.decode(msgspec.msgpack.encode(
                msgspec.structs.replace(pulled, states={})), type=PullResponse)
            response.states = {doc: unpack_registers(raw) for doc, raw in pulled.states.items()}
            return response
        response = self._http.get("/v1/pull", params={"cursor": self.cursor,
                                                      "limit": str(self.limit)})
        assert response.status_code == 200, response.text
        return msgspec.msgpack.decode(response.content, type=PullResponse)

    def page(self) -> bool:
        """Pull one page; say whether the run has more."""
        page = self._fetch()
        self.pages += 1
        self.run_pages += 1
        self.received += map(Replaced, page.replaced)
        self.received += page.changes
        self.received += [register.as_op(doc, path) for doc, registers in page.states.items()
                          for path, register in registers.items()]
        for doc, vector in page.vectors.items():
            held = self.vectors.setdefault(doc, {})
            for actor, seq in vector.items():
                held[actor] = max(seq, held.get(actor, 0))
        self.cursor = page.cursor
        if not page.more:
            reached = Cursor.parse(page.cursor).base
            assert not self.runs or reached >= self.runs[-1].reached, "the cursor went back"
            self.runs.append(Run(reached, len(self.received), self.run_pages))
            self.run_pages = 0
        return page.more

    def pull_to_end(self) -> None:
        while self.page():
            time.sleep(self.rng.random() * 0.003)  # widen the window between pages

    def run(self, start: threading.Barrier, stop: threading.Event) -> None:
        start.wait()
        while not stop.is_set():
            self.pull_to_end()
            time.sleep(0.005)


# --- the registry as stored -------------------------------------------------------------------


@dataclass
class Stored:
    protocols: dict[str, DocumentState]
    logged: list[tuple[Op, int]]  # every op of the op log, with its change number
    added: dict[str, int]  # inspector -> the change number that put them on the team
    counter: int


def read_registry(url: str) -> Stored:
    """The registry's tables, decoded with the server's own code."""
    protocols = {}
    for doc, registers, vector, latest in query(
            url, "SELECT id, registers, vector, latest_hlc FROM protocol"):
        row = ProtocolRow(id=doc, template_ref="", assignment_id="", registers=registers,
                          vector=vector, changed=0, created_by="")
        protocols[doc] = decode_state(row)
        # What a pull tells a tablet it has heard: never earlier than a register it sends.
        assert latest >= max(r.hlc for r in protocols[doc].registers.values()), doc
    logged = logged_with_pushes(url)
    added = dict(query(url, "SELECT inspector_id, added FROM assignment_member"))
    (counter,), = query(url, "SELECT value FROM change_counter")
    return Stored(protocols, logged, added, counter)


def live(state: DocumentState | None) -> dict[str, Stamp]:
    """Every winning register outside removed rows: ``path -> (hlc, actor, seq, value)``."""
    if state is None:
        return {}
    dead = {f"{collection}/{row}/" for collection, row in state.dead_rows()}
    return {path: (register.hlc, register.actor, register.seq, register.value)
            for path, register in state.registers.items()
            if path.count("/") != 2 or path[: path.rindex("/") + 1] not in dead}


def states(received: Iterable[Op | Replaced]) -> dict[str, DocumentState]:
    """What a tablet holds after taking ``received`` in order."""
    merged: dict[str, DocumentState] = {}
    for each in received:
        _take(merged, each)
    return merged


def _take(held: dict[str, DocumentState], received: Op | Replaced) -> None:
    """Take an op as a tablet does, or start a protocol anew where the page says it replaces
    the copy held (a whole protocol leaves out the rows removed before)."""
    if isinstance(received, Replaced):
        held[received.doc] = DocumentState(received.doc)
    else:
        held.setdefault(received.doc, DocumentState(received.doc)).apply(received)


def take(held: dict[str, DocumentState], page: PullResponse) -> None:
    """Apply a page as a tablet does: a protocol the page sends whole replaces the copy held."""
    for doc in page.replaced:
        held[doc] = DocumentState(doc, dict(page.states.get(doc, {})))
    for op in page.changes:
        held.setdefault(op.doc, DocumentState(op.doc)).apply(op)


def check_runs(name: str, inspector: str, runs: list[Run], received_ops: list[Op | Replaced],
               stored: Stored) -> int:
    """Replay the registry change by change beside the puller's pulls: at the end of every run
    the puller holds exactly the registry's state at the change number its cursor claims.
    Returns how many protocol states were compared."""
    history = sorted(stored.logged, key=lambda item: item[1])
    joined = stored.added[inspector]
    registry: dict[str, DocumentState] = {}
    mine: dict[str, DocumentState] = {}
    logged = received = compared = 0
    in_scope = False
    for number, run in enumerate(runs):
        dirty: set[str] = set()
        while logged < len(history) and history[logged][1] <= run.reached:
            op = history[logged][0]
            registry.setdefault(op.doc, DocumentState(op.doc)).apply(op)
            dirty.add(op.doc)
            logged += 1
        for each in received_ops[received:run.received]:
            _take(mine, each)
            dirty.add(each.doc)
        received = run.received
        if run.reached >= joined and not in_scope:
            in_scope = True
            dirty |= registry.keys()  # the whole team's protocols are due now
        for doc in sorted(dirty):
            want = live(registry.get(doc)) if in_scope else {}
            got = live(mine.get(doc))
            if got != want:
                missing = sorted(set(want.items()) - set(got.items()))
                extra = sorted(set(got.items()) - set(want.items()))
                pytest.fail(f"{name}, run {number} (cursor at change {run.reached}), "
                            f"protocol {doc}: missing {missing[:3]}, not in the registry then "
                            f"{extra[:3]}")
            compared += 1
    return compared


# --- the test ---------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_no_pull_skips_a_change_while_many_devices_push(
    tmp_path: Path, db_url: str, workers: int
) -> None:
    """With two server processes, pushes and pulls land on either: the change counter in the
    database, not anything in a process, keeps the cursor whole."""
    data_dir = tmp_path / "registry"
    suffix = secrets.token_hex(3)
    assignment = f"assignment-{suffix}"
    pusher_names = [f"pusher-{suffix}-{index}" for index in range(PUSHERS)]
    puller_names = [f"puller-{suffix}-{index}" for index in range(len(PAGE_LIMITS) + 1)]
    late = puller_names[-1]
    board = Board()
    began = time.monotonic()

    with LocalServer(data_dir, secrets.token_urlsafe(16), db_url=db_url,
                     workers=workers) as server, \
            ExitStack() as stack:
        admin = stack.enter_context(closing(AdminClient(server.url, server.admin_token)))
        for name in pusher_names + puller_names:
            admin.create_inspector(name, f"Inspector {name}")
        team = tuple(pusher_names + puller_names[:-1])
        admin.put_assignment(Assignment(assignment, "market scales", team))
        pushers = [Pusher(name, enroll_device(admin, server.url, name), server.url, assignment,
                          board, random.Random(index))  # noqa: S311 (a workload, not a secret)
                   for index, name in enumerate(pusher_names)]
        pullers = [Puller(name, name, enroll_device(admin, server.url, name), server.url, limit,
                          random.Random(1000 + index))  # noqa: S311
                   for index, (name, limit) in enumerate(
                       zip(puller_names, [*PAGE_LIMITS, LATE_PAGE_LIMIT], strict=True))]
        for puller in pullers:
            stack.callback(puller.close)
        # The paged pullers make their first, fresh pull before anyone pushes, as an enrolled
        # tablet does: a fresh run over several pages while protocols change under it loses
        # removals (a separate bug, pinned by the last test of this file).
        for puller in pullers:
            if puller.limit is not None:
                puller.pull_to_end()
        set_up = time.monotonic()

        start = threading.Barrier(len(pushers) + len(pullers))
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=len(pushers) + len(pullers)) as pool:
            pulling = [pool.submit(puller.run, start, stop) for puller in pullers]
            pushing = [pool.submit(pusher.run, start) for pusher in pushers]
            try:
                # Half way, the last puller's inspector joins the team.
                while board.count() < 2 * PUSHERS and not all(f.done() for f in pushing):
                    time.sleep(0.01)
                admin.put_assignment(Assignment(assignment, "market scales", (*team, late)))
                _results(pushing)
            finally:
                stop.set()
                if not start.broken:
                    start.abort()  # a thread that failed before the start must not hang the rest
            _results(pulling)
        ran = time.monotonic()
        during = {puller.name: (len(puller.runs), puller.pages) for puller in pullers}
        for puller in pullers:
            puller.pull_to_end()

    stored = read_registry(db_url)
    pushed = [op for pusher in pushers for op in pusher.accepted]

    # The op log holds every accepted op exactly once, as it was sent, and nothing else.
    logged = [op for op, _ in stored.logged]
    assert len(logged) == len(pushed)
    assert len({op.id for op in logged}) == len(logged)
    assert sorted(logged, key=lambda op: op.id) == sorted(pushed, key=lambda op: op.id)

    # Each protocol's merged state is the merge of every accepted op.
    expected = states(pushed)
    assert stored.protocols.keys() == expected.keys()
    for doc, state in stored.protocols.items():
        assert live(state) == live(expected[doc])
        assert state.registers.keys() == expected[doc].registers.keys()
        assert state.vector == expected[doc].vector

    # The workload did what it is for: every puller pulled page after page while the pushers
    # pushed (a puller of one protocol a page may chase them in one long run), paged runs
    # spanned several pages, and the late puller pulled both before and after joining.
    assert all(pages >= 5 for _, pages in during.values()), during
    assert all(during[puller.name][0] >= 2 for puller in pullers if puller.limit is None), during
    assert all(max(run.pages for run in puller.runs) > 1
               for puller in pullers if puller.limit is not None)
    assert pullers[-1].runs[0].reached < stored.added[late] <= pullers[-1].runs[-1].reached

    # Every pull run held exactly the registry's state at its cursor; the last holds it all.
    compared = 0
    for puller in pullers:
        compared += check_runs(puller.name, puller.inspector, puller.runs, puller.received,
                               stored)
        assert puller.runs[-1].reached == stored.counter
        received = {(op.doc, op.path, op.actor, op.seq, op.hlc) for op in puller.received
                    if isinstance(op, Op)}
        mine = states(puller.received)
        assert mine.keys() == stored.protocols.keys(), puller.name
        for doc, state in stored.protocols.items():
            winners = live(state)
            assert {(doc, path, actor, seq, hlc) for path, (hlc, actor, seq, _) in winners.items()
                    } <= received, f"{puller.name} never received a winner of {doc}"
            assert live(mine[doc]) == winners
            assert content_hash(mine[doc].materialize(FORM)) == content_hash(
                state.materialize(FORM))
            assert puller.vectors[doc] == state.vector
    done = time.monotonic()

    removed = sum(len(state.dead_rows()) for state in stored.protocols.values())
    print(f"\n{len(pushers)} pushers: {sum(p.pushes for p in pushers)} pushes, "
          f"{len(pushed)} ops in {len(stored.protocols)} protocols ({removed} removed rows at "
          f"the end); {len(pullers)} pullers: {sum(p.pages for p in pullers)} pages in "
          f"{sum(len(p.runs) for p in pullers)} runs, {sum(len(p.received) for p in pullers)} "
          f"ops received, {compared} protocol states checked against the registry at their "
          f"cursor; set-up {set_up - began:.1f} s, run {ran - set_up:.1f} s, "
          f"check {done - ran:.1f} s")


def _results(futures: list[Future[None]]) -> None:
    for future in futures:
        future.result()


def test_the_run_check_catches_a_skipped_change() -> None:
    """The checker has teeth: a run whose cursor claims a change it never delivered fails it,
    even when a later write covers the skipped value up in the final state."""
    clock = HybridLogicalClock()
    doc, row = str(uuid.uuid4()), str(uuid.uuid4())
    create = Op("a", 1, doc, "", {"_template": TEMPLATE, "_assignment": "x"}, clock.now())
    added = Op("b", 1, doc, f"instruments/{row}", {"type": "t", "serial": "1"}, clock.now())
    first = Op("a", 2, doc, "findings", "first", clock.now())
    second = Op("b", 2, doc, "findings", "second", clock.now())
    stored = Stored({}, [(create, 1), (added, 2), (first, 3), (second, 4)], {"i": 1}, 4)
    pulled = [create, *added_as_pulled(added), second]
    assert check_runs("honest", "i", [Run(2, 3), Run(4, 4)], pulled, stored) == 2
    with pytest.raises(pytest.fail.Exception, match="run 0 .* change 3"):
        # the same ops, but the first run claims change 3 without having brought ``first``
        # (``second`` covers the skip up by the end)
        check_runs("skipping", "i", [Run(3, 3), Run(4, 4)], pulled, stored)


def added_as_pulled(op: Op) -> list[Op]:
    """A whole-row op as a pull sends it: one op per field, each carrying the op's id."""
    return [Op(op.actor, op.seq, op.doc, f"{op.path}/{name}", value, op.hlc)
            for name, value in op.value.items()]


# --- pull runs that lose changes (found while writing the checker above) ----------------------


@dataclass
class Raw:
    """An enrolled device driven over raw HTTP: its own ops, and pulls of ``limit`` protocols."""

    device: Credentials
    url: str
    seq: int = 0
    clock: HybridLogicalClock = field(default_factory=HybridLogicalClock)

    def __post_init__(self) -> None:
        self.transport = HttpTransport(self.url)
        self.http = httpx.Client(base_url=self.url, timeout=30.0, headers={
            "Accept": "application/msgpack", "Authorization": f"Bearer {self.device.token}"})

    def close(self) -> None:
        self.transport.close()
        self.http.close()

    def push(self, doc: str, path: str, value: Any) -> None:
        self.seq += 1
        op = Op(self.device.device_id, self.seq, doc, path, value, self.clock.now())
        response = self.transport.push(self.device.token, PushRequest([op]))
        assert [result.status for result in response.results] == ["accepted"]

    def create(self, assignment: str) -> str:
        doc = str(uuid.uuid4())
        self.push(doc, "", {"_template": TEMPLATE, "_assignment": assignment})
        return doc

    def page(self, cursor: str, limit: int = 1) -> PullResponse:
        response = self.http.get("/v1/pull", params={"cursor": cursor, "limit": str(limit)})
        assert response.status_code == 200, response.text
        return msgspec.msgpack.decode(response.content, type=PullResponse)

    def to_end(self, cursor: str, docs: set[str]) -> str:
        """Finish the run that ``cursor`` is in; add the protocols it brought to ``docs``."""
        while True:
            page = self.page(cursor)
            docs |= {op.doc for op in page.changes}
            cursor = page.cursor
            if not page.more:
                return cursor


@pytest.mark.parametrize("run", ["first-run", "after-a-catch-up"])
def test_a_team_joined_during_a_paged_pull_brings_its_protocols(
    admin: AdminClient, server: LocalServer, run: str,
) -> None:
    """When the scope grows (docs/protocol/pull.md), the newly visible protocols arrive whole on the
    next pull. A team joined while a run is between pages, on a first run or after a catch-up
    finished, is left for the next run (the run's cursor stops at the memberships it began
    with), which then sends its protocols whole: none is lost."""
    suffix = secrets.token_hex(3)
    me, others = f"me-{suffix}", [f"other-{suffix}-{index}" for index in range(2)]
    mine, early, late = (f"{name}-{suffix}" for name in ("mine", "early", "late"))
    for inspector in (me, *others):
        admin.create_inspector(inspector, f"Inspector {inspector}")
    admin.put_assignment(Assignment(mine, "mine", (me,)))
    admin.put_assignment(Assignment(early, "joined before the run", (others[0],)))
    admin.put_assignment(Assignment(late, "joined during the run", (others[1],)))
    devices = [Raw(enroll_device(admin, server.url, name), server.url) for name in (me, *others)]
    try:
        device, first_other, second_other = devices
        early_docs = [first_other.create(early) for _ in range(2)]
        late_docs = [second_other.create(late) for _ in range(2)]
        for _ in range(3):
            device.create(mine)
        received: set[str] = set()
        cursor = ""
        if run == "after-a-catch-up":
            cursor = device.to_end("", received)
            for _ in range(3):
                device.create(mine)  # changes after the cursor: the run has several pages
            admin.put_assignment(Assignment(early, "joined before the run", (others[0], me)))
            for _ in range(2):  # the catch-up of ``early``, page by page, to ``~``
                caught_up = device.page(cursor)
                cursor = caught_up.cursor
                received |= {op.doc for op in caught_up.changes}
            assert cursor.endswith(".~") and set(early_docs) <= received
        page = device.page(cursor)
        assert page.more
        received |= {op.doc for op in page.changes}

        admin.put_assignment(Assignment(late, "joined during the run", (others[1], me)))
        cursor = device.to_end(page.cursor, received)
        device.create(mine)
        device.to_end(cursor, received)  # and the next run

        assert set(late_docs) <= received, "the protocols of the team joined during the run"
    finally:
        for raw in devices:
            raw.close()


def test_an_old_edit_of_a_removed_row_does_not_bring_it_back_on_a_new_tablet(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet],
) -> None:
    """A new tablet never received a removed row (a fresh pull leaves it out). An edit of it
    made offline *before* the removal still wins its own field when it arrives; the registry
    sends the row's tombstone along with it, so the row does not come back on the tablet. Here
    ``a`` edits a row offline, ``b`` removes it and syncs, a new tablet ``c`` makes its first
    sync, then ``a`` syncs."""
    assignment, (a, b) = team(admin, server, tmp_path, 2, opened)
    doc = a.create_protocol(TEMPLATE, assignment, {"number": "TR-7"})
    with a.edit(doc) as edit:
        row = edit.add_row("instruments", {"type": "scale", "serial": "SN-1"})
    assert a.sync().ok and b.sync().ok

    with a.edit(doc) as edit:  # offline, before the removal
        edit.update_row("instruments", row, {"serial": "SN-2"})
    time.sleep(0.05)  # b's removal is stamped later than a's edit
    with b.edit(doc) as edit:
        edit.remove_row("instruments", row)
    assert b.sync().ok

    newcomer = f"insp-new-{secrets.token_hex(3)}"
    admin.create_inspector(newcomer, "Inspector newcomer")
    team_ids = tuple(tablet.inspector.id for tablet in (a, b) if tablet.inspector is not None)
    admin.put_assignment(Assignment(assignment, "market scales", (*team_ids, newcomer)))
    c = Tablet(tmp_path / "newcomer.sqlite", PASSPHRASE)
    opened.append(c)
    c.enroll(admin.enrollment_code(newcomer), server.url)
    assert c.sync().ok
    assert row not in c.protocol(doc).collections.get("instruments", {})

    assert a.sync().ok  # the old edit arrives; the removal, later, still wins the row
    record = admin.protocol(doc)
    assert row not in record.protocol.collections.get("instruments", {})
    assert b.sync().ok
    assert a.content_hash(doc) == b.content_hash(doc) == record.content_hash

    assert c.sync().ok and c.sync().ok
    assert row not in c.protocol(doc).collections.get("instruments", {}), "a removed row is back"
    assert c.content_hash(doc) == record.content_hash


def test_a_row_removed_during_a_paged_first_pull_is_removed_on_the_device(
    admin: AdminClient, server: LocalServer,
) -> None:
    """On a device's first run every page sends its protocols whole, leaving removed rows out,
    tombstone and all. A protocol that changes after its page is sent whole again on a later
    page; were it merged into the copy from the first page, a row removed in between would stay
    alive on the device. A whole protocol replaces the copy (``PullResponse.replaced``)."""
    suffix = secrets.token_hex(3)
    assignment, writer_id, reader_id = (f"{name}-{suffix}" for name in ("a", "writer", "reader"))
    for inspector in (writer_id, reader_id):
        admin.create_inspector(inspector, f"Inspector {inspector}")
    admin.put_assignment(Assignment(assignment, "market scales", (writer_id, reader_id)))
    writer, reader = (Raw(enroll_device(admin, server.url, inspector), server.url)
                      for inspector in (writer_id, reader_id))
    try:
        first, row = writer.create(assignment), str(uuid.uuid4())
        writer.push(first, f"instruments/{row}", {"type": "scale", "serial": "SN-1"})
        writer.create(assignment)
        page = reader.page("")  # a fresh tablet's first page: the first protocol, row and all
        assert page.more and {op.doc for op in page.changes} == {first}
        held: dict[str, DocumentState] = {}
        take(held, page)

        writer.push(first, f"instruments/{row}/_deleted", True)
        cursor = page.cursor
        for _ in range(2):  # the rest of this run, then the next
            while True:
                page = reader.page(cursor)
                take(held, page)
                cursor = page.cursor
                if not page.more:
                    break

        assert row not in admin.protocol(first).protocol.collections.get("instruments", {})
        on_device = held[first].materialize(FORM)
        assert row not in on_device.collections.get("instruments", {}), "a removed row is back"
    finally:
        writer.close()
        reader.close()
