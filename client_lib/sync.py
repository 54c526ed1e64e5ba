"""One sync: push the outbox, then pull the scope's changes.

With no network the sync ends early with ``offline`` set and everything kept for next time. Ops
the registry refuses as stamped in the future are re-stamped from the corrected clock, in their
order, and pushed again; every other refusal is kept on the tablet with its reason.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from client_lib.ahead import read_ahead
from client_lib.anchors import refresh_anchors
from client_lib.errors import Offline, RegistryRefused
from client_lib.store import DeviceStore, Filed, OutboxEntry
from client_lib.transport import Transport
from client_lib.uploads import UploadReport
from field_sync import DocumentState, HybridLogicalClock
from field_sync.freeze import covers
from field_sync.paths import FREEZE, SUPERSEDES
from schemas import PulledPage, PushRequest, PushResponse

__all__ = ["SyncReport", "Synchronizer"]

log = logging.getLogger("field_sync.client")

CLOCK_AHEAD = "clock_ahead"
UNKNOWN_PROTOCOL = "unknown_protocol"
PROTOCOL_SIGNED = "protocol_signed"
_MAX_RESTAMPS = 3
_ON_THE_WIRE = 2
"""Batches a push may have sent and not yet had answered."""
_FREEZE = FREEZE.encode()


@dataclass
class SyncReport:
    """What a sync did. ``offline`` is set when the registry could not be reached."""

    pushed: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    restamped: int = 0
    pulled: int = 0
    offline: bool = False
    error: str = ""
    uploads: UploadReport = field(default_factory=UploadReport)
    """The evidence files uploaded after the ops (``client_lib.uploads``)."""

    @property
    def ok(self) -> bool:
        """The registry was reached and everything went through."""
        return not self.offline and not self.error


_Answer = tuple[PushResponse, int, int]
"""A push's answer, and the wall clock just before sending and just after the answer."""
_Fetched = tuple[PulledPage, int, int]
"""A pull page, and the wall clock just before asking and just after the answer."""


_Sent = tuple[list[OutboxEntry], set[str] | None, Future[_Answer]]
"""A batch on the wire: its ops, the protocols they change (``_touched``), and its answer."""


def _touched(batch: list[OutboxEntry]) -> set[str] | None:
    """The protocols a batch's ops change; None for a batch that goes on the wire alone: one
    that signs a protocol (its registration takes the next registry number, and a correction's
    supersedes the protocol it corrects) or starts a correction (it needs the corrected protocol
    signed, and nothing superseding it yet)."""
    for entry in batch:
        op = entry.op
        if op.path == FREEZE or (op.path == "" and isinstance(op.value, dict)
                                 and SUPERSEDES in op.value):
            return None
    return {entry.op.doc for entry in batch}


def _may_join(touched: set[str] | None, in_flight: deque[_Sent]) -> bool:
    """Whether a batch changing ``touched`` may go while ``in_flight`` are on the wire: with no
    protocol in common, whichever the registry merges first, the outcome is the same."""
    return not in_flight or touched is not None and all(
        sent is not None and not touched & sent for _, sent, _ in in_flight)


