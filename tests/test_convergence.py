"""Convergence under faults: tablets of one team, the real registry in process, a bad network.

A random program drives 2-4 tablets (``client_lib.Tablet`` on their own SQLite files) that edit
1-2 shared protocols offline, sync through a network that loses answers, delivers twice, is
down, or lets a later request overtake an earlier one, while their wall clocks are hours off.
At the end every tablet syncs until nothing is pending, then once more, and then:

1. every tablet holds every protocol byte for byte as the registry does;
2. every op a tablet made is settled: accepted, or rejected with a code;
3. every accepted op is in the registry's op log once, and no op is lost: what the registry
   logged or held aside of a tablet is exactly what the tablet was told was accepted or
   ``protocol_signed``;
4. each field holds the value of its last write by ``(hlc, actor, seq)`` and each row is removed
   exactly when its last act was a removal (an oracle written here, not ``field_sync.merge``);
5. each tablet's stamps increase with its seq (its own later edit is never ordered before its
   earlier one);

and, when one tablet signed (froze) a protocol part way, the registry and every tablet hold
exactly the frozen state, and every op the freeze does not cover was refused ``protocol_signed``
and is kept in the registry's ``held_op``.

The registry is the server's own code on a real SQLite file, called in process
(``tests.inprocess``); time is simulated (``World``): the registry's clock, and each tablet's
wall clock is it plus a skew of up to three hours that changes as the program runs (the tablets
were enrolled with a right clock, so the offset they learned goes stale). UUIDs are seeded per
example, so an example replays the same. ``pytest --hypothesis-show-statistics`` shows how many
tablets, protocols, ops and faults the examples exercised.

Below the property: plain cases of the same faults, and the library bugs this suite found,
each as a small failing test.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings, target
from hypothesis import strategies as st

from client_lib import ProtocolSigned, Tablet
from client_lib.store import DeviceStore
from field_sync import canonical_bytes, content_hash
from field_sync.freeze import Freeze, covers
from field_sync.paths import DELETED, FREEZE, META_FIELDS
from schemas import Op, PushRequest
from tests.databases import copy_database, dispose_database, fresh_database
from tests.inprocess import (
    Duplicated,
    InProcessRegistry,
    Link,
    LostResponse,
    Partitioned,
    deliver_out_of_order,
    written,
)
from tests.strategies import (
    COLLECTIONS,
    METROLOGY,
    MINUTE_MS,
    clock_skews,
    row_values,
    top_field_sets,
)

TEMPLATE = METROLOGY.ref
ASSIGNMENT = "asg-market-scales"
PASSPHRASE = b"convergence test"
START_MS = 1_750_000_000_000
SIGNED = "protocol_signed"
FAULTS = ("none", "lost_response", "duplicated", "partitioned", "out_of_order")
COMPUTED = {
    collection.name: {spec.name for spec in collection.fields if spec.computed is not None}
    for collection in METROLOGY.collections
}
TOP_COMPUTED = {spec.name for spec in METROLOGY.fields if spec.computed is not None}


# -- the simulated field ---------------------------------------------------------------------


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder for one example: in memory (``/dev/shm``) where the system has one. The
    registry and the tablets still run on real SQLite files, with the same transactions and
    fsyncs; only the disk under them is faster."""
    shm = Path("/dev/shm")  # noqa: S108 -- a private TemporaryDirectory is made inside
    where = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="field-sync-convergence-", dir=where) as folder:
        yield Path(folder)


@contextmanager
def seeded_uuids(seed: int) -> Iterator[None]:
    """Make the UUIDs of devices, protocols and rows repeatable, so that an example (whose
    outcome depends on how device ids break ties) replays the same while Hypothesis shrinks."""
    rng = random.Random(seed)
    with mock.patch.object(uuid, "uuid4",
                           lambda: uuid.UUID(int=rng.getrandbits(128), version=4)):
        yield


class World:
    """Simulated time: the registry's clock. A tablet's wall clock is this plus its skew."""

    def __init__(self) -> None:
        self.now = START_MS

    def registry_ms(self) -> int:
        return self.now


@dataclass(repr=False)
class Device:
    """One tablet, its switchable link to the registry and how far its wall clock is off."""

    name: str
    link: Link
    world: World
    skew: int = 0
    tablet: Tablet = field(init=False)

    def __repr__(self) -> str:
        return self.name

    def wall_ms(self) -> int:
        return self.world.now + self.skew

    @property
    def id(self) -> str:
        return self.tablet.device_id


