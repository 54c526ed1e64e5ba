"""The schema is made and upgraded by Alembic migrations, and they match the tables."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel, select

from field_sync import DocumentState, Register
from schemas import Op
from schemas.packed import is_packed, pack_registers, unpack_registers
from server import Database
from server.authority.audit import append, ops_digest, verify_chain
from server.authority.audit_anchor import current_checkpoint
from server.authority.keys import RegistryKeys
from server.data.catalog import TemplateCatalog
from server.data.schema import (
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from server.data.tables import (
    AssignmentMember,
    AssignmentRow,
    ChangeCounter,
    InspectorRow,
    UsedTotpStep,
)
from server.sync.changes import Cursor, pull
from server.sync.documents import encode_vector
from server.sync.oplog import logged_ops, pack, push_ops
from tests.databases import dispose_database, fresh_database

T = TypeVar("T")


def _diffs(database: Database) -> list[object]:
    with database.writer.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    url = fresh_database(tmp_path / "registry", migrated=False)
    yield url
    dispose_database(url)


def test_an_empty_database_is_upgraded_to_the_tables_the_code_declares(empty_url: str) -> None:
    database = Database(empty_url)
    assert current_revision(database.writer) is None
    database.create_schema()
    assert current_revision(database.writer) == head_revision()
    assert _diffs(database) == []  # a table changed without its migration fails here
    database.dispose()


def _indexes(database: Database, table: str) -> set[str | None]:
    return {index["name"] for index in inspect(database.writer).get_indexes(table)}


_BEFORE_PACKING = "0005"
"""The last revision with the op log one row an op (0006 packs it)."""
_BEFORE_STAMPS = "0006"
"""The last revision without each protocol's latest stamp (0007 keeps it)."""
_BEFORE_PACKED_REGISTERS = "0007"
"""The last revision with each protocol's registers flat (0008 packs them)."""
_BEFORE_POSITIONS = "0008"
"""The last revision without an inspector's position (0009 keeps it)."""
_BEFORE_CHECKPOINTS = "0009"
"""The last revision without the audit checkpoints' table (0010 makes it)."""
_BEFORE_EVIDENCE = "0010"
"""The last revision without evidence files (0011 keeps them)."""
_BEFORE_SIGNING_TIMES = "0012"
"""The last revision without each device's latest stamp and each signature's offline gap
(0013 keeps them)."""
_BEFORE_CREATED = "0013"
"""The last revision without each protocol's creating push (0014 keeps it)."""

# The op log as revision 0005 keeps it, one row an op: (seq, doc, push, value bytes).
_LOGGED = ((1, "doc", 3, b"\xa2ok"), (2, "doc", 3, b"\xc3"), (3, "other", 3, b"\x07"),
           (4, "doc", 5, b"\xc0"))


def _per_op_log(database: Database) -> list[tuple[object, ...]]:
    with database.writer.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT actor, seq, doc, path, value, hlc, changed FROM op_log ORDER BY seq"))]


def _fill_previous(database: Database) -> list[tuple[object, ...]]:
    """Logged ops of two protocols (and the audit entries of their pushes), and three
    protocols of one assignment; the op log as written."""
    with database.writer.begin() as connection:
        for seq, doc, changed, value in _LOGGED:
            connection.execute(text(
                "INSERT INTO op_log (actor, seq, doc, path, value, hlc, changed) "
                "VALUES ('tablet', :seq, :doc, 'findings', :value, 7, :changed)"),
                {"seq": seq, "doc": doc, "changed": changed, "value": value})
            connection.execute(text(
                "INSERT INTO protocol_push (doc, changed) VALUES (:doc, :changed) "
                "ON CONFLICT DO NOTHING"), {"doc": doc, "changed": changed})
    with Session(database.writer) as session:
        for push in (3, 5):
            logged = [("tablet", seq, doc, "findings", value, 7)
                      for seq, doc, changed, value in _LOGGED if changed == push]
            append(session, 1, "device:tablet", "push", "tablet",
                   {"ops_sha256": ops_digest(logged)}, push)
        session.commit()
    _fill_protocols(database)
    return _per_op_log(database)