def _next_cursor(fetched: _Fetched) -> str | None:
    """Where the page after a fetched one begins; ``None`` after the last."""
    page = fetched[0]
    return page.cursor if page.more else None


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Synchronizer:
    """Runs syncs for one tablet."""

    store: DeviceStore
    transport: Transport
    clock: HybridLogicalClock
    token: str
    batch_size: int = 500
    wall_ms: Callable[[], int] = _wall_ms

    def run(self, push: bool = True, pull: bool = True) -> SyncReport:
        """Push, then pull (or only one of them); never raises for a lost network."""
        report = SyncReport()
        try:
            if push:
                self._push_all(report)
            if pull:
                self._pull_all(report)
                refresh_anchors(self.store, self.transport)
        except Offline as exc:
            report.offline, report.error = True, str(exc)
            log.info("sync stopped, offline: %s", exc)
        except RegistryRefused as exc:
            report.error = str(exc)
            log.warning("sync refused by the registry: %s", exc)
        return report

    def _push_all(self, report: SyncReport) -> None:
        for _ in range(_MAX_RESTAMPS + 1):
            if not self._push_pending(report) or not self._restamp(report):
                return

    def _push_pending(self, report: SyncReport) -> bool:
        """Push the pending ops a batch a round trip; say whether any was refused for the clock.

        Two batches may be on the wire at once when they have no protocol in common
        (``_may_join``): the registry then merges one while the next comes in. A batch that
        shares a protocol with one on the wire waits for that one's answer, so a protocol's
        ops arrive in order, and one that signs or starts a correction goes alone. The tablet
        reads the next batch and records answers, in the order sent, while batches are on
        the wire. A batch whose answer never came stays pending (pushing it again is
        harmless)."""
        clock_refused = False
        with ThreadPoolExecutor(max_workers=_ON_THE_WIRE, thread_name_prefix="push") as wire:
            in_flight: deque[_Sent] = deque()
            batch = self._next_batch(after=0)
            touched = _touched(batch)
            while batch or in_flight:
                if batch and len(in_flight) < _ON_THE_WIRE and _may_join(touched, in_flight):
                    in_flight.append((batch, touched, wire.submit(self._send, batch)))
                    batch = self._next_batch(after=batch[-1].op.seq)
                    touched = _touched(batch)
                    continue
                sent, _, answer = in_flight.popleft()
                clock_refused |= self._settle(sent, answer.result(), report)
        return clock_refused

    def _next_batch(self, after: int) -> list[OutboxEntry]:
        """The pending ops after seq ``after``, ``batch_size`` of them, less those of the
        protocol they end in when its ops go on past them: that protocol starts the next batch,
        so that two batches in a row seldom share a protocol (a protocol bigger than a batch
        is still sent a batch at a time)."""
        if self.batch_size < 1:  # no limit
            return self.store.outbox("pending", after=after)
        entries = self.store.outbox("pending", limit=self.batch_size + 1, after=after)
        if len(entries) <= self.batch_size:
            return entries
        going_on = entries[self.batch_size].op.doc
        cut = self.batch_size
        while cut > 0 and entries[cut - 1].op.doc == going_on:
            cut -= 1
        return entries[:cut or self.batch_size]

    def _status(self, code: str, doc: str) -> str:
        """What an op refused with ``code`` becomes: ``pending`` to try again, or refused."""
        if code == UNKNOWN_PROTOCOL:
            # The creating op has not landed yet (pushes crossed): try again, unless the
            # registry refused the creating op itself, which leaves nothing to wait for.
            created = self.store.outbox(doc=doc, limit=1)
            if created and created[0].status != "rejected":
                return "pending"
        return "rejected"

    def _send(self, pending: list[OutboxEntry]) -> _Answer:
        sent = self.wall_ms()
        response = self.transport.push(self.token, PushRequest([entry.op for entry in pending]))
        return response, sent, self.wall_ms()

    def _settle(self, pending: list[OutboxEntry], answer: _Answer, report: SyncReport) -> bool:
        """Record the registry's answer to a batch; say whether it refused ops for the clock."""
        response, sent, received = answer
        self.clock.learn_offset(response.server_time_ms, sent, received)
        report.pushed += len(pending)
        settled = []
        docs = {entry.op.seq: entry.op.doc for entry in pending}
        for result in response.results:
            status = "accepted"
            if result.status == "rejected":
                status = self._status(result.code, docs[result.seq])
                report.rejected += status == "rejected" and result.code != CLOCK_AHEAD
            else:
                report.accepted += result.status == "accepted"
                report.duplicates += result.status == "duplicate"
            settled.append((result.seq, status, result.code, result.reason))
        with self.store.transaction() as db:
            DeviceStore.settle(db, settled)
            DeviceStore.put(db, "clock_offset", self.clock.offset_ms)
            self.store.learn_registry_time(db, response.registry_time)
        return any(result.code == CLOCK_AHEAD for result in response.results)

    def _settle_signed(self, db: Any, state: DocumentState) -> None:
        """Mark this tablet's merged ops that a signed protocol left out as refused (the
        registry holds them aside); unsent ones are pushed, and refused, as usual."""
        freeze = state.frozen
        if freeze is None:
            return
        left_out = [(entry.op.seq, "rejected", PROTOCOL_SIGNED, "the protocol was signed "
                     "without this change") for entry in self.store.outbox(doc=state.id)
                    if entry.status == "accepted" and not covers(freeze, entry.op)]
        DeviceStore.settle(db, left_out)

    def _restamp(self, report: SyncReport) -> bool:
        """Re-stamp the ops refused for the clock, in seq order; say whether there were any."""
        refused = [entry for entry in self.store.outbox("rejected") if entry.code == CLOCK_AHEAD]
        if not refused:
            return False
        # Never below a stamp the registry already holds, from anyone or from this tablet: a
        # re-stamped edit must still be later than the edits before it.
        self.clock.rewind(max(self.store.get("heard_hlc", 0),
                              self.store.highest_stamp("accepted")))
        stamps = [(entry.op.seq, self.clock.now()) for entry in refused]
        with self.store.transaction() as db:
            DeviceStore.restamp(db, stamps)
            DeviceStore.put(db, "hlc_last", self.clock.last)
        report.restamped += len(stamps)
        return True

    def _fetch(self, cursor: str) -> _Fetched:
        """One page, and the wall clock just before asking and just after the answer."""
        sent = self.wall_ms()
        page = self.transport.pull(self.token, cursor)
        return page, sent, self.wall_ms()

    def _pull_all(self, report: SyncReport) -> None:
        # The next page is asked for as soon as this one arrived, while the tablet stores the
        # ones before it (``read_ahead``). Only the stored cursor moves the tablet on, so a page
        # fetched and never stored (the sync cut off) is simply asked for again next time.
        with read_ahead(self._fetch, self.store.get("cursor", ""), _next_cursor,
                        name="pull-ahead") as pages:
            for page, sent, received in pages:
                self.clock.learn_offset(page.server_time_ms, sent, received)
                self._apply(page)
                report.pulled += page.registers

    def _apply(self, page: PulledPage) -> None:
        states: dict[str, DocumentState] = {
            doc: DocumentState(doc) for doc in page.replaced}  # signed: take the registry's copy
        as_sent, latest = _take_whole(page, states)
        heard = max(self.store.get("heard_hlc", 0), latest)
        for op in page.changes:
            state = states.get(op.doc)
            if state is None:
                state = states[op.doc] = self.store.base(op.doc) or DocumentState(op.doc)
            state.take(op)
            if op.hlc > heard:
                heard = op.hlc
        for doc, vector in page.vectors.items():
            state = states.get(doc)
            if state is not None and doc in page.replaced:
                state.vector = dict(vector)
            elif state is not None:
                state.vector = {actor: max(seq, state.vector.get(actor, 0))
                                for actor, seq in {**state.vector, **vector}.items()}
        self.clock.observe(heard)
        with self.store.transaction() as db:
            DeviceStore.save_bases(db, [*as_sent, *map(DeviceStore.filed, states.values())])
            for state in states.values():
                self._settle_signed(db, state)
            DeviceStore.save_templates(db, page.templates)
            DeviceStore.save_reference(db, "assignment", [(a.id, a) for a in page.assignments])
            DeviceStore.save_reference(db, "instrument", [(i.id, i) for i in page.instruments])
            DeviceStore.save_reference(db, "site", [(s.id, s) for s in page.sites])
            DeviceStore.save_reference(db, "entity", [(e.tin, e) for e in page.entities])
            DeviceStore.save_reference(db, "team_member", [(m.id, m) for m in page.team])
            if page.inspector is not None:
                DeviceStore.put(db, "inspector", page.inspector)
            for receipt in page.receipts:
                DeviceStore.put(db, f"receipt:{receipt.protocol_id}", receipt)
            for doc, reasons in page.quarantined.items():
                DeviceStore.put(db, f"quarantine:{doc}", reasons)
            DeviceStore.put(db, "cursor", page.cursor)
            DeviceStore.put(db, "heard_hlc", heard)
            DeviceStore.put(db, "hlc_last", self.clock.last)
            DeviceStore.put(db, "clock_offset", self.clock.offset_ms)
            self.store.learn_registry_time(db, page.registry_time)


def _take_whole(page: PulledPage, states: dict[str, DocumentState]) -> tuple[list[Filed], int]:
    """The protocols of ``page`` sent whole: those to store as the bytes that came, and the
    latest stamp among them all; the rest (signed, or from a registry that sends no heads) are
    read into ``states``."""
    as_sent: list[Filed] = []
    latest = 0
    for doc, raw in page.states.items():
        registers, head = bytes(raw), page.heads.get(doc)
        if head is not None and _FREEZE not in registers:
            # Kept unread: the registry stores them in the form the tablet does, and a tablet
            # taking a team's thousands of protocols reads each one only when it is opened. A
            # signed one is read, to settle this tablet's ops it left out.
            states.pop(doc, None)
            as_sent.append(DeviceStore.filed_as_sent(doc, head.template, head.assignment,
                                                     registers, page.vectors.get(doc, {})))
            latest = max(latest, head.latest_hlc)
            continue
        state = states[doc] = DocumentState(doc, DeviceStore.read_registers(registers))
        latest = max(latest, max((r.hlc for r in state.registers.values()), default=0))
    return as_sent, latest