def enroll_team(folder: Path, size: int) -> str:
    """Make, in ``folder``, a registry and ``size`` enrolled, synced tablets whose inspectors
    share one assignment; everything is closed again, ready to be copied. Returns the
    registry's database."""
    world = World()
    url = fresh_database(folder)
    registry = InProcessRegistry(folder, url, clock=world.registry_ms)
    tablets: list[Tablet] = []
    try:
        inspectors = [f"inspector-{index}" for index in range(size)]
        for inspector in inspectors:
            registry.add_inspector(inspector)
        registry.put_assignment(ASSIGNMENT, inspectors)
        for inspector in inspectors:
            tablet = Tablet(folder / f"{inspector}.sqlite", PASSPHRASE,
                            transport=registry.transport, wall_ms=world.registry_ms)
            tablets.append(tablet)
            tablet.enroll(registry.enrollment_code(inspector))
        for tablet in tablets:
            assert tablet.sync().ok
    finally:
        for tablet in tablets:
            tablet.close()
        registry.close()
    return url


@dataclass(frozen=True)
class Team:
    """An enrolled team, closed: its tablets' folder and its registry's database."""

    folder: Path
    url: str


@pytest.fixture(scope="module")
def enrolled() -> Iterator[dict[int, Team]]:
    """Teams of 2, 3 and 4 enrolled tablets, made once: each example starts from a copy of one
    (enrolling makes keys and runs the whole enrollment, which would dominate every example)."""
    with scratch() as folder:
        teams = {}
        for size in (2, 3, 4):
            team_folder = folder / f"team-{size}"
            team_folder.mkdir()
            with seeded_uuids(size):
                teams[size] = Team(team_folder, enroll_team(team_folder, size))
        yield teams
        for team in teams.values():
            dispose_database(team.url)


@contextmanager
def field_team(enrolled: Team, folder: Path, world: World,
               signed_freezes: bool = False) -> Iterator[tuple[InProcessRegistry, list[Device]]]:
    """A copy of an enrolled team in ``folder``, opened: the registry and its tablets."""
    shutil.copytree(enrolled.folder, folder, dirs_exist_ok=True)
    url = copy_database(enrolled.url, folder)
    registry = InProcessRegistry(folder, url, clock=world.registry_ms,
                                 signed_freezes=signed_freezes)
    devices: list[Device] = []
    try:
        for path in sorted(folder.glob("inspector-*.sqlite")):
            device = Device(path.stem, Link(registry.transport), world)
            device.tablet = Tablet(path, PASSPHRASE, transport=device.link,
                                   wall_ms=device.wall_ms)
            devices.append(device)
        yield registry, devices
    finally:
        for device in devices:
            device.tablet.close()
        registry.close()
        dispose_database(url)


def known(tablet: Tablet) -> list[str]:
    """The protocols on a tablet."""
    return [doc for doc, _, _ in tablet.store.documents()]


def settle(devices: list[Device], rounds: int = 8) -> None:
    """Every tablet syncs, a round at a time, until nothing is pending; then all once more."""
    for _ in range(rounds):
        for device in devices:
            report = device.tablet.sync()
            assert report.ok, report
        if not any(device.tablet.pending() for device in devices):
            break
    else:
        raise AssertionError(f"ops still pending after {rounds} rounds: "
                             f"{[device.tablet.store.outbox('pending') for device in devices]}")
    for device in devices:
        report = device.tablet.sync()
        assert report.ok and report.pushed == 0, report


# -- the program -----------------------------------------------------------------------------


@dataclass
class Signing:
    """A freeze made on one tablet."""

    device: Device
    doc: str
    freeze: Freeze
    seq: int