_ROW_IDS = ("7d1f4a52-1c2b-4e5f-9a0b-3c4d5e6f7a8b", "0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e")
_ROWS = {f"instruments/{_ROW_IDS[0]}/serial": Register(3, "tablet", 2, "S-1"),
         f"instruments/{_ROW_IDS[1]}/type": Register(4, "other", 2, "scale"),
         f"instruments/{_ROW_IDS[0]}/type": Register(5, "tablet", 3, None),
         f"instruments/{_ROW_IDS[1]}/_deleted": Register(6, "tablet", 4, True)}
"""Rows of a protocol: fields written in different orders, one row without a serial, one
removed, a value cleared."""


def _fill_protocols(database: Database) -> dict[str, bytes]:
    """Three protocols of one assignment, written as any earlier revision's table takes them;
    the latest stamp of ``p1`` is 9, of the others 7; the registers as stored."""
    with Session(database.writer) as session:
        # as any earlier revision's table takes it: columns added since (position) left out
        session.execute(text("INSERT INTO inspector (id, full_name, region, suspended, "
                             "attested_until, created_at) VALUES ('i1', 'Inspector', '', "
                             ":no, '', :now)"), {"no": False, "now": datetime.now(UTC)})
        session.add(AssignmentRow(id="a1", title="Bakery scales", changed=1))
        session.add(ChangeCounter(id=1, value=5))
        session.commit()
        session.add(AssignmentMember(assignment_id="a1", inspector_id="i1", added=1))
        session.commit()
    with database.writer.begin() as connection:
        for doc, changed in (("p3", 4), ("p1", 5), ("p2", 4)):
            later = {"conclusion": Register(9, "other", 1, "fit")} if doc == "p1" else {}
            state = DocumentState(doc, {"findings": Register(7, "tablet", 1, "ok"), **later,
                                        **_ROWS}, {"tablet": 1})
            connection.execute(text(
                "INSERT INTO protocol (id, template_ref, assignment_id, registers, vector, "
                "changed, created_by, status, reasons, number, entity_tin, inspector_id, "
                "site_id, signed_at_ms, registry_number, superseded_by) VALUES (:id, 't@1', "
                "'a1', :registers, :vector, :changed, 'tablet', 'draft', '', '', '', '', '', 0, "
                "'', '')"), {"id": doc, "registers": msgspec.msgpack.encode(state.registers),
                             "vector": encode_vector(state), "changed": changed})
    return _stored_registers(database)


def _stored_registers(database: Database) -> dict[str, bytes]:
    with database.writer.connect() as connection:
        return {doc: bytes(registers) for doc, registers in connection.execute(text(
            "SELECT id, registers FROM protocol"))}


def _heads(database: Database) -> dict[str, tuple[str, str, int]]:
    """What a pull files each protocol under: template, assignment, latest stamp."""
    with database.read() as session:
        page = pull(session, TemplateCatalog(), "i1", Cursor(), 10, 0, as_states=True)
    return {doc: (head.template, head.assignment, head.latest_hlc)
            for doc, head in page.heads.items()}


def _pulled_pages(database: Database) -> list[list[str]]:
    pages, cursor = [], Cursor()
    with database.read() as session:
        while True:
            page = pull(session, TemplateCatalog(), "i1", cursor, 2, 0)
            pages.append(page.replaced)
            if not page.more:
                return pages
            cursor = Cursor.parse(page.cursor)


def _upgraded_from(url: str, previous: str,
                   fill: Callable[[Database], T]) -> tuple[Database, T]:
    """The database at ``url`` made at revision ``previous`` and filled by ``fill``, then
    upgraded to the newest; with what ``fill`` says it wrote."""
    old = Database(url)
    upgrade(old.writer, previous)
    before = fill(old)
    old.dispose()
    database = Database(url)
    database.create_schema()
    assert current_revision(database.writer) == head_revision() != previous
    return database, before


