"""Evidence files at the registry: which files a protocol names, which have arrived, and the
registration of a signed protocol once the last of its files has.

A signed protocol whose signature and rules hold is registered at once when the registry
holds every file it names; otherwise it is ``awaiting_evidence``, with a row in
``awaited_blob`` for each missing file, and registered (receipt, registry number, a correction
superseding what it corrects) by the upload that brings the last one. Both sides of that race
take the change-number lock first, so a freeze and its last file arriving together never leave
a protocol waiting for a file the registry has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec
from sqlmodel import Session, col, delete, select

from field_sync.evidence import attachments_of
from field_sync.paths import SUPERSEDES
from schemas import Protocol, Template
from schemas.reference import Site
from server.api.problems import BadRequest, NotFound, TooLarge
from server.authority.audit import append as audit
from server.authority.keys import RegistryKeys
from server.config import ServerConfig
from server.data.catalog import TemplateCatalog
from server.data.database import Database
from server.data.tables import AssignmentRow, AwaitedBlobRow, BlobRow, ProtocolRow, ReferenceRow
from server.services.reach import Reach
from server.signing.corrections import supersede_corrected
from server.signing.signatures import issue_receipt
from server.sync.documents import decode_state
from server.sync.scope import assignments_in_scope

__all__ = ["AWAITING_EVIDENCE", "Arrived", "Declared", "await_files", "check_hash",
           "check_limits", "declared_file", "file_arrived", "held", "missing_files", "site_of"]

AWAITING_EVIDENCE = "awaiting_evidence"
"""The status of a signed protocol whose files have not all arrived."""
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Arrived:
    """A file that came whole and checked, and who brought it."""

    sha256: str
    size: int
    media_type: str
    device_id: str


@dataclass(frozen=True)
class Declared:
    """A file as the protocol naming it declares it, and whether the registry holds it."""

    sha256: str
    size: int
    media_type: str
    held: bool
    protocol_bytes: int
    """What all the protocol's files take together."""


def check_hash(sha256: str) -> None:
    """400 unless ``sha256`` names a file as the wire does: its SHA-256 in lower-case hex."""
    if not _SHA256.fullmatch(sha256):
        raise BadRequest("bad_hash", "a file is named by its SHA-256 in lower-case hex")


def declared_file(database: Database, catalog: TemplateCatalog, reader: str | Reach,
                  protocol_id: str, sha256: str) -> Declared:
    """The file ``sha256`` as protocol ``protocol_id`` names it, for ``reader``: the inspector
    of a device (who reaches the protocols of their scope) or the reach of the administrator or
    a supervisor (a supervisor's may be limited to regions); 404 when the protocol is out of
    reach or names no such file."""
    with database.read() as session:
        row = session.get(ProtocolRow, protocol_id)
        if isinstance(reader, Reach):
            row = reader.protocol(row, protocol_id)
        elif row is None or row.assignment_id not in assignments_in_scope(session, reader):
            # out of scope looks the same as absent: ids are not to be probed
            raise NotFound("unknown_protocol", f"no protocol {protocol_id!r} in your reach")
        template = catalog.get(session, row.template_ref)
        assert template is not None  # a stored protocol's template is never removed
        files = {attachment.sha256: attachment for _, attachment in
                 attachments_of(template, decode_state(row).materialize(template))}
        named = files.get(sha256)
        if named is None:
            raise NotFound("unknown_attachment", f"protocol {protocol_id} names no file {sha256}")
        is_held = session.get(BlobRow, sha256) is not None
    return Declared(sha256, named.size, named.media_type, is_held,
                    sum(attachment.size for attachment in files.values()))


def check_limits(config: ServerConfig, declared: Declared) -> None:
    """413 when the file, or the protocol's files together, are larger than the registry
    takes."""
    if declared.size > config.max_blob_bytes:
        raise TooLarge("blob_too_large", f"a file of {declared.size} bytes; this registry takes "
                       f"files of at most {config.max_blob_bytes}")
    if declared.protocol_bytes > config.max_protocol_blob_bytes:
        raise TooLarge("protocol_evidence_too_large",
                       f"the protocol's files take {declared.protocol_bytes} bytes; this "
                       f"registry takes at most {config.max_protocol_blob_bytes} a protocol")


def site_of(session: Session, assignment_id: str) -> Site | None:
    """The site of an assignment, as the registry's reference data has it."""
    assignment = session.get(AssignmentRow, assignment_id)
    site = session.get(ReferenceRow, ("site", assignment.site_id)) \
        if assignment is not None and assignment.site_id else None
    return None if site is None else msgspec.msgpack.decode(site.body, type=Site)


def held(session: Session, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` the registry holds."""
    wanted = sorted(set(hashes))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(session.exec(select(BlobRow.sha256).where(
            col(BlobRow.sha256).in_(wanted[start:start + 500]))))
    return found


def missing_files(session: Session, template: Template, protocol: Protocol) -> set[str]:
    """The files ``protocol`` names that the registry does not hold."""
    named = {attachment.sha256 for _, attachment in attachments_of(template, protocol)}
    return named - held(session, named) if named else set()


def await_files(session: Session, protocol_id: str, hashes: Iterable[str]) -> None:
    """Record that a signed protocol waits for these files."""
    for sha256 in sorted(set(hashes)):
        session.add(AwaitedBlobRow(protocol_id=protocol_id, sha256=sha256))


def file_arrived(database: Database, keys: RegistryKeys, arrived: Arrived,
                 now_ms: int) -> list[str]:
    """Record a file the blob store now keeps; register every protocol that waited for it
    alone. Returns the protocols registered."""
    registered: list[str] = []
    with database.write() as session:
        changed = Database.next_change(session)  # before anything is read: see the module
        if session.get(BlobRow, arrived.sha256) is not None:
            return registered
        session.add(BlobRow(sha256=arrived.sha256, size=arrived.size,
                            media_type=arrived.media_type, received_at_ms=now_ms,
                            device_id=arrived.device_id))
        waiting = list(session.exec(select(AwaitedBlobRow.protocol_id).where(
            AwaitedBlobRow.sha256 == arrived.sha256)))
        if not waiting:
            return registered
        session.exec(delete(AwaitedBlobRow).where(
            col(AwaitedBlobRow.sha256) == arrived.sha256))
        still = set(session.exec(select(AwaitedBlobRow.protocol_id).where(
            col(AwaitedBlobRow.protocol_id).in_(waiting))))
        for protocol_id in sorted(set(waiting) - still):
            if _register(session, keys, protocol_id, now_ms, changed,
                         f"device:{arrived.device_id}"):
                registered.append(protocol_id)
    return registered


def _register(session: Session, keys: RegistryKeys, protocol_id: str, now_ms: int,
              changed: int, actor: str) -> bool:
    """Register a protocol whose last file arrived (as ingest would have, had they all been
    there when its signature came)."""
    row = session.get(ProtocolRow, protocol_id)
    if row is None or row.status != AWAITING_EVIDENCE:
        return False  # annulled while it waited, say
    state = decode_state(row)
    freeze = state.frozen
    assert freeze is not None and freeze.signed is not None  # it waited once signed
    receipt = issue_receipt(session, keys, freeze, now_ms, changed)
    row.status, row.registry_number, row.changed = "registered", receipt.registry_number, changed
    session.add(row)
    audit(session, now_ms, actor, "registered", protocol_id,
          {"reasons": [], "registry_number": receipt.registry_number, "evidence": "arrived"},
          changed)
    corrected = state.value(SUPERSEDES)
    if isinstance(corrected, str) and corrected:
        supersede_corrected(session, corrected, protocol_id, changed, now_ms, actor)
    return True

