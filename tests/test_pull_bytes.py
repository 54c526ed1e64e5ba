"""Incremental pulls from stored bytes: a protocol created after a device's cursor goes as the
registry stores it, and what changed in a protocol the device holds is encoded once for the
whole team."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from client_lib import Tablet
from schemas import PullResponse
from schemas.packed import is_packed
from server.data.tables import ProtocolRow
from server.sync.changes import Cursor, pull
from tests.databases import dispose_database, fresh_database
from tests.inprocess import InProcessRegistry
from tests.live import PASSPHRASE, TEMPLATE

ASSIGNMENT = "asg-team"
TEAM = ("inspector-a", "inspector-b", "inspector-c")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[InProcessRegistry]:
    url = fresh_database(tmp_path / "registry")
    registry = InProcessRegistry(tmp_path / "registry", url)
    for inspector in TEAM:
        registry.add_inspector(inspector)
    registry.put_assignment(ASSIGNMENT, list(TEAM))
    yield registry
    registry.close()
    dispose_database(url)


@pytest.fixture
def tablets(registry: InProcessRegistry, tmp_path: Path) -> Iterator[list[Tablet]]:
    team = []
    for inspector in TEAM:
        tablet = Tablet(tmp_path / f"{inspector}.sqlite", PASSPHRASE,
                        transport=registry.transport)
        tablet.enroll(registry.enrollment_code(inspector), "https://registry.test")
        assert tablet.sync().ok
        team.append(tablet)
    yield team
    for tablet in team:
        tablet.close()


def _page(registry: InProcessRegistry, tablet: Tablet) -> PullResponse:
    """The page the registry sends ``tablet`` from its cursor (MessagePack, packed)."""
    inspector = tablet.inspector
    assert inspector is not None
    with registry.database.read() as session:
        return pull(session, registry.catalog, inspector.id,
                    Cursor.parse(tablet.store.get("cursor")), 500, registry.clock(), True,
                    stored=True, packed=True, deltas=registry.transport.deltas)


def _stored(registry: InProcessRegistry, protocol: str) -> bytes:
    with registry.database.read() as session:
        row = session.get(ProtocolRow, protocol)
        assert row is not None
        return bytes(row.registers)


def _filled(tablet: Tablet, number: str) -> str:
    protocol = tablet.create_protocol(TEMPLATE, ASSIGNMENT, {"number": number})
    with tablet.edit(protocol) as edit:
        edit.add_row("instruments", {"type": "scale", "serial": f"S-{number}"})
    return protocol


def test_a_protocol_created_after_a_teammates_cursor_goes_as_stored(
        registry: InProcessRegistry, tablets: list[Tablet]) -> None:
    """The teammate has never seen it: it goes whole, the very bytes the registry stores,
    not decoded and encoded again, and replaces nothing the teammate holds."""
    a, b, _ = tablets
    protocol = _filled(a, "N-1")
    assert a.push().ok
    page = _page(registry, b)
    assert protocol in page.replaced and page.changes == []
    stored = _stored(registry, protocol)
    assert is_packed(stored)
    assert bytes(msgspec.msgpack.encode(page.states[protocol])) == stored
    assert b.pull().ok and b.protocol(protocol) == registry.protocol(protocol)


def test_what_changed_in_a_protocol_is_encoded_once_for_the_team(
        registry: InProcessRegistry, tablets: list[Tablet]) -> None:
    """Two teammates pull an edit of a protocol they hold: each page carries the ops that
    changed, the same encoded ops for both (kept once), and each ends where the registry is."""
    a, b, c = tablets
    protocol = _filled(a, "N-1")
    assert a.push().ok and b.pull().ok and c.pull().ok
    with a.edit(protocol) as edit:
        edit.set("findings", "seen again")
        edit.set("number", "N-1a")
    assert a.push().ok
    for_b, for_c = _page(registry, b), _page(registry, c)
    assert for_b.replaced == for_c.replaced == [] and for_b.states == for_c.states == {}
    assert len(for_b.changes) == len(for_c.changes) == 2
    assert all(op is other for op, other in zip(for_b.changes, for_c.changes, strict=True))
    for tablet in (b, c):
        assert tablet.pull().ok and tablet.protocol(protocol) == registry.protocol(protocol)


def test_a_pull_after_a_finished_run_sends_nothing_again(registry: InProcessRegistry,
                                                         tablets: list[Tablet]) -> None:
    """A run's last cursor holds every change up to its base: the next pull sends none of the
    protocols of that last change again, and no reference data that did not change."""
    author, teammate, _ = tablets
    for number in ("N-1", "N-2"):
        author.create_protocol(TEMPLATE, ASSIGNMENT, {"number": number})
    assert author.sync().ok and teammate.pull().ok
    page = _page(registry, teammate)
    assert (page.changes, page.states, page.vectors, page.templates, page.assignments,
            page.sites, page.entities, page.instruments, page.team, page.more) == (
        [], {}, {}, [], [], [], [], [], [], False)
    assert page.cursor == teammate.store.get("cursor")