@dataclass
class Program:
    """Draws and runs the steps of one example, and keeps what the checks need."""

    data: st.DataObject
    registry: InProcessRegistry
    devices: list[Device]
    world: World
    docs: list[str] = field(default_factory=list)
    signing: Signing | None = None
    faults: set[str] = field(default_factory=set)

    def draw(self, strategy: st.SearchStrategy[Any], label: str | None = None) -> Any:
        return self.data.draw(strategy, label=label)

    def device(self, among: list[Device] | None = None) -> Device:
        return self.draw(st.sampled_from(among or self.devices))

    def knowing(self) -> list[Device]:
        """The tablets that hold at least one protocol."""
        return [device for device in self.devices if known(device.tablet)]

    def create(self) -> None:
        creator = self.device()
        fields = dict(self.draw(st.lists(top_field_sets(clearing=False), max_size=2)))
        self.docs.append(creator.tablet.create_protocol(TEMPLATE, ASSIGNMENT, fields))

    def step(self, may_sign: bool) -> None:
        self.world.now += self.draw(st.one_of(st.integers(0, 2_000),
                                              st.sampled_from([MINUTE_MS, 10 * MINUTE_MS])))
        kinds = ["edit"] * 4 + ["sync"] * 3 + ["clock"] + (["sign"] * 2 if may_sign else [])
        getattr(self, self.draw(st.sampled_from(kinds)))()

    def edit(self) -> None:
        device = self.device(self.knowing())
        doc = self.draw(st.sampled_from(known(device.tablet)))
        try:
            editor = device.tablet.edit(doc)
        except ProtocolSigned:
            event("edit refused on the tablet: the protocol is signed")
            return
        live = device.tablet.protocol(doc).collections
        rows = sorted((collection, row) for collection, found in live.items() for row in found)
        for _ in range(self.draw(st.integers(1, 3))):
            kind = self.draw(st.sampled_from(["set", "set", "add_row", "update_row",
                                              "remove_row"]))
            if kind == "set":
                editor.set(*self.draw(top_field_sets()))
            elif kind == "add_row" or not rows:
                collection = self.draw(st.sampled_from(COLLECTIONS))
                row = editor.add_row(collection, self.draw(row_values(collection)))
                rows.append((collection, row))
            elif kind == "update_row":
                collection, row = self.draw(st.sampled_from(rows))
                editor.update_row(collection, row, self.draw(row_values(collection)))
            else:
                collection, row = self.draw(st.sampled_from(rows))
                editor.remove_row(collection, row)
        editor.save()

    def sync(self) -> None:
        device = self.device()
        fault = self.draw(st.sampled_from(FAULTS))
        self.faults.add(fault)
        if fault == "out_of_order":
            deliver_out_of_order(device.tablet, self.registry.transport)
            return
        wrappers: dict[str, Callable[[Any], Any] | None] = {
            "none": None, "lost_response": LostResponse, "duplicated": Duplicated,
            "partitioned": Partitioned,
        }
        with device.link.fault(wrappers[fault]):
            report = device.tablet.sync()
        assert report.offline or not report.error, report
        if report.restamped:
            event("ops re-stamped after clock_ahead")

    def clock(self) -> None:
        """The tablet's wall clock jumps (set by hand, a flat battery, a time zone mix-up)."""
        self.device().skew = self.draw(clock_skews())

    def sign(self) -> None:
        device = self.device(self.knowing())
        doc = self.draw(st.sampled_from(known(device.tablet)))
        freeze = device.tablet.freeze(doc)
        seq = device.tablet.store.outbox(doc=doc)[-1].op.seq
        self.signing = Signing(device, doc, freeze, seq)


# -- the oracle ------------------------------------------------------------------------------

Stamp = tuple[int, str, int]
Rows = dict[str, dict[str, dict[str, Any]]]


def expected_content(ops: list[Op]) -> tuple[dict[str, Any], Rows]:
    """Top-level fields and live rows (typed fields only) that ``ops`` make, by the merge rules
    (docs/protocol/merge.md) stated directly: a field holds its last write by ``(hlc, actor, seq)``
    (null: cleared), and a row is gone when its last act is a removal."""
    last: dict[tuple[str, str, str], tuple[Stamp, Any]] = {}
    last_act: dict[tuple[str, str], tuple[Stamp, bool]] = {}
    for op in ops:
        stamp = (op.hlc, op.actor, op.seq)
        parts = op.path.split("/")
        if op.path == FREEZE:
            continue
        if op.path == "":  # the protocol's root: its meta fields, and maybe first values
            writes = [(("", "", name), value) for name, value in op.value.items()
                      if name not in META_FIELDS]
        elif len(parts) == 1:
            writes = [(("", "", parts[0]), op.value)]
        elif len(parts) == 2:
            writes = [((parts[0], parts[1], name), value) for name, value in op.value.items()]
        else:
            writes = [((parts[0], parts[1], parts[2]), op.value)]
        for key, value in writes:
            if key[2] != DELETED and (key not in last or last[key][0] < stamp):
                last[key] = (stamp, value)
        if len(parts) > 1:
            row = (parts[0], parts[1])
            act = (stamp, parts[-1] == DELETED and op.value is True)
            last_act[row] = max(last_act.get(row, act), act)
    fields: dict[str, Any] = {}
    rows: Rows = {}
    for (collection, row, name), (_, value) in last.items():
        if value is None:
            continue
        if not collection:
            fields[name] = value
        elif not last_act[(collection, row)][1]:
            rows.setdefault(collection, {}).setdefault(row, {})[name] = value
    return fields, rows