def test_a_database_with_the_op_log_an_op_a_row_keeps_its_data(empty_url: str) -> None:
    """From before the packed op log (0006): its logged ops, audit log and protocols stay. The
    op log, packed a row a push and protocol, holds every op with its value's bytes as they
    were, so the digests the audit log recorded still hold; a pull pages through the
    protocols; and a downgrade gives back the op log one row an op."""
    previous = _BEFORE_PACKING
    database, before = _upgraded_from(empty_url, previous, _fill_previous)
    with database.read() as session:
        found = [(op.seq, op.value) for op in logged_ops(session, "doc")]
        pushes = {changed: [op.seq for op in push_ops(session, changed)] for changed in (3, 5)}
        assert verify_chain(session) == (3, None)  # and the templates the upgrade installed
    assert found == [(1, "ok"), (2, True), (4, None)]
    assert {changed: sorted(seqs) for changed, seqs in pushes.items()} == {3: [1, 2, 3], 5: [4]}
    assert _pulled_pages(database) == [["p2", "p3"], ["p1"]]
    assert _heads(database)["p1"] == ("t@1", "a1", 9)
    assert "ix_op_log_actor_max_seq" in _indexes(database, "op_log")
    assert _diffs(database) == []

    downgrade(database.writer, previous)
    assert _per_op_log(database) == before
    database.dispose()


def test_a_database_without_the_latest_stamps_keeps_its_data(empty_url: str) -> None:
    """From before the latest stamps (0007): its protocols stay, and each gets the latest stamp
    among its registers, which a pull sends with it; a downgrade takes the column away again."""
    previous = _BEFORE_STAMPS
    database, _ = _upgraded_from(empty_url, previous, _fill_protocols)
    assert _heads(database) == {"p1": ("t@1", "a1", 9), "p2": ("t@1", "a1", 7),
                                "p3": ("t@1", "a1", 7)}
    assert _pulled_pages(database) == [["p2", "p3"], ["p1"]]
    assert _diffs(database) == []

    downgrade(database.writer, previous)
    columns = {column["name"] for column in inspect(database.writer).get_columns("protocol")}
    assert "latest_hlc" not in columns and "registers" in columns
    database.dispose()


def test_a_database_with_flat_registers_keeps_its_data(empty_url: str) -> None:
    """From before packed registers (0008): its protocols stay, their registers packed: each
    reads as the same registers, and a pull pages through them; a downgrade spreads them out
    again, flat, the same registers."""
    previous = _BEFORE_PACKED_REGISTERS
    database, flat = _upgraded_from(empty_url, previous, _fill_protocols)
    packed = _stored_registers(database)
    assert all(is_packed(registers) for registers in packed.values())
    assert {doc: unpack_registers(registers) for doc, registers in packed.items()} == {
        doc: msgspec.msgpack.decode(registers, type=dict[str, Register])
        for doc, registers in flat.items()}
    assert _pulled_pages(database) == [["p2", "p3"], ["p1"]]
    assert _diffs(database) == []

    downgrade(database.writer, previous)
    spread = _stored_registers(database)
    assert not any(is_packed(registers) for registers in spread.values())
    assert {doc: unpack_registers(registers) for doc, registers in spread.items()} == {
        doc: unpack_registers(registers) for doc, registers in flat.items()}
    database.dispose()


def test_a_database_without_evidence_files_keeps_its_data(empty_url: str) -> None:
    """From before evidence files (0011): the protocols stay as they were, and a protocol may
    then await its files (a status longer than the column took before); a downgrade turns one
    still awaiting them into a quarantined one, with the reason, and drops the file tables."""
    database, _ = _upgraded_from(empty_url, _BEFORE_EVIDENCE, _fill_protocols)
    with database.writer.begin() as connection:
        connection.execute(text("UPDATE protocol SET status = 'awaiting_evidence' "
                                "WHERE id = 'p1'"))
        connection.execute(text("INSERT INTO awaited_blob (protocol_id, sha256) "
                                "VALUES ('p1', :sha)"), {"sha": "a" * 64})
    assert _diffs(database) == []

    downgrade(database.writer, _BEFORE_EVIDENCE)
    with database.writer.connect() as connection:
        statuses = dict(connection.execute(text("SELECT id, status FROM protocol")).all())
        reasons = connection.execute(text("SELECT reasons FROM protocol WHERE id = 'p1'")).one()
    assert statuses == {"p1": "quarantined", "p2": "draft", "p3": "draft"}
    assert "awaiting evidence" in reasons[0]
    assert not {"blob", "awaited_blob"} & set(inspect(database.writer).get_table_names())
    database.dispose()


