"""The inspector-facing tablet API against a real registry process."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import msgspec
import pytest

from client_lib import ClientError, NotEnrolled, Tablet, UnknownProtocol
from client_lib.store import _SCHEMA, DeviceStore
from field_sync import InvalidOperation, Register, physical_ms
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment
from tests.live import PASSPHRASE, TEMPLATE, team

HOUR_MS = 3600 * 1000


def test_a_fresh_tablet_knows_the_built_in_templates_but_cannot_fill_before_enrolling(
    tmp_path: Path,
) -> None:
    tablet = Tablet(tmp_path / "new.sqlite", PASSPHRASE)
    assert {t.ref for t in tablet.templates()} >= {TEMPLATE, "sampling_act@1"}
    with pytest.raises(NotEnrolled):
        tablet.create_protocol(TEMPLATE, "anything")
    with pytest.raises(NotEnrolled):
        tablet.sync()
    tablet.close()


def test_saved_edits_survive_closing_the_file(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    protocol = tablet.create_protocol(TEMPLATE, assignment, {"number": "TR-9"})
    with tablet.edit(protocol) as edit:
        row = edit.add_row("instruments", {"type": "water_meter", "serial": "WM-1"})
        edit.set("findings", "Muvofiq")
    before = tablet.protocol(protocol)
    path = tablet.store.path
    tablet.close()
    opened.clear()

    reopened = Tablet(path, PASSPHRASE)
    opened.append(reopened)
    assert reopened.protocol(protocol) == before
    assert before.collections["instruments"][row]["serial"] == "WM-1"
    assert reopened.pending() == 3  # the creating op (with the number), the row, the findings


def test_a_refused_value_stages_nothing_and_an_interrupted_edit_saves_nothing(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    protocol = tablet.create_protocol(TEMPLATE, assignment)
    editor = tablet.edit(protocol)
    with pytest.raises(InvalidOperation) as refused:
        editor.set("conclusion", "maybe")
    assert refused.value.code == "bad_value"
    with pytest.raises(InvalidOperation):
        editor.add_row("measurements", {"error": "0.1"})
    assert editor.staged == 0

    with pytest.raises(RuntimeError), tablet.edit(protocol) as edit:
        edit.set("findings", "half typed")
        raise RuntimeError("the app crashed mid-edit")
    assert "findings" not in tablet.protocol(protocol).fields
    assert tablet.pending() == 1


def test_unknown_assignment_and_protocol_are_clear_errors(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    _, (tablet,) = team(admin, server, tmp_path, 1, opened)
    with pytest.raises(ClientError, match="not given to this inspector"):
        tablet.create_protocol(TEMPLATE, "someone-elses-assignment")
    with pytest.raises(UnknownProtocol):
        tablet.protocol("00000000-0000-4000-8000-000000000000")


@pytest.mark.parametrize("skew_ms", [3 * HOUR_MS, -3 * HOUR_MS])
def test_a_tablet_with_a_wrong_clock_still_lands_every_edit(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet], skew_ms: int
) -> None:
    assignment, (good,) = team(admin, server, tmp_path, 1, opened)
    assert good.inspector is not None
    skewed_id = f"{good.inspector.id}-skewed"
    admin.create_inspector(skewed_id, "Inspector with a wrong clock")
    admin.put_assignment(Assignment(assignment, "scales", (good.inspector.id, skewed_id)))
    skewed = Tablet(tmp_path / "skewed.sqlite", PASSPHRASE,
                    wall_ms=lambda: time.time_ns() // 1_000_000 + skew_ms)
    opened.append(skewed)
    skewed.enroll(admin.enrollment_code(skewed_id), server.url)
    assert skewed.sync().ok
    # The offset learned at that sync is lost, as after a reboot: edits carry the wrong time.
    skewed.clock.offset_ms = 0

    protocol = skewed.create_protocol(TEMPLATE, assignment, {"number": "TR-SKEW"})
    with skewed.edit(protocol) as edit:
        edit.set("findings", "first")
    with skewed.edit(protocol) as edit:
        edit.set("findings", "second, and last")
    report = skewed.sync()
    assert report.ok and report.rejected == 0
    assert report.restamped == (3 if skew_ms > 0 else 0)
    assert skewed.pending() == 0 and not skewed.rejections()

    record = admin.protocol(protocol)
    assert record.protocol.fields["findings"] == "second, and last"
    stamps = [entry.op.hlc for entry in skewed.store.outbox()]
    assert stamps == sorted(stamps)  # re-stamping kept the order of the edits
    if skew_ms > 0:  # the refused stamps were replaced by ones near the registry's time
        now = time.time_ns() // 1_000_000
        assert all(abs(physical_ms(stamp) - now) < HOUR_MS for stamp in stamps)


def test_the_meta_fields_are_given_once_at_creation(
    admin: AdminClient, server: LocalServer, tmp_path: Path, opened: list[Tablet]
) -> None:
    assignment, (tablet,) = team(admin, server, tmp_path, 1, opened)
    with pytest.raises(InvalidOperation) as refused:
        tablet.create_protocol(TEMPLATE, assignment, {"number": "TR-1", "_assignment": "other"})
    assert refused.value.code == "bad_path"
    protocol = tablet.create_protocol(TEMPLATE, assignment, {"number": "TR-1"})
    with tablet.edit(protocol) as edit:
        for path, value in (("", {"findings": "x"}), ("_assignment", "other"),
                            ("_supersedes", protocol)):
            with pytest.raises(InvalidOperation) as refused:
                edit.set(path, value)
            assert refused.value.code == "bad_path"
        assert edit.staged == 0
    assert tablet.pending() == 1 and tablet.protocol(protocol).fields["number"] == "TR-1"


def test_a_tablet_file_of_an_earlier_release_keeps_its_pages_and_its_protocols(
        tmp_path: Path) -> None:
    """A new file takes 16 KB pages (a pulled protocol's registers fill a 4 KB page alone); a
    file made with 4 KB pages opens as it is, flat registers and all."""
    registers = {"findings": Register(7, "tablet", 1, "ok")}
    with sqlite3.connect(tmp_path / "old.sqlite") as old:
        old.execute("PRAGMA journal_mode=WAL")
        old.executescript(_SCHEMA)
        old.execute("INSERT INTO document VALUES ('doc', 't@1', 'a1', ?, ?)",
                    (msgspec.msgpack.encode(registers), msgspec.msgpack.encode({"tablet": 1})))
    old.close()
    for name, page_size in (("old.sqlite", 4096), ("new.sqlite", 16384)):
        store = DeviceStore(tmp_path / name)
        assert store._db.execute("PRAGMA page_size").fetchone() == (page_size,)
        store.close()
    store = DeviceStore(tmp_path / "old.sqlite")
    base = store.base("doc")
    store.close()
    assert base is not None and (base.registers, base.vector) == (registers, {"tablet": 1})