def typed(collections: Rows) -> Rows:
    """Rows without their computed fields."""
    return {
        collection: {row: {name: value for name, value in values.items()
                           if name not in COMPUTED[collection]}
                     for row, values in found.items()}
        for collection, found in collections.items()
    }


# -- the checks ------------------------------------------------------------------------------


def check_converged(program: Program) -> None:
    registry, devices = program.registry, program.devices
    docs = registry.protocol_ids()
    assert docs == set(program.docs)
    log, held = registry.op_log(), registry.held()
    log_ids = [op.id for op in log]
    held_ids = [op.id for op, _ in held]
    assert len(log_ids) == len(set(log_ids)) and len(held_ids) == len(set(held_ids))
    logged = {op.id: op for op in log}

    for device in devices:
        tablet = device.tablet
        # (1) byte for byte what the registry holds
        assert set(known(tablet)) == docs
        for doc in docs:
            assert canonical_bytes(tablet.protocol(doc)) == canonical_bytes(
                registry.protocol(doc)), f"tablet {device.id} differs from the registry on {doc}"
        # (2) everything settled
        outbox = tablet.store.outbox()
        for entry in outbox:
            assert entry.status in ("accepted", "rejected"), entry
            assert entry.status == "accepted" or entry.code, entry
            if entry.status == "rejected":
                event(f"rejected at the end: {entry.code}")
        # (3) no duplicates, nothing lost
        told = {entry.op.seq for entry in outbox
                if entry.status == "accepted" or entry.code == SIGNED}
        kept = {seq for actor, seq in [*log_ids, *held_ids] if actor == device.id}
        assert kept == told, f"tablet {device.id}: registry has {kept}, tablet was told {told}"
        for entry in outbox:
            if entry.status == "accepted":
                assert logged[entry.op.id] == entry.op
        # (5) a tablet's own edits stay in the order it made them
        stamps = [entry.op.hlc for entry in outbox]
        assert all(a < b for a, b in pairwise(stamps)), (
            f"tablet {device.id}: stamps out of seq order {stamps}")

    # (4) the last write wins each field, the last act each row
    for doc in docs:
        accepted = [entry.op for device in devices
                    for entry in device.tablet.store.outbox(doc=doc) if entry.status == "accepted"]
        fields, rows = expected_content(accepted)
        protocol = registry.protocol(doc)
        assert {name: value for name, value in protocol.fields.items()
                if name not in TOP_COMPUTED} == fields
        assert typed(protocol.collections) == rows

    # (6) the latest stamp kept with each protocol covers its registers, and every tablet's
    # clock has heard every stamp the registry holds (its next edit is later than all); from
    # pages without heads (an earlier registry) every stamp of what it holds: a protocol taken
    # whole leaves out the rows removed before, which it never edits
    latest = 0
    for doc in docs:
        state = registry.state(doc)
        stamps = [register.hlc for register in state.registers.values()]
        assert registry.latest_hlc(doc) >= max(stamps), f"{doc}: a register after its stamp"
        dead = {f"{collection}/{row}/" for collection, row in state.dead_rows()}
        held = stamps if registry.transport.heads else [
            register.hlc for path, register in state.registers.items()
            if path.count("/") != 2 or path[:path.rindex("/") + 1] not in dead]
        latest = max(latest, *held)
    for device in devices:
        assert device.tablet.store.get("heard_hlc", 0) >= latest, f"tablet {device.id}"