def test_a_database_without_positions_keeps_its_inspectors(empty_url: str) -> None:
    """From before an inspector's position (0009): inspectors stay, with no position."""
    database, _ = _upgraded_from(empty_url, _BEFORE_POSITIONS, _fill_protocols)
    with database.read() as session:
        inspector = session.get(InspectorRow, "i1")
    assert inspector is not None and (inspector.full_name, inspector.position) == ("Inspector", "")
    assert _diffs(database) == []
    downgrade(database.writer, _BEFORE_POSITIONS)
    columns = {column["name"] for column in inspect(database.writer).get_columns("inspector")}
    assert "position" not in columns and "full_name" in columns
    database.dispose()


def _fill_audit(database: Database) -> None:
    with Session(database.writer) as session:
        for seq in (1, 2):
            append(session, seq, "admin", "inspector", f"i{seq}", {}, seq)
        session.commit()


def test_a_database_without_checkpoints_keeps_its_audit_log(tmp_path: Path,
                                                            empty_url: str) -> None:
    """From before the audit checkpoints (0010): the audit log stays whole, and the registry's
    first checkpoint is of its head (the two entries, and the templates the upgrade installed);
    a downgrade takes the checkpoints' table away."""
    database, _ = _upgraded_from(empty_url, _BEFORE_CHECKPOINTS, _fill_audit)
    with database.read() as session:
        assert verify_chain(session) == (3, None)
    checkpoint = current_checkpoint(database, RegistryKeys.load(tmp_path), 1)
    assert checkpoint.seq == 3
    assert _diffs(database) == []

    downgrade(database.writer, _BEFORE_CHECKPOINTS)
    assert "audit_checkpoint" not in inspect(database.writer).get_table_names()
    database.dispose()


_BEFORE_CONSOLE = "0011"
"""The last revision without console accounts, sessions and regions (0012 adds them)."""


def _fill_reference(database: Database) -> None:
    """An entity, a site and a working standard, as reference rows were kept before labels."""
    records = {("entity", "301245678"): {"tin": "301245678", "name": "Oʻzbek UN Kombinati"},
               ("site", "s1"): {"id": "s1", "entity_tin": "301245678", "name": "Chorsu Bozori",
                                "lat": "41.3", "lon": "69.2", "radius_m": "100"},
               ("instrument", "w1"): {"id": "w1", "type": "Weights E2", "serial": "E2-0042",
                                      "verified_until": "2027-01-01"}}
    with database.writer.begin() as connection:
        for (kind, key), record in records.items():
            connection.execute(text(
                "INSERT INTO reference (kind, key, owner, body, changed) "
                "VALUES (:kind, :key, '', :body, 1)"),
                {"kind": kind, "key": key, "body": msgspec.msgpack.encode(record)})
    _fill_protocols(database)


def test_a_database_before_the_console_gets_labels_regions_and_its_tables(
        empty_url: str) -> None:
    """Reference records are labelled for search (casefolded), protocols have an empty region,
    the console's tables exist; a downgrade takes them away again."""
    database, _ = _upgraded_from(empty_url, _BEFORE_CONSOLE, _fill_reference)
    with database.writer.connect() as connection:
        labels = dict(connection.execute(text("SELECT key, label FROM reference")).all())
        regions = {row[0] for row in connection.execute(text("SELECT region FROM protocol"))}
    assert labels == {"301245678": "oʻzbek un kombinati", "s1": "chorsu bozori",
                      "w1": "weights e2 e2-0042"}
    assert regions == {""}
    assert {"account", "web_session", "staged_import"} <= set(inspect(database.writer)
                                                              .get_table_names())
    assert {"ix_protocol_region_signed_at_ms_id", "ix_protocol_signed_at_ms_id"} <= \
        _indexes(database, "protocol")
    assert _diffs(database) == []
    downgrade(database.writer, _BEFORE_CONSOLE)
    assert "account" not in inspect(database.writer).get_table_names()
    assert "ix_protocol_signed_at_ms" in _indexes(database, "protocol")
    database.dispose()


