"""What supervisors review: the dashboard, the quarantine queue (newest first, by rule) and the
audit log (by actor, action and protocol, with the chain's integrity). Within the reader's
reach."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template
from sqlmodel import Session

from field_sync.registry_pin import RegistryPin
from schemas.signing import AuditCheckpoint
from server.api.parameters import KeyQuery, LogQuery
from server.authority.audit import AuditBreak, verify_chain
from server.authority.audit_anchor import check_checkpoint, newest_checkpoint
from server.console.auth import current_account, signed_in
from server.console.pages import console_page, language, message
from server.console.svg import bars, stacked_columns
from server.data.clock import now_ms
from server.data.names import inspector_names
from server.data.queries import STATUSES, TASHKENT, Filters, query
from server.registry import Registry
from server.services.audit_log import MAX_SEQ, AuditFilters, audit_page
from server.services.dashboard import DAY_MS, dashboard
from server.web import MESSAGES

__all__ = ["ReviewPages"]

PAGE_SIZE = 50


class ReviewPages(Controller):
    """Supervisors and administrators."""

    path = "/console"
    guards = [signed_in]

    @get("/", sync_to_thread=True)
    def home(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
             days: FromQuery[int] = 14, quiet: FromQuery[int] = 7,
             gap: FromQuery[int] = 3) -> Template:
        """The dashboard."""
        lang, reach = language(request), current_account(request).reach
        days, quiet, gap = min(max(days, 1), 90), min(max(quiet, 1), 365), min(max(gap, 1), 365)
        with registry.database.read() as session:
            figures = dashboard(session, reach, now_ms(), days, quiet, gap)
        day_starts = [figures.first_day_ms + index * DAY_MS for index in range(figures.days)]
        columns = [(_axis_day(start), figures.per_day.get(start, {}))
                   for start in day_starts]
        statuses = [status for status in STATUSES
                    if any(status in counts for counts in figures.per_day.values())]
        return console_page(request, registry, "dashboard.html", {
            "figures": figures, "days": days, "quiet_days": quiet, "gap_days": gap,
            "rows": [(_day(start), figures.per_day.get(start, {})) for start in day_starts],
            "statuses": statuses,
            "per_day_chart": stacked_columns(columns, statuses, MESSAGES.text(
                lang, "console.dashboard.per_day_title", days=days)),
            "rule_labels": _rule_labels(lang, figures.by_rule),
            "rule_chart": bars([(message(lang, f"console.rule.{code}"), count)
                                for code, count in figures.by_rule.items()], MESSAGES.text(
                lang, "console.dashboard.by_rule_title")) if figures.by_rule else ""},
            section="dashboard")

    @get("/quarantine", sync_to_thread=True)
    def quarantine(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                   rule: KeyQuery = "", after: KeyQuery = "") -> Template:
        """Quarantined protocols with their reasons, newest first, by rule."""
        reach = current_account(request).reach
        with registry.database.read() as session:
            page = query(session, Filters(status="quarantined", rule=rule, reach=reach),
                         after, PAGE_SIZE, "newest")
            rules = dashboard(session, reach, now_ms(), 1).by_rule
            inspectors = inspector_names(session, (p.inspector_id for p in page.protocols))
        return console_page(request, registry, "quarantine.html", {
            "page": page, "rule": rule, "rules": rules, "after": after, "inspectors": inspectors,
            "rule_labels": _rule_labels(language(request), rules)}, section="quarantine")

    @get("/audit", sync_to_thread=True)
    def audit(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
              actor: LogQuery = "", action: LogQuery = "", subject: LogQuery = "",
              before: FromQuery[int] = 0,
              check: FromQuery[bool] = False) -> Template:
        """The audit log, newest first; with ``check``, the whole chain verified."""
        reach = current_account(request).reach
        filters = AuditFilters(actor.strip(), action.strip(), subject.strip())
        first = min(before, MAX_SEQ) if before > 0 else MAX_SEQ
        with registry.database.read() as session:
            entries = audit_page(session, filters, reach, before=first, limit=PAGE_SIZE + 1)
            checkpoint = newest_checkpoint(session)
            integrity = _integrity(session, registry, checkpoint) \
                if check and reach.regions is None else None
        more = len(entries) > PAGE_SIZE
        return console_page(request, registry, "audit.html", {
            "entries": entries[:PAGE_SIZE], "filters": filters,
            "next_before": entries[PAGE_SIZE - 1].seq if more else 0, "before": before,
            "integrity": integrity, "checkpoint": checkpoint,
            "may_check": reach.regions is None}, section="audit")


def _integrity(session: Session, registry: Registry,
               checkpoint: AuditCheckpoint | None) -> tuple[int, AuditBreak | None]:
    """The chain recomputed, and then held against the newest checkpoint the registry signed
    (so that newest entries cut off show): entries checked, and the first break."""
    checked, broken = verify_chain(session)
    if broken is None and checkpoint is not None:
        keys = registry.keys  # any of the registry's keys: pinned to its first, hand-overs on
        broken = check_checkpoint(session, checkpoint, RegistryPin.of_key(keys.first_public_pem),
                                  keys.handovers)
    return checked, broken


def _rule_labels(lang: str, codes: Iterable[str]) -> dict[str, str]:
    """Each broken rule's code in words (the code itself where the catalog has none)."""
    return {code: message(lang, f"console.rule.{code}") for code in codes}


def _day(start_ms: int) -> dt.date:
    """The agency's day that starts at ``start_ms``."""
    return dt.datetime.fromtimestamp(start_ms / 1000, TASHKENT).date()


def _axis_day(start_ms: int) -> str:
    """A day on a chart's axis, as its day and month (``20.11``)."""
    return _day(start_ms).strftime("%d.%m")