def check_signing(program: Program) -> None:
    signing = program.signing
    if signing is None:
        return
    registry, doc, freeze = program.registry, signing.doc, signing.freeze
    (entry,) = [entry for entry in signing.device.tablet.store.outbox(doc=doc)
                if entry.op.seq == signing.seq]
    if entry.status == "rejected":
        event(f"freeze refused: {entry.code}")
        assert registry.state(doc).frozen is None
        return
    event("freeze registered")
    assert registry.state(doc).frozen == freeze
    assert content_hash(registry.protocol(doc)) == freeze.content_hash
    for device in program.devices:
        assert device.tablet.content_hash(doc) == freeze.content_hash
    held = {op.id: code for op, code in registry.held()}
    later = 0
    for device in program.devices:
        for entry in device.tablet.store.outbox(doc=doc):
            # A covered op that reached the registry only after the freeze (overtaken by a
            # later one of its tablet) is kept aside like any later op: see
            # test_a_signed_protocol_keeps_its_signed_state_when_an_overtaken_op_arrives.
            if covers(freeze, entry.op) and entry.op.id not in held:
                assert entry.status == "accepted", entry
            else:
                later += 1
                assert (entry.status, entry.code) == ("rejected", SIGNED), entry
                assert held.get(entry.op.id) == SIGNED, entry
    if later:
        event("ops after the freeze were held aside")


# -- the property ----------------------------------------------------------------------------


def bucket(count: int) -> str:
    for top in (10, 20, 40, 80):
        if count < top:
            return f"<{top}"
    return ">=80"


# Shrinking a failing program of this size takes minutes (Hypothesis gives up after five), so it
# is off unless asked for: FIELD_SYNC_SHRINK=1. A failure prints every labelled draw either way.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate]
if os.environ.get("FIELD_SYNC_SHRINK"):
    PHASES.append(Phase.shrink)


