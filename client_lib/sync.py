"""One sync: push the outbox, then pull the scope's changes.

With no network the sync ends early with ``offline`` set and everything kept for next time. Ops
the registry refuses as stamped in the future are re-stamped from the corrected clock, in their
order, and pushed again; every other refusal is kept on the tablet with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgspec

from client_lib.errors import Offline, RegistryRefused
from client_lib.store import DeviceStore, OutboxEntry
from client_lib.transport import Transport
from field_sync import DocumentState, HybridLogicalClock
from field_sync.freeze import covers
from field_sync.verify import trust_list_is_signed
from schemas import PullResponse, PushRequest

__all__ = ["SyncReport", "Synchronizer"]

log = logging.getLogger("field_sync.client")

CLOCK_AHEAD = "clock_ahead"
UNKNOWN_PROTOCOL = "unknown_protocol"
PROTOCOL_SIGNED = "protocol_signed"
_MAX_RESTAMPS = 3


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

    @property
    def ok(self) -> bool:
        """The registry was reached and everything went through."""
        return not self.offline and not self.error


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
                self._refresh_trust_list()
        except Offline as exc:
            report.offline, report.error = True, str(exc)
            log.info("sync stopped, offline: %s", exc)
        except RegistryRefused as exc:
            report.error = str(exc)
            log.warning("sync refused by the registry: %s", exc)
        return report

    def _push_all(self, report: SyncReport) -> None:
        for _ in range(_MAX_RESTAMPS + 1):
            clock_refused, after = False, 0
            while pending := self.store.outbox("pending", limit=self.batch_size, after=after):
                clock_refused |= self._push(pending, report)
                after = pending[-1].op.seq
            if not clock_refused or not self._restamp(report):
                return

    def _status(self, code: str, doc: str) -> str:
        """What an op refused with ``code`` becomes: ``pending`` to try again, or refused."""
        if code == UNKNOWN_PROTOCOL:
            # The creating op has not landed yet (pushes crossed): try again, unless the
            # registry refused the creating op itself, which leaves nothing to wait for.
            created = self.store.outbox(doc=doc, limit=1)
            if created and created[0].status != "rejected":
                return "pending"
        return "rejected"

    def _push(self, pending: list[OutboxEntry], report: SyncReport) -> bool:
        sent = self.wall_ms()
        response = self.transport.push(self.token, PushRequest([entry.op for entry in pending]))
        self.clock.learn_offset(response.server_time_ms, sent, self.wall_ms())
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

    def _refresh_trust_list(self) -> None:
        """Cache the registry's trust list, for checking seals offline; keep the old one if
        the new one's signature does not verify against the registry key seen first."""
        fresh = self.transport.trust_list()
        if self.store.get("trust_list") == msgspec.to_builtins(fresh):
            return  # unchanged: checked and kept already
        pinned = self.store.get("registry_key") or fresh.registry_key
        if not trust_list_is_signed(fresh, pinned):
            log.warning("ignoring a trust list not signed by the registry key")
            return
        with self.store.transaction() as db:
            DeviceStore.put(db, "registry_key", pinned)
            DeviceStore.put(db, "trust_list", fresh)

    def _fetch(self, cursor: str) -> tuple[PullResponse, int, int]:
        """One page, and the wall clock just before asking and just after the answer."""
        sent = self.wall_ms()
        page = self.transport.pull(self.token, cursor)
        return page, sent, self.wall_ms()

    def _pull_all(self, report: SyncReport) -> None:
        # The next page is asked for while this one is stored: the registry makes it while
        # the tablet writes. Only the stored cursor moves the tablet on, so a page fetched
        # and never stored (the sync cut off) is simply asked for again next time.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull-ahead") as ahead:
            coming: Future[tuple[PullResponse, int, int]] | None = ahead.submit(
                self._fetch, self.store.get("cursor", ""))
            while coming is not None:
                page, sent, received = coming.result()
                coming = ahead.submit(self._fetch, page.cursor) if page.more else None
                self.clock.learn_offset(page.server_time_ms, sent, received)
                self._apply(page)
                report.pulled += len(page.changes)

    def _apply(self, page: PullResponse) -> None:
        states: dict[str, DocumentState] = {
            doc: DocumentState(doc) for doc in page.replaced}  # signed: take the registry's copy
        heard = self.store.get("heard_hlc", 0)
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
            for state in states.values():
                DeviceStore.save_base(db, state)
                self._settle_signed(db, state)
            DeviceStore.save_templates(db, page.templates)
            DeviceStore.save_reference(db, "assignment", [(a.id, a) for a in page.assignments])
            DeviceStore.save_reference(db, "instrument", [(i.id, i) for i in page.instruments])
            DeviceStore.save_reference(db, "site", [(s.id, s) for s in page.sites])
            DeviceStore.save_reference(db, "entity", [(e.tin, e) for e in page.entities])
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