def _fill_signed(database: Database) -> None:
    """A device with logged ops in two pushes and one op held aside (its latest stamp, 300, on
    seq 2), and a registered, a quarantined and a draft protocol."""
    _fill_protocols(database)
    logged = {3: [Op("d1", 1, "p1", "findings", "a", 100), Op("d1", 2, "p1", "findings", "b", 300)],
              4: [Op("d1", 3, "p2", "findings", "c", 200)]}
    with database.writer.begin() as connection:
        connection.execute(text(
            "INSERT INTO device (id, inspector_id, name, public_key, token_hash, enrolled_at) "
            "VALUES ('d1', 'i1', '', 'pem', 'hash', :at)"), {"at": datetime.now(UTC)})
        for changed, ops in logged.items():
            connection.execute(text(
                "INSERT INTO op_log (doc, changed, actor, min_seq, max_seq, ops) VALUES "
                "(:doc, :changed, 'd1', :low, :high, :ops)"),
                {"doc": ops[0].doc, "changed": changed, "low": ops[0].seq, "high": ops[-1].seq,
                 "ops": pack(ops)})
        connection.execute(text(
            "INSERT INTO held_op (actor, seq, doc, path, value, hlc, code, changed) VALUES "
            "('d1', 5, 'p1', 'findings', :value, 250, 'protocol_signed', 5)"),
            {"value": b"\xa1x"})
        connection.execute(text("UPDATE protocol SET signed_at_ms = 1000, status = 'registered' "
                                "WHERE id = 'p1'"))
        connection.execute(text("UPDATE protocol SET signed_at_ms = 2000, status = "
                                "'quarantined' WHERE id = 'p2'"))
        connection.execute(text(
            "INSERT INTO receipt (protocol_id, registry_number, content_hash, seal_hash, seal, "
            "kid, registered_at_ms, signature, changed) VALUES ('p1', '2026-00000001', 'h', "
            "'s', 'seal', 'kid', 61000, 'sig', 5)"))
    with Session(database.writer) as session:
        append(session, 12_000, "device:d1", "quarantined", "p2", {"reasons": []}, 5)
        session.commit()


def test_a_database_without_signing_time_bounds_keeps_its_data(empty_url: str) -> None:
    """From before the signing-time bounds (0013): each device gets its latest stamp among its
    logged and held ops, with its seq, and each signed protocol its offline gap (from its
    receipt, or from the audit entry that quarantined it); a downgrade takes them away."""
    previous = _BEFORE_SIGNING_TIMES
    database, _ = _upgraded_from(empty_url, previous, _fill_signed)
    with database.writer.connect() as connection:
        devices = connection.execute(text(
            "SELECT id, latest_hlc, latest_hlc_seq FROM device")).all()
        gaps = dict(connection.execute(text("SELECT id, offline_gap_ms FROM protocol")).all())
    assert [tuple(row) for row in devices] == [("d1", 300, 2)]
    assert gaps == {"p1": 60_000, "p2": 10_000, "p3": None}
    assert _diffs(database) == []

    downgrade(database.writer, previous)
    assert "offline_gap_ms" not in {
        column["name"] for column in inspect(database.writer).get_columns("protocol")}
    assert "latest_hlc" not in {
        column["name"] for column in inspect(database.writer).get_columns("device")}
    database.dispose()


def test_db_upgrade_command(tmp_path: Path, empty_url: str) -> None:
    command = [sys.executable, "-m", "field_sync_cli.main", "db", "upgrade", "--data-dir",
               str(tmp_path), "--db", empty_url]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert f"at revision {head_revision()} (was empty)" in first.stdout
    assert f"(was {head_revision()})" in again.stdout
    assert "Running upgrade" in first.stderr and "Running" not in again.stderr  # each step shown


_CREATED_AFTER = f"{_ROW_IDS[0]}-made-after"
"""A protocol pushed after the upgrade, its registers stored with the number 0."""