@settings(max_examples=80, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_tablets_and_registry_converge_whatever_the_network_does(
    enrolled: dict[int, Team], data: st.DataObject,
) -> None:
    size = data.draw(st.integers(2, 4), label="tablets")
    protocols = data.draw(st.integers(1, 2), label="protocols")
    steps = data.draw(st.integers(1, 30), label="steps")
    sign_after = data.draw(st.none() | st.integers(0, steps - 1), label="freeze from step")
    world = World()
    with seeded_uuids(size * 100 + steps), scratch() as folder, \
            field_team(enrolled[size], folder, world) as (registry, devices):
        for device in devices:  # out in the field, the clocks are off
            device.skew = data.draw(clock_skews(), label="skew")
        # Protocols sent whole come as their registers, packed (as client_lib asks) or flat (as
        # a tablet of an earlier release asks), kept as the bytes that came or, from a registry
        # that does not say how to file them, read; or as ops (as an older or other-language
        # client asks): all must converge.
        whole = data.draw(st.sampled_from(["states", "flat states", "states without heads",
                                           "ops"]), label="whole protocols as")
        registry.transport.states = whole != "ops"
        registry.transport.heads = whole in ("states", "flat states")
        registry.transport.packed = whole != "flat states"
        program = Program(data, registry, devices, world)
        for _ in range(protocols):
            program.create()
        for index in range(steps):
            program.step(may_sign=sign_after is not None and index >= sign_after
                         and program.signing is None)
        settle(devices)

        ops = sum(len(device.tablet.store.outbox()) for device in devices)
        event(f"tablets: {size}")
        event(f"protocols: {protocols}")
        event(f"ops per example: {bucket(ops)}")
        for fault in sorted(program.faults):
            event(f"fault: {fault}")
        event("signed" if program.signing else "not signed")
        target(float(ops), label="ops per example")
        target(float(len(program.faults)), label="kinds of fault per example")

        check_converged(program)
        check_signing(program)


# -- plain cases -----------------------------------------------------------------------------


@contextmanager
def two_tablets(enrolled: dict[int, Team]) -> Iterator[tuple[InProcessRegistry, Device, Device]]:
    world = World()
    with seeded_uuids(7), scratch() as folder, field_team(enrolled[2], folder, world) as (
            registry, devices):
        yield registry, devices[0], devices[1]


def fill(tablet: Tablet, doc: str) -> None:
    with tablet.edit(doc) as edit:
        scale = edit.add_row("instruments", {"type": "scale", "serial": "SN-1"})
        edit.set("findings", "seals intact")
        edit.add_row("measurements", {"instrument": scale, "nominal": "5.000",
                                      "indication": "5.004", "mpe": "0.005"})


def test_a_push_whose_answer_is_lost_is_retried_without_duplicates(
    enrolled: dict[int, Team],
) -> None:
    with two_tablets(enrolled) as (registry, a, b):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-LOST"})
        fill(a.tablet, doc)
        made = a.tablet.pending()
        with a.link.fault(LostResponse):
            report = a.tablet.sync()
        assert report.offline
        assert a.tablet.pending() == made  # the tablet cannot know the push landed
        assert len(registry.op_log()) == made  # but it did

        report = a.tablet.sync()
        assert report.ok and (report.accepted, report.duplicates) == (0, made)
        assert a.tablet.pending() == 0 and not a.tablet.rejections()
        ids = [op.id for op in registry.op_log()]
        assert len(ids) == len(set(ids)) == made
        assert b.tablet.sync().ok
        assert (canonical_bytes(a.tablet.protocol(doc)) == canonical_bytes(b.tablet.protocol(doc))
                == canonical_bytes(registry.protocol(doc)))


def test_the_same_batch_twice_changes_nothing(enrolled: dict[int, Team]) -> None:
    with two_tablets(enrolled) as (registry, a, b):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-TWICE"})
        fill(a.tablet, doc)
        batch = PushRequest([entry.op for entry in a.tablet.store.outbox("pending")])
        token = a.tablet.store.get("token")
        first = registry.transport.push(token, batch)
        assert {result.status for result in first.results} == {"accepted"}
        assert b.tablet.sync().ok
        state, log = registry.state(doc), registry.op_log()
        cursor = b.tablet.store.get("cursor")

        second = registry.transport.push(token, batch)
        assert [(r.seq, r.status) for r in second.results] == [
            (op.seq, "duplicate") for op in batch.ops]
        after = registry.state(doc)
        assert (after.registers, after.vector) == (state.registers, state.vector)
        assert registry.op_log() == log and registry.held() == []
        nothing_new = registry.transport.pull(b.tablet.store.get("token"), cursor)
        assert (nothing_new.changes, nothing_new.states) == ([], {})

        # and through the tablet, every push delivered twice
        with a.tablet.edit(doc) as edit:
            edit.set("conclusion", "compliant")
        with a.link.fault(Duplicated):
            report = a.tablet.sync()
        assert report.ok and report.duplicates == len(batch.ops) + 1
        assert len(registry.op_log()) == len(batch.ops) + 1


def test_pushes_arriving_out_of_order_converge_after_the_next_sync(
    enrolled: dict[int, Team],
) -> None:
    with two_tablets(enrolled) as (registry, a, b):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-ORDER"})
        fill(a.tablet, doc)
        pending = [entry.op for entry in a.tablet.store.outbox("pending")]
        token = a.tablet.store.get("token")
        # the later ops overtake the one that creates the protocol
        early = registry.transport.push(token, PushRequest(pending[1:]))
        assert {result.code for result in early.results} == {"unknown_protocol"}
        assert registry.protocol_ids() == set()

        # the later half of edits to a protocol the registry knows overtakes the earlier half
        registry.transport.push(token, PushRequest(pending[:1]))
        with a.tablet.edit(doc) as edit:
            edit.set("conclusion", "non_compliant")
            edit.set("prescription", "recalibrate")
            edit.set("findings", "one seal broken")
            edit.set("conclusion", "compliant")
        assert deliver_out_of_order(a.tablet, registry.transport) > 0

        report = a.tablet.sync()
        assert report.ok and report.rejected == 0 and a.tablet.pending() == 0
        assert b.tablet.sync().ok
        protocol = registry.protocol(doc)
        assert protocol.fields["conclusion"] == "compliant"
        assert protocol.fields["findings"] == "one seal broken"
        assert (canonical_bytes(a.tablet.protocol(doc)) == canonical_bytes(b.tablet.protocol(doc))
                == canonical_bytes(protocol))
        ids = [op.id for op in registry.op_log()]
        assert len(ids) == len(set(ids)) == len(a.tablet.store.outbox())


def test_a_registry_that_requires_signatures_refuses_an_unsigned_freeze(
    enrolled: dict[int, Team],
) -> None:
    """The in-process registry checks freezes as ``serve`` does when asked to."""
    world = World()
    with seeded_uuids(8), scratch() as folder, field_team(
            enrolled[2], folder, world, signed_freezes=True) as (registry, (a, _)):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-UNSIGNED"})
        a.tablet.freeze(doc)
        assert a.tablet.sync().rejected == 1
        (refused,) = a.tablet.rejections()
        assert (refused.op.path, refused.code) == (FREEZE, "unsigned")
        assert registry.state(doc).frozen is None
        with a.tablet.edit(doc) as edit:  # a refused freeze leaves the protocol open
            edit.set("findings", "still editable")
        assert a.tablet.sync().ok


# -- library bugs this suite found: these fail until the library is fixed ---------------------


def test_a_re_stamped_edit_still_wins_over_the_same_tablets_earlier_edit(
    enrolled: dict[int, Team],
) -> None:
    """The clock (docs/protocol/clock.md): refused future stamps are re-stamped in their order, and
    stamps of one device strictly increase. A tablet whose clock runs 10 minutes fast edits a
    field twice, 8 minutes apart, offline. At the sync the first edit is 2 minutes ahead of
    the registry (accepted), the second 10 (refused ``clock_ahead``). The re-stamp rewinds the
    clock to the registry's time, below the first edit's stamp, so the inspector's own later
    edit loses to the earlier one, on the registry and on every tablet."""
    with two_tablets(enrolled) as (registry, a, b):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-FAST"})
        assert a.tablet.sync().ok
        a.skew = 10 * MINUTE_MS  # set wrong after the last sync: the learned offset is stale
        with a.tablet.edit(doc) as edit:
            edit.set("findings", "first reading")
        a.world.now += 8 * MINUTE_MS
        with a.tablet.edit(doc) as edit:
            edit.set("findings", "corrected reading")
        report = a.tablet.sync()
        assert report.ok and report.restamped == 1 and report.rejected == 0
        assert b.tablet.sync().ok

        assert registry.protocol(doc).fields["findings"] == "corrected reading"
        assert b.tablet.protocol(doc).fields["findings"] == "corrected reading"
        stamps = [entry.op.hlc for entry in a.tablet.store.outbox()]
        assert stamps == sorted(stamps), "the re-stamped edit sorts before an earlier one"


@pytest.mark.parametrize(("heads", "packed"), [(True, True), (True, False), (False, True)],
                         ids=["kept as sent", "kept as sent flat", "read"])
def test_a_tablet_that_takes_a_protocol_whole_stamps_its_edits_after_it(
    enrolled: dict[int, Team], heads: bool, packed: bool,
) -> None:
    """A protocol taken whole, kept as the bytes that came (the registry says how to file it),
    packed or flat, or read (a registry of an earlier release does not say), moves the tablet's
    clock past every stamp in it: an edit made after taking it wins, though the stamps in it
    run ahead of the tablet's clock."""
    with two_tablets(enrolled) as (registry, a, b):
        registry.transport.heads, registry.transport.packed = heads, packed
        a.skew = 4 * MINUTE_MS  # ahead, within what the registry accepts
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-AHEAD"})
        with a.tablet.edit(doc) as edit:
            edit.set("findings", "from the tablet that runs fast")
        assert a.tablet.sync().ok
        with b.tablet.store.transaction() as db:  # pull everything anew, as a new tablet does
            DeviceStore.put(db, "cursor", "")
        assert b.tablet.sync().ok
        held, taken = registry.state(doc), b.tablet.store.base(doc)
        # The registry's change numbers a register carries are the registry's alone: a tablet
        # keeps whatever came (0 for the push that created the protocol, packed as stored).
        assert taken is not None and (written(taken.registers), taken.vector) == (
            written(held.registers), held.vector)
        assert b.tablet.store.get("heard_hlc") == max(r.hlc for r in held.registers.values())
        with b.tablet.edit(doc) as edit:
            edit.set("findings", "seen and corrected")
        assert b.tablet.sync().ok and a.tablet.sync().ok

        assert registry.protocol(doc).fields["findings"] == "seen and corrected"
        assert a.tablet.protocol(doc).fields["findings"] == "seen and corrected"


def test_a_signed_protocol_keeps_its_signed_state_when_an_overtaken_op_arrives(
    enrolled: dict[int, Team],
) -> None:
    """Signing freezes (docs/protocol/signing.md): the registry's copy of a signed protocol is
    exactly the signed state. B edits two fields; the request with the later op overtakes the one
    with the earlier op. A pulls (vector ``{B: 2}``), sees only the later edit and freezes. When B's
    earlier op arrives, the freeze's vector "covers" it (seq 1 <= 2), so the registry merges it into
    the signed protocol: its content no longer has the signed hash, anywhere."""
    with two_tablets(enrolled) as (registry, a, b):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-OVERTAKEN"})
        assert a.tablet.sync().ok and b.tablet.sync().ok
        with b.tablet.edit(doc) as edit:
            edit.set("findings", "written first, delivered last")
        with b.tablet.edit(doc) as edit:
            edit.set("prescription", "written last, delivered first")
        assert deliver_out_of_order(b.tablet, registry.transport) == 1
        assert a.tablet.sync().ok
        assert "findings" not in a.tablet.protocol(doc).fields
        freeze = a.tablet.freeze(doc)
        assert a.tablet.sync().ok and a.tablet.store.outbox()[-1].status == "accepted"

        settle([a, b])
        assert registry.state(doc).frozen == freeze
        assert content_hash(registry.protocol(doc)) == freeze.content_hash, (
            "the signed protocol changed after signing: "
            f"{registry.protocol(doc).fields}")
        assert a.tablet.content_hash(doc) == b.tablet.content_hash(doc) == freeze.content_hash


def test_a_competing_signature_is_kept_aside_not_lost(enrolled: dict[int, Team]) -> None:
    """An op on a signed protocol that its freeze does not cover is kept aside, answered
    protocol_signed, shown on the device and in the registry's audit, and lost nowhere
    (docs/protocol/signing.md). Two tablets sign the same protocol offline. The second freeze is
    answered ``protocol_signed`` but kept nowhere: not in ``held_op``, not in the op log (``covers``
    counts every freeze op as covered, so ingest never holds it)."""
    with two_tablets(enrolled) as (registry, a, b):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-TWICE-SIGNED"})
        assert a.tablet.sync().ok and b.tablet.sync().ok
        first = a.tablet.freeze(doc)
        b.tablet.freeze(doc)
        settle([a, b])
        assert registry.state(doc).frozen == first
        (refused,) = b.tablet.rejections()
        assert (refused.op.path, refused.code) == (FREEZE, SIGNED)
        held = {op.id: code for op, code in registry.held()}
        assert held.get(refused.op.id) == SIGNED, f"B's signature is not kept: held_op = {held}"


def test_a_row_removed_before_signing_stays_removed_on_the_tablet_that_added_it(
    enrolled: dict[int, Team],
) -> None:
    """Every replica holds the signed state (docs/protocol/signing.md). A adds a row; B removes it
    and signs. A pulls the signed protocol whole (``replaced``), and a whole protocol leaves removed
    rows out, tombstones and all (``DocumentState.changes_since(full=True)``). A's view is that base
    plus A's own ops that were not refused and that the freeze covers (``Tablet._state``), so A's
    accepted op that added the row brings it back, on A only: the inspector sees a row the signed
    protocol does not have, and a different content hash."""
    with two_tablets(enrolled) as (registry, a, b):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-REMOVED"})
        with a.tablet.edit(doc) as edit:
            row = edit.add_row("instruments", {"type": "scale", "serial": "SN-7"})
        assert a.tablet.sync().ok and b.tablet.sync().ok
        with b.tablet.edit(doc) as edit:
            edit.remove_row("instruments", row)
        assert b.tablet.sync().ok and a.tablet.sync().ok
        assert a.tablet.protocol(doc).collections == {}
        freeze = b.tablet.freeze(doc)
        assert b.tablet.sync().ok and a.tablet.sync().ok

        assert content_hash(registry.protocol(doc)) == freeze.content_hash
        assert b.tablet.content_hash(doc) == freeze.content_hash
        assert a.tablet.protocol(doc).collections == {}, "the removed row is back on A"
        assert a.tablet.content_hash(doc) == freeze.content_hash


def test_a_row_removed_while_a_tablet_was_off_the_team_is_removed_when_it_rejoins(
    enrolled: dict[int, Team],
) -> None:
    """When the scope grows (docs/protocol/pull.md), the newly visible protocols arrive in full. The
    same cause as the test above, reached without signing: A adds a row and is taken off the
    team; B removes the row; A is put back and receives the protocol whole, without the removed
    row's tombstone; A's own accepted op that added the row is laid over it and the row is back
    on A, unlike on the registry and B."""
    with two_tablets(enrolled) as (registry, a, b):
        doc = a.tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": "TR-REJOIN"})
        with a.tablet.edit(doc) as edit:
            row = edit.add_row("instruments", {"type": "scale", "serial": "SN-8"})
        assert a.tablet.sync().ok and b.tablet.sync().ok
        registry.put_assignment(ASSIGNMENT, ["inspector-1"])
        with b.tablet.edit(doc) as edit:
            edit.remove_row("instruments", row)
        assert b.tablet.sync().ok and a.tablet.sync().ok
        registry.put_assignment(ASSIGNMENT, ["inspector-0", "inspector-1"])
        assert a.tablet.sync().ok and b.tablet.sync().ok

        assert registry.protocol(doc).collections == b.tablet.protocol(doc).collections == {}
        assert a.tablet.protocol(doc).collections == {}, "the removed row is still on A"