def _fill_logged_protocols(database: Database) -> dict[str, bytes]:
    """The three protocols, ``p1`` created by push 3 and edited by push 5, ``p2`` created by
    push 4, ``p3`` with no logged ops (a row some other writer made); the registers stored."""
    stored = _fill_protocols(database)
    with database.writer.begin() as connection:
        for doc, changed in (("p1", 5), ("p1", 3), ("p2", 4)):
            connection.execute(text(
                "INSERT INTO op_log (doc, changed, actor, min_seq, max_seq, ops) VALUES "
                "(:doc, :changed, 'tablet', 1, 1, :ops)"),
                {"doc": doc, "changed": changed, "ops": b"\x91\x94\x01\xa1x\xc0\x07"})
    return stored


def test_a_database_without_the_creating_pushes_keeps_its_data(empty_url: str) -> None:
    """From before each protocol kept the push that created it (0014): each gets the first push
    that merged ops into it, read off the op log (0 for none), and keeps its registers as they
    are; a protocol created since, whose registers that won in that push are stored with the
    number 0, gets that number written back into them by a downgrade."""
    previous = _BEFORE_CREATED
    database, stored = _upgraded_from(empty_url, previous, _fill_logged_protocols)
    assert _stored_registers(database) == stored
    with database.writer.begin() as connection:
        assert dict(connection.execute(text("SELECT id, created FROM protocol")).all()) == {
            "p1": 3, "p2": 4, "p3": 0}
        made_after = DocumentState(_CREATED_AFTER, {**_ROWS, "number": Register(8, "tablet", 5,
                                                                                "N-1", 6)})
        connection.execute(text(
            "INSERT INTO protocol (id, template_ref, assignment_id, registers, vector, changed, "
            "created, created_by, status, reasons, number, entity_tin, inspector_id, site_id, "
            "signed_at_ms, registry_number, superseded_by) VALUES (:id, 't@1', 'a1', "
            ":registers, :vector, 6, 6, 'tablet', 'draft', '', '', '', '', '', 0, '', '')"),
            {"id": _CREATED_AFTER, "vector": encode_vector(made_after),
             "registers": pack_registers(made_after.registers)})
    assert _pulled_pages(database) == [["p2", "p3"], ["p1", _CREATED_AFTER]]
    assert _diffs(database) == []

    downgrade(database.writer, previous)
    renumbered = unpack_registers(_stored_registers(database)[_CREATED_AFTER])
    assert renumbered == {**{path: msgspec.structs.replace(register, changed=6)
                             for path, register in _ROWS.items()},
                          "number": Register(8, "tablet", 5, "N-1", 6)}
    columns = {column["name"] for column in inspect(database.writer).get_columns("protocol")}
    assert "created" not in columns


_BEFORE_WIDE_STEPS = "0014"
"""The last revision whose used one-time-code steps are 32-bit (0015 widens them)."""
_LAST_STEP = (2**63 - 1) // 30_000
"""The step of the latest signing time the wire carries (``schemas.bounds.Millis``)."""


def _fill_steps(database: Database) -> list[tuple[str, int]]:
    """An inspector's used steps, as a 32-bit column holds them."""
    _fill_protocols(database)
    used = [("i1", 59_666_666), ("i1", 2**31 - 1)]
    with database.writer.begin() as connection:
        for inspector, step in used:
            connection.execute(text("INSERT INTO used_totp_step (inspector_id, step) "
                                    "VALUES (:inspector, :step)"),
                               {"inspector": inspector, "step": step})
    return used


def test_used_steps_of_any_signing_time_are_kept(empty_url: str) -> None:
    """After the upgrade the steps used before are there, and the step of the latest signing
    time the wire carries is kept and read back as it was (a 32-bit column overflowed)."""
    database, used = _upgraded_from(empty_url, _BEFORE_WIDE_STEPS, _fill_steps)
    with database.write() as session:
        session.add(UsedTotpStep(inspector_id="i1", step=_LAST_STEP))
    with database.read() as session:
        steps = sorted(session.exec(select(UsedTotpStep.step)))
    assert steps == sorted([step for _, step in used] + [_LAST_STEP])
    assert _diffs(database) == []
    database.dispose()
